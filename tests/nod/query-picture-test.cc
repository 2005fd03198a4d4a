// Pictures in text tables: bars scaled to their maximum, spreads on a shared scale, unknown
// never drawn as zero, the ASCII fallback, fitting a terminal's width, and none in CSV or JSON.
#include <gtest/gtest.h>

#include "format/picture.hh"
#include "format/report.hh"

using namespace nixmon::nod::format;

TEST(Picture, BarIsScaledToItsMaximum) {
  EXPECT_EQ(bar(10, 10, 4, Glyphs::unicode), "████");
  EXPECT_EQ(bar(5, 10, 4, Glyphs::unicode), "██");
  EXPECT_EQ(bar(5, 10, 3, Glyphs::unicode), "█▌");     // 1.5 cells: eighths of a cell
  EXPECT_EQ(bar(1, 8, 1, Glyphs::unicode), "▏");       // 1/8
  EXPECT_EQ(bar(7, 8, 1, Glyphs::unicode), "▉");       // 7/8
  EXPECT_EQ(bar(20, 10, 4, Glyphs::unicode), "████");  // above the maximum: drawn as it
  EXPECT_EQ(bar(10, 10, 12, Glyphs::ascii), "############");
  EXPECT_EQ(bar(5, 10, 4, Glyphs::ascii), "##");
  EXPECT_EQ(bar(5, 10, 3, Glyphs::ascii), "##");  // whole cells, rounded
}

TEST(Picture, SmallIsNotNoneAndUnknownIsNotZero) {
  // Tiny but measured: the smallest step, never an empty bar.
  EXPECT_EQ(bar(1, 1000000, 12, Glyphs::unicode), "▏");
  EXPECT_EQ(bar(1, 1000000, 12, Glyphs::ascii), "#");
  // Measured zero: no bar at all; unknown: the placeholder every unknown cell has.
  EXPECT_EQ(bar(0.0, 10, 12, Glyphs::unicode), "");
  EXPECT_EQ(bar(std::nullopt, 10, 12, Glyphs::unicode), "-");
  EXPECT_EQ(bar(std::nullopt, 10, 12, Glyphs::ascii), "-");
  EXPECT_NE(bar(std::nullopt, 10, 12, Glyphs::unicode), bar(0.0, 10, 12, Glyphs::unicode));
  // A maximum of 0 (every value 0): nothing to draw, not a division by zero.
  EXPECT_EQ(bar(0.0, 0, 12, Glyphs::unicode), "");
}

TEST(Picture, SpreadOfFiveNumbers) {
  Spread s{0, 2, 4, 6, 8};
  EXPECT_EQ(spread(s, 0, 8, 9, Glyphs::unicode), "├─[█│█]─┤");
  EXPECT_EQ(spread(s, 0, 8, 9, Glyphs::ascii), "|-[=|=]-|");
  // On a wider scale the same sample takes its part of the line, blank around it.
  EXPECT_EQ(spread(s, 0, 16, 9, Glyphs::ascii), "|[|]|    ");
  EXPECT_EQ(spread(s, -8, 8, 9, Glyphs::ascii), "    |[|]|");
  // Every build as long: one mark in the middle of its scale.
  EXPECT_EQ(spread({5, 5, 5, 5, 5}, 5, 5, 5, Glyphs::unicode), "  │  ");
  // Always exactly `width` cells (the table aligns by cells).
  EXPECT_EQ(text_width(spread(s, 0, 100, 24, Glyphs::unicode)), 24u);
}

namespace {

Report bucket_like(std::optional<double> unknown_median) {
  Report r;
  ReportTable t;
  t.name = "buckets";
  t.columns = {{"kind", "KIND", Align::left},
               {"count", "COUNT"},
               {"count_bar", "", Align::left, true, true},
               {"median_ms", "MEDIAN"},
               {"median_bar", "", Align::left, true, true}};
  auto row = [](const char* kind, int64_t n, std::optional<double> med) {
    return std::vector<Cell>{text_cell(kind), count_cell(n),
                             figure_cell(BarFigure{static_cast<double>(n), kind}),
                             duration_cell(med), figure_cell(BarFigure{med, kind})};
  };
  t.rows = {row("build", 4, 2000.0), row("build", 2, 1000.0), row("copy", 1, 50.0),
            row("copy", 1, unknown_median)};
  r.tables = {t};
  return r;
}

}  // namespace

TEST(Report, BarColumnsScaleEachKindToItsOwnMaximum) {
  RenderOptions o;
  o.pictures = Glyphs::ascii;
  EXPECT_EQ(render_text(bucket_like(std::nullopt), o),
            "\n"
            "KIND   COUNT                MEDIAN\n"
            "build      4  ############    2.0s  ############\n"
            "build      2  ######          1.0s  ######\n"
            "copy       1  ############    50ms  ############\n"
            "copy       1  ############       -  -\n");
}

TEST(Report, PicturesOnlyWhenAskedAndNeverForMachines) {
  auto r = bucket_like(3.0);
  EXPECT_EQ(render_text(r, RenderOptions{}),
            "\nKIND   COUNT  MEDIAN\nbuild      4    2.0s\nbuild      2    1.0s\n"
            "copy       1    50ms\ncopy       1     3ms\n");
  EXPECT_EQ(render_csv(r),
            "table,kind,count,median_ms\r\nbuckets,build,4,2000\r\nbuckets,build,2,1000\r\n"
            "buckets,copy,1,50\r\nbuckets,copy,1,3\r\n");
  EXPECT_EQ(render_json(r).find("bar"), std::string::npos);
  RenderOptions u;
  u.pictures = Glyphs::unicode;
  std::string text = render_text(r, u);
  EXPECT_NE(text.find("build      2  ██████          1.0s  ██████\n"), std::string::npos) << text;
  EXPECT_NE(text.find("copy       1  ████████████     3ms  ▊\n"), std::string::npos) << text;
}

TEST(Report, PicturesShrinkToFitTheTerminal) {
  RenderOptions o;
  o.pictures = Glyphs::ascii;
  o.width = 40;  // the text columns take 20, two pictures with their gaps the rest
  std::string text = render_text(bucket_like(std::nullopt), o);
  EXPECT_NE(text.find("build      4  ########    2.0s  ########\n"), std::string::npos) << text;
  for (std::size_t from = 0, nl; (nl = text.find('\n', from)) != std::string::npos; from = nl + 1)
    EXPECT_LE(text_width(text.substr(from, nl - from)), 40u);
  // Never below the smallest useful picture, however narrow.
  o.width = 10;
  text = render_text(bucket_like(std::nullopt), o);
  EXPECT_NE(text.find("build      4  ####    2.0s  ####\n"), std::string::npos) << text;
  // Wide terminals do not stretch them.
  o.width = 500;
  EXPECT_EQ(render_text(bucket_like(std::nullopt), o),
            render_text(bucket_like(std::nullopt), RenderOptions{false, Glyphs::ascii, 0}));
}

TEST(Report, SpreadsDrawHistoryAndRecentOnOneScale) {
  Report r;
  ReportTable t;
  t.name = "regressions";
  t.columns = {{"name", "DERIVATION", Align::left},
               {"distribution", "HISTORY / RECENT", Align::left, true, true}};
  t.rows.push_back(
      {text_cell("slow"), figure_cell(SpreadFigure{Spread{0, 1, 2, 3, 4}, Spread{6, 7, 7, 8, 8}})});
  r.tables = {t};
  RenderOptions o{false, Glyphs::ascii, 0};
  // Scale 0..8 over 24 cells: history takes the first half, recent the last quarter (its median
  // is its q1 and its q3 its max: the median and the box's end win the shared cells).
  EXPECT_EQ(render_text(r, o),
            "\n"
            "DERIVATION  HISTORY / RECENT\n"
            "slow        history |--[==|==]--|\n"
            "            recent                   |--|==]\n");
  EXPECT_EQ(render_csv(r), "table,name\r\nregressions,slow\r\n");
}
