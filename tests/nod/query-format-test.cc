// Human units, aligned tables, RFC 4180 CSV and JSON of a report.
#include <gtest/gtest.h>

#include <limits>

#include "common/error.hh"
#include "common/json-writer.hh"
#include "format/human.hh"
#include "format/report-wire.hh"
#include "format/report.hh"
#include "format/table.hh"

using namespace nixmon::nod::format;
using nixmon::Error;
using nixmon::JsonWriter;

TEST(Human, Bytes) {
  EXPECT_EQ(bytes(0), "0 B");
  EXPECT_EQ(bytes(1023), "1023 B");
  EXPECT_EQ(bytes(1024), "1.0 KiB");
  EXPECT_EQ(bytes(1288490189), "1.2 GiB");
  EXPECT_EQ(bytes(1048575), "1.0 MiB");  // not "1024.0 KiB"
  EXPECT_EQ(bytes(5.5 * 1024 * 1024 * 1024 * 1024), "5.5 TiB");
}

TEST(Human, Durations) {
  EXPECT_EQ(duration_ms(0), "0ms");
  EXPECT_EQ(duration_ms(850), "850ms");
  EXPECT_EQ(duration_ms(12345), "12.3s");
  EXPECT_EQ(duration_ms(192000), "3m 12s");
  EXPECT_EQ(duration_ms(59999), "1m 00s");
  EXPECT_EQ(duration_ms(3720000), "1h 02m");
  EXPECT_EQ(duration_ms(2 * 86400000.0 + 3 * 3600000), "2d 03h");
  EXPECT_EQ(duration_ms(-1500), "-1.5s");
}

TEST(Human, CountsAndPercent) {
  EXPECT_EQ(count(0), "0");
  EXPECT_EQ(count(999), "999");
  EXPECT_EQ(count(1234567), "1,234,567");
  EXPECT_EQ(percent(0.1234), "12.3%");
}

TEST(Table, AlignedWithoutTrailingBlanks) {
  Table t({{"NAME", Align::left}, {"COUNT", Align::right}, {"NOTE", Align::left}});
  t.add({"hello", "3", ""});
  t.add({"größer", "1,234", "x"});
  EXPECT_EQ(t.render(false),
            "NAME    COUNT  NOTE\n"
            "hello       3\n"
            "größer  1,234  x\n");
  // Colour: bold header, dim placeholders, and nothing else changes.
  Table c({{"A", Align::left}});
  c.add({"-"});
  EXPECT_EQ(c.render(true), "\x1b[1mA\x1b[0m\n\x1b[2m-\x1b[0m\n");
}

TEST(Table, CellsOfSeveralLinesTakeSeveralLines) {
  Table t({{"NAME", Align::left}, {"N", Align::right}, {"MESSAGE", Align::left}});
  t.add({"a", "1", "first line\n> second, longer line"});
  t.add({"bb", "22", "one"});
  EXPECT_EQ(t.render(false),
            "NAME   N  MESSAGE\n"
            "a      1  first line\n"
            "          > second, longer line\n"
            "bb    22  one\n");
}

TEST(Report, MachineOnlyColumnsAreLeftOutOfTables) {
  Report r;
  ReportTable t;
  t.name = "builds";
  t.columns = {{"name", "NAME", Align::left},
               {"drv_path", "", Align::left, false},
               {"cpu_user_us", "CPU USER"},
               {"exit_code", "EXIT"}};
  t.rows.push_back({text_cell("hello"), text_cell("/nix/store/x-hello.drv"),
                    microseconds_cell(1500000), int_cell(-1)});
  t.rows.push_back({text_cell("bye"), text_cell("/nix/store/y-bye.drv"),
                    microseconds_cell(std::nullopt), int_cell(std::nullopt)});
  r.tables = {t};
  EXPECT_EQ(render_text(r, RenderOptions{}),
            "\nNAME   CPU USER  EXIT\nhello      1.5s    -1\nbye           -     -\n");
  // Unknown CPU time is null, never 0.
  EXPECT_EQ(render_json(r),
            "{\"builds\":[{\"name\":\"hello\",\"drv_path\":\"/nix/store/x-hello.drv\","
            "\"cpu_user_us\":1500000,\"exit_code\":-1},{\"name\":\"bye\",\"drv_path\":"
            "\"/nix/store/y-bye.drv\",\"cpu_user_us\":null,\"exit_code\":null}],\"notes\":[]}\n");
}

TEST(Csv, Rfc4180Quoting) {
  EXPECT_EQ(csv_record({"plain", "a,b", "say \"hi\"", "two\nlines", ""}),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n");
}

TEST(Report, TextCsvJsonOfTheSameRows) {
  Report r;
  r.heading = "nod: test";
  r.meta.emplace_back("period", std::string("all time"));
  ReportTable a;
  a.name = "kinds";
  a.title = "By kind";
  a.columns = {{"kind", "KIND", Align::left}, {"total_ms", "TOTAL"}, {"bytes", "BYTES"}};
  a.rows.push_back({text_cell("build"), duration_cell(192000.0), bytes_cell(std::nullopt)});
  ReportTable b;
  b.name = "empty";
  b.title = "Nothing";
  b.empty_message = "nothing here";
  b.columns = {{"name", "NAME", Align::left}, {"ratio", "RATIO"}};
  r.tables = {a, b};
  r.notes = {"a note, with a comma"};
  EXPECT_EQ(render_text(r, RenderOptions{}),
            "nod: test\n\nBy kind:\nKIND    TOTAL  BYTES\nbuild  3m 12s      -\n\nNothing:\n  "
            "nothing here\n\na note, with a comma\n");
  EXPECT_EQ(render_csv(r), "table,kind,total_ms,bytes,name,ratio\r\nkinds,build,192000,,,\r\n");
  EXPECT_EQ(render_json(r),
            "{\"period\":\"all time\",\"kinds\":[{\"kind\":\"build\",\"total_ms\":192000,"
            "\"bytes\":null}],\"empty\":[],\"notes\":[\"a note, with a comma\"]}\n");
}

// The daemon sends a report as data and the CLI renders it: what is read back renders to the
// same bytes with every renderer, values JSON has no literal for (NaN, infinities) and pictures
// included.
TEST(ReportWire, ReadingWhatWasWrittenRendersTheSame) {
  Report r;
  r.heading = "nod: \"wire\"\n";
  r.meta.emplace_back("z_first", int64_t{-3});
  r.meta.emplace_back("a_second", std::monostate{});
  r.meta.emplace_back("real", 0.1 + 0.2);
  ReportTable t;
  t.name = "kinds";
  t.title = "By kind";
  t.empty_message = "none";
  t.columns = {{"kind", "KIND", Align::left},
               {"total_ms", "TOTAL"},
               {"p", "P"},
               {"hidden", "", Align::left, false},
               {"bar", "BAR", Align::left, true, true},
               {"spread", "SPREAD", Align::left, true, true}};
  t.rows.push_back({text_cell("build"), duration_cell(192000.5),
                    real_cell(std::numeric_limits<double>::quiet_NaN()), text_cell("x"),
                    figure_cell(BarFigure{3.0, "count"}),
                    figure_cell(SpreadFigure{{0, 1, 2.5, 3, 4}, {1, 2, 3, 4, 5}})});
  t.rows.push_back({text_cell(std::nullopt),
                    count_cell(7),
                    real_cell(std::numeric_limits<double>::infinity()),
                    {"yes", true},
                    figure_cell(BarFigure{std::nullopt, "count"}),
                    figure_cell(std::monostate{})});
  ReportTable empty;
  empty.name = "empty";
  empty.empty_message = "nothing here";
  empty.columns = {{"name", "NAME", Align::left}};
  r.tables = {t, empty};
  r.notes = {"a note", "ünïcode"};

  JsonWriter w;
  write_report(w, r);
  simdjson::dom::parser parser;
  Report back = read_report(parser.parse(w.str()));
  for (auto how : {RenderOptions{}, RenderOptions{true, Glyphs::unicode, 0},
                   RenderOptions{false, Glyphs::ascii, 30}})
    EXPECT_EQ(render_text(back, how), render_text(r, how));
  EXPECT_EQ(render_csv(back), render_csv(r));
  EXPECT_EQ(render_json(back), render_json(r));
  // A report that is not one is an error that says so, not an empty table.
  EXPECT_THROW(read_report(parser.parse(std::string(R"({"heading":"x"})"))), Error);
}
