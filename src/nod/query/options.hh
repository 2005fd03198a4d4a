#pragma once
// What a `nod` query asks for: the original Rust nod's flags (`-d/-m/-y`, `--drv`, `--sort`,
// `--group`, `--bucket`, `--output`) plus `clean`, `regressions`, `failures` and `builds`, as
// given on the command line (the commands declare the flags, commands/), checked, and carried to
// the daemon as one JSON line (so the daemon answers exactly what was asked).
//
// validate() throws UsageError with a message naming the flag; nothing here touches the database.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/json-writer.hh"
#include "stats/regression.hh"

namespace nixmon::nod {

enum class QueryCommand { summary, clean, regressions, failures, builds };
enum class SortKey { count, total, mean, median, p90, max, name };
enum class Bucket { day, week, month };
enum class OutputFormat { table, csv, json, test };

std::string_view name(SortKey k);
std::string_view name(Bucket b);
std::string_view name(OutputFormat f);
std::string_view name(QueryCommand c);

struct QueryOptions {
  QueryCommand command = QueryCommand::summary;
  // At most one of the three; each >= 1. Days count UTC calendar days including today; a month is
  // 30 days and a year 365, so "the prior period of the same length" is well defined.
  std::optional<int64_t> days, months, years;
  std::optional<std::string> drv;  // substring of the derivation (or store path) name
  std::optional<SortKey> sort;
  bool group = false;
  std::optional<Bucket> bucket;
  OutputFormat output = OutputFormat::table;
  std::optional<int64_t> limit;  // rows of a grouped table / regressions
  // How the answer is shown (colour, pictures, the terminal's width) is not here: the daemon
  // answers with the report as data and the CLI renders it (format::RenderOptions).

  // clean
  std::optional<int64_t> before_days;
  // regressions
  stats::RegressionOptions regression;
  // failures, builds: the newest N rows
  int64_t last = 20;

  // The period in days, if one was given.
  std::optional<int64_t> period_days() const;
};

// The strings given on the command line, before conversion: validation needs to see "-3", "year".
struct RawQueryFlags {
  std::optional<std::string> days, months, years, sort, bucket, output, before_days, limit, last;
  std::optional<std::string> drv;
  bool group = false;
  std::optional<std::string> recent, history, min_history, alpha, min_effect;
};

// The accepted values of --sort and --bucket, "a|b|c", for help texts.
std::string sort_key_choices();
std::string bucket_choices();

// Converts and checks the flags for `command`. Throws UsageError.
QueryOptions make_query_options(QueryCommand command, const RawQueryFlags& raw);

// The wire form: one JSON object on one line (no newline), and back. from_json throws UsageError
// for anything it cannot accept (unknown keys are ignored, so older daemons tolerate newer CLIs;
// the colour, pictures and width an older CLI sent are among them).
std::string to_json(const QueryOptions& o);
// The same keys, into an object the caller has open (a request adds its own beside them).
void write_query_options(JsonWriter& w, const QueryOptions& o);
QueryOptions query_options_from_json(std::string_view json);

}  // namespace nixmon::nod
