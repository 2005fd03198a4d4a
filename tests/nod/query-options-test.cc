// The query flags: the original Rust nod's spellings parse, bad input is a UsageError naming the
// flag, and the wire form round-trips.
#include <gtest/gtest.h>

#include "commands/command.hh"
#include "common/error.hh"
#include "query/options.hh"

using namespace nixmon;
using namespace nixmon::nod;

namespace {

// As nod's main does it: the top-level flags, every subcommand from the table; the query that
// the given subcommand (or `nod` itself) would run.
QueryOptions parse(std::vector<std::string> args) {
  CLI::App app;
  NodOptions global;
  commands::add_global_flags(app, global);  // sets fallthrough before the subcommands
  RawQueryFlags top;
  auto query = commands::add_summary_flags(app, top).query;
  std::vector<std::pair<std::string, commands::Added>> subs;
  for (const auto& c : commands::command_table())
    subs.emplace_back(std::string(c.name), c.add(app));
  std::vector<std::string> rev(args.rbegin(), args.rend());
  app.parse(rev);  // CLI11 takes the arguments reversed
  for (const auto& [name, added] : subs)
    if (app.got_subcommand(name)) query = added.query;
  return query(commands::Invocation{global, top});
}

std::string error_of(std::vector<std::string> args) {
  try {
    parse(args);
  } catch (const UsageError& e) {
    return e.what();
  } catch (const CLI::ParseError& e) {
    return std::string("CLI11: ") + e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(QueryOptions, OriginalNodSpellings) {
  EXPECT_EQ(parse({}).command, QueryCommand::summary);
  EXPECT_EQ(*parse({"-d", "30"}).period_days(), 30);
  EXPECT_EQ(*parse({"-m", "3"}).period_days(), 90);
  EXPECT_EQ(*parse({"-y", "2"}).period_days(), 730);
  EXPECT_EQ(*parse({"--drv", "firefox"}).drv, "firefox");
  auto g = parse({"--sort", "count", "--group"});
  EXPECT_TRUE(g.group);
  EXPECT_EQ(*g.sort, SortKey::count);
  EXPECT_EQ(*parse({"--bucket", "day"}).bucket, Bucket::day);
  EXPECT_EQ(*parse({"--bucket", "month"}).bucket, Bucket::month);
  EXPECT_EQ(*parse({"--bucket", "week"}).bucket, Bucket::week);
  EXPECT_EQ(parse({"--bucket", "day", "--output", "test"}).output, OutputFormat::test);
  EXPECT_EQ(parse({"--bucket", "day", "--output", "csv"}).output, OutputFormat::csv);
  EXPECT_EQ(parse({"--output", "json"}).output, OutputFormat::json);
  auto c = parse({"clean"});
  EXPECT_EQ(c.command, QueryCommand::clean);
  EXPECT_FALSE(c.before_days);
  EXPECT_EQ(*parse({"clean", "--before-days", "90"}).before_days, 90);
  auto r = parse({"regressions", "--alpha", "0.01", "--min-effect", "0.8", "--recent", "3"});
  EXPECT_EQ(r.command, QueryCommand::regressions);
  EXPECT_EQ(r.regression.alpha, 0.01);
  EXPECT_EQ(r.regression.min_effect, 0.8);
  EXPECT_EQ(r.regression.recent, 3u);
}

TEST(QueryOptions, BadInputIsAClearUsageError) {
  EXPECT_EQ(error_of({"-d", "0"}), "-d needs a whole number of days >= 1, not '0'");
  EXPECT_EQ(error_of({"-d", "-3"}), "-d needs a whole number of days >= 1, not '-3'");
  EXPECT_EQ(error_of({"-d", "3x"}), "-d needs a whole number of days >= 1, not '3x'");
  EXPECT_EQ(error_of({"--bucket", "year"}), "--bucket: unknown bucket 'year' (use day|week|month)");
  EXPECT_EQ(error_of({"--output", "xml"}),
            "--output: unknown format 'xml' (use table|csv|json|test)");
  EXPECT_EQ(error_of({"--sort", "speed", "--group"}),
            "--sort: unknown key 'speed' (use count|total|mean|median|p90|max|name)");
  EXPECT_EQ(error_of({"-d", "3", "-m", "1"}), "-d, -m and -y are exclusive: give one period");
  EXPECT_EQ(error_of({"--sort", "count"}), "--sort orders the rows of --group: add --group");
  EXPECT_EQ(error_of({"--group", "--bucket", "day"}), "--group and --bucket conflict: choose one");
  EXPECT_EQ(error_of({"--group", "--output", "test"}),
            "--output test compares periods; it conflicts with --group");
  EXPECT_EQ(error_of({"-d", "3", "clean"}), "clean takes no query flags, only --before-days N");
  EXPECT_EQ(error_of({"clean", "--before-days", "0"}),
            "--before-days needs a whole number of days >= 1, not '0'");
  EXPECT_EQ(error_of({"regressions", "--alpha", "2"}), "--alpha must be in (0, 1], not 2");
  EXPECT_EQ(error_of({"regressions", "--bucket", "day"}).substr(0, 40),
            "regressions compares each derivation wit");
  EXPECT_EQ(error_of({"--drv", ""}), "--drv needs a non-empty substring");
  EXPECT_EQ(error_of({"--frobnicate"}).substr(0, 7), "CLI11: ");
}

// `nod --limit 5` used to print every row, as if the flag had not been given.
TEST(QueryOptions, LimitWithoutGroupIsAnErrorNotIgnored) {
  const std::string want =
      "--limit cuts the rows of --group (or of `nod regressions`): add --group";
  EXPECT_EQ(error_of({"--limit", "5"}), want);
  EXPECT_EQ(error_of({"--bucket", "day", "--limit", "5"}), want);
  EXPECT_EQ(*parse({"--group", "--limit", "5"}).limit, 5);
  EXPECT_EQ(*parse({"regressions", "--limit", "3"}).limit, 3);
}

TEST(QueryOptions, WireFormRoundTrips) {
  auto o = parse({"-m", "2", "--drv", "a\"b", "--bucket", "week", "--output", "csv"});
  auto back = query_options_from_json(to_json(o));
  EXPECT_EQ(to_json(back), to_json(o));
  EXPECT_EQ(*back.months, 2);
  EXPECT_EQ(*back.drv, "a\"b");
  // How the answer is shown never travels: the daemon answers with data, the CLI renders it.
  EXPECT_EQ(to_json(o).find("colour"), std::string::npos);
  EXPECT_EQ(to_json(o).find("pictures"), std::string::npos);
  EXPECT_EQ(to_json(o).find("width"), std::string::npos);
  // What an older CLI sent about its terminal is ignored, not refused.
  EXPECT_EQ(to_json(query_options_from_json(
                R"({"command":"summary","colour":true,"pictures":"sixel","width":-4})")),
            to_json(query_options_from_json(R"({"command":"summary"})")));
  auto r = parse({"regressions", "--history", "20"});
  EXPECT_EQ(query_options_from_json(to_json(r)).regression.history, 20u);
  // The daemon checks what it is sent as the CLI does.
  EXPECT_THROW(query_options_from_json(R"({"command":"summary","days":0})"), UsageError);
  EXPECT_THROW(query_options_from_json("not json"), UsageError);
}

TEST(QueryOptions, FailuresAndBuildsListTheNewestRows) {
  auto f = parse({"failures"});
  EXPECT_EQ(f.command, QueryCommand::failures);
  EXPECT_EQ(f.last, 20);
  auto b = parse({"builds", "--last", "5", "-d", "7", "--drv", "hello", "--output", "json"});
  EXPECT_EQ(b.command, QueryCommand::builds);
  EXPECT_EQ(b.last, 5);
  EXPECT_EQ(*b.period_days(), 7);
  EXPECT_EQ(*b.drv, "hello");
  EXPECT_EQ(b.output, OutputFormat::json);
  // Through the wire and back, as the daemon receives them.
  auto back = query_options_from_json(to_json(b));
  EXPECT_EQ(back.command, QueryCommand::builds);
  EXPECT_EQ(back.last, 5);
  EXPECT_EQ(*back.days, 7);
  EXPECT_EQ(*back.drv, "hello");
  EXPECT_EQ(query_options_from_json(to_json(f)).command, QueryCommand::failures);
  EXPECT_EQ(parse({"failures", "-m", "1", "--output", "csv"}).output, OutputFormat::csv);

  EXPECT_EQ(error_of({"failures", "--last", "0"}),
            "--last needs a whole number of rows >= 1, not '0'");
  EXPECT_NE(error_of({"builds", "--last", "20000"}).find("too large"), std::string::npos);
  EXPECT_NE(error_of({"failures", "--output", "test"}).find("use --output table, csv or json"),
            std::string::npos);
  EXPECT_NE(error_of({"builds", "--group"}).find("use --last N"), std::string::npos);
  // Only these two take --last (the daemon checks what the wire carries the same way).
  RawQueryFlags raw;
  raw.last = "3";
  EXPECT_THROW(make_query_options(QueryCommand::summary, raw), UsageError);
  EXPECT_THROW(make_query_options(QueryCommand::regressions, raw), UsageError);
  EXPECT_NE(error_of({"--last", "3"}).find("--last"), std::string::npos);
}
