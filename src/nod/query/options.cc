#include "query/options.hh"

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>

#include "common/error.hh"
#include "common/json-writer.hh"

namespace nixmon::nod {

namespace {

template <typename E, std::size_t N>
std::optional<E> lookup(std::string_view text, const std::pair<std::string_view, E> (&table)[N]) {
  for (const auto& [k, v] : table)
    if (k == text) return v;
  return std::nullopt;
}

template <typename E, std::size_t N>
std::string_view reverse(E e, const std::pair<std::string_view, E> (&table)[N]) {
  for (const auto& [k, v] : table)
    if (v == e) return k;
  return "?";
}

template <typename E, std::size_t N>
std::string choices(const std::pair<std::string_view, E> (&table)[N]) {
  std::string out;
  for (const auto& [k, v] : table) out += (out.empty() ? "" : "|") + std::string(k);
  return out;
}

constexpr std::pair<std::string_view, SortKey> sort_keys[] = {
    {"count", SortKey::count},   {"total", SortKey::total}, {"mean", SortKey::mean},
    {"median", SortKey::median}, {"p90", SortKey::p90},     {"max", SortKey::max},
    {"name", SortKey::name}};
constexpr std::pair<std::string_view, Bucket> buckets[] = {
    {"day", Bucket::day}, {"week", Bucket::week}, {"month", Bucket::month}};
constexpr std::pair<std::string_view, OutputFormat> outputs[] = {{"table", OutputFormat::table},
                                                                 {"csv", OutputFormat::csv},
                                                                 {"json", OutputFormat::json},
                                                                 {"test", OutputFormat::test}};
constexpr std::pair<std::string_view, QueryCommand> commands[] = {
    {"summary", QueryCommand::summary},
    {"clean", QueryCommand::clean},
    {"regressions", QueryCommand::regressions},
    {"failures", QueryCommand::failures},
    {"builds", QueryCommand::builds}};

// A whole number >= minimum, or a UsageError that quotes what was typed.
int64_t positive(std::string_view flag, const std::string& text, std::string_view unit,
                 int64_t minimum = 1) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < minimum)
    throw UsageError(
        fmt::format("{} needs a whole number of {} >= {}, not '{}'", flag, unit, minimum, text));
  // Beyond ~10,000 years the millisecond arithmetic would overflow; nobody means that.
  if (v > 3650000) throw UsageError(fmt::format("{} {} is too large", flag, text));
  return v;
}

double fraction(std::string_view flag, const std::string& text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size())
    throw UsageError(fmt::format("{} needs a number, not '{}'", flag, text));
  return v;
}

}  // namespace

std::string_view name(SortKey k) {
  return reverse(k, sort_keys);
}
std::string_view name(Bucket b) {
  return reverse(b, buckets);
}
std::string_view name(OutputFormat f) {
  return reverse(f, outputs);
}
std::string_view name(QueryCommand c) {
  return reverse(c, commands);
}

std::optional<int64_t> QueryOptions::period_days() const {
  if (days) return *days;
  if (months) return *months * 30;
  if (years) return *years * 365;
  return std::nullopt;
}

std::string sort_key_choices() {
  return choices(sort_keys);
}
std::string bucket_choices() {
  return choices(buckets);
}

QueryOptions make_query_options(QueryCommand command, const RawQueryFlags& raw) {
  QueryOptions o;
  o.command = command;
  int periods = (raw.days ? 1 : 0) + (raw.months ? 1 : 0) + (raw.years ? 1 : 0);
  if (periods > 1) throw UsageError("-d, -m and -y are exclusive: give one period");
  if (raw.days) o.days = positive("-d", *raw.days, "days");
  if (raw.months) o.months = positive("-m", *raw.months, "months");
  if (raw.years) o.years = positive("-y", *raw.years, "years");
  if (raw.drv) {
    if (raw.drv->empty()) throw UsageError("--drv needs a non-empty substring");
    o.drv = *raw.drv;
  }
  if (raw.sort) {
    o.sort = lookup(*raw.sort, sort_keys);
    if (!o.sort)
      throw UsageError(
          fmt::format("--sort: unknown key '{}' (use {})", *raw.sort, choices(sort_keys)));
  }
  o.group = raw.group;
  if (raw.bucket) {
    o.bucket = lookup(*raw.bucket, buckets);
    if (!o.bucket)
      throw UsageError(
          fmt::format("--bucket: unknown bucket '{}' (use {})", *raw.bucket, choices(buckets)));
  }
  if (raw.output) {
    auto f = lookup(*raw.output, outputs);
    if (!f)
      throw UsageError(
          fmt::format("--output: unknown format '{}' (use {})", *raw.output, choices(outputs)));
    o.output = *f;
  }
  if (raw.limit) o.limit = positive("--limit", *raw.limit, "rows");

  if (command == QueryCommand::clean) {
    if (periods || raw.drv || raw.sort || raw.group || raw.bucket || raw.output || raw.limit)
      throw UsageError("clean takes no query flags, only --before-days N");
    if (raw.before_days) o.before_days = positive("--before-days", *raw.before_days, "days");
    return o;
  }
  if (raw.before_days) throw UsageError("--before-days belongs to `nod clean`");

  if (command == QueryCommand::failures || command == QueryCommand::builds) {
    if (raw.sort || raw.group || raw.bucket || raw.limit)
      throw UsageError(fmt::format(
          "{} lists the newest rows: --sort, --group, --bucket and --limit do not apply (use "
          "--last N)",
          name(command)));
    if (o.output == OutputFormat::test)
      throw UsageError(
          fmt::format("{} lists rows: use --output table, csv or json", name(command)));
    // Up to ~10,000 rows: a screenful is 20; a machine reading JSON may want a day's worth.
    if (raw.last) o.last = positive("--last", *raw.last, "rows");
    if (o.last > 10000)
      throw UsageError(fmt::format("--last {} is too large (at most 10000)", o.last));
    return o;
  }
  if (raw.last) throw UsageError("--last belongs to `nod failures` and `nod builds`");

  if (command == QueryCommand::regressions) {
    if (periods || raw.sort || raw.group || raw.bucket)
      throw UsageError(
          "regressions compares each derivation with its own history: -d/-m/-y, --sort, --group "
          "and --bucket do not apply");
    if (o.output == OutputFormat::test)
      throw UsageError("regressions already runs the test: use --output table, csv or json");
    auto& r = o.regression;
    if (raw.recent)
      r.recent = static_cast<std::size_t>(positive("--recent", *raw.recent, "builds", 2));
    if (raw.history)
      r.history = static_cast<std::size_t>(positive("--history", *raw.history, "builds", 2));
    if (raw.min_history)
      r.min_history =
          static_cast<std::size_t>(positive("--min-history", *raw.min_history, "builds", 2));
    if (raw.alpha) r.alpha = fraction("--alpha", *raw.alpha);
    if (raw.min_effect) r.min_effect = fraction("--min-effect", *raw.min_effect);
    stats::validate(r);
    return o;
  }

  // summary
  if (o.sort && !o.group) throw UsageError("--sort orders the rows of --group: add --group");
  // The summary tables have a fixed handful of rows (kinds, substituters, machines) and a time
  // series is cut by its period: only --group has rows to cut, so a --limit elsewhere would be
  // silently ignored. Say so instead, like --sort.
  if (o.limit && !o.group)
    throw UsageError("--limit cuts the rows of --group (or of `nod regressions`): add --group");
  if (o.group && o.bucket) throw UsageError("--group and --bucket conflict: choose one");
  if (o.output == OutputFormat::test && o.group)
    throw UsageError("--output test compares periods; it conflicts with --group");
  return o;
}

std::string to_json(const QueryOptions& o) {
  JsonWriter w;
  w.begin_object();
  write_query_options(w, o);
  w.end_object();
  return w.take();
}

void write_query_options(JsonWriter& w, const QueryOptions& o) {
  w.field("command", name(o.command));
  if (o.days) w.field("days", *o.days);
  if (o.months) w.field("months", *o.months);
  if (o.years) w.field("years", *o.years);
  if (o.drv) w.field("drv", *o.drv);
  if (o.sort) w.field("sort", name(*o.sort));
  if (o.group) w.field("group", true);
  if (o.bucket) w.field("bucket", name(*o.bucket));
  w.field("output", name(o.output));
  if (o.limit) w.field("limit", *o.limit);
  if (o.before_days) w.field("before_days", *o.before_days);
  if (o.command == QueryCommand::failures || o.command == QueryCommand::builds)
    w.field("last", o.last);
  if (o.command == QueryCommand::regressions) {
    w.key("regression").begin_object();
    w.field("recent", static_cast<int64_t>(o.regression.recent));
    w.field("history", static_cast<int64_t>(o.regression.history));
    w.field("min_history", static_cast<int64_t>(o.regression.min_history));
    w.field("alpha", o.regression.alpha);
    w.field("min_effect", o.regression.min_effect);
    w.end_object();
  }
}

QueryOptions query_options_from_json(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc) || !doc.is_object())
    throw UsageError("query request is not a JSON object");
  // Rebuild the raw flags and run them through the same checks as the command line, so the
  // daemon never runs a query the CLI would have refused.
  RawQueryFlags raw;
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) throw UsageError("query request is not a JSON object");
  QueryCommand command = QueryCommand::summary;
  auto text = [](simdjson::dom::element e) -> std::string {
    if (e.is_string()) return std::string(e.get_string().value_unsafe());
    if (e.is_int64()) return fmt::format("{}", e.get_int64().value_unsafe());
    if (e.is_double()) return fmt::format("{}", e.get_double().value_unsafe());
    throw UsageError("query request: a value has the wrong type");
  };
  for (auto [k, v] : obj) {
    if (k == "command") {
      auto c = lookup(text(v), commands);
      if (!c) throw UsageError(fmt::format("unknown query command '{}'", text(v)));
      command = *c;
    } else if (k == "days")
      raw.days = text(v);
    else if (k == "months")
      raw.months = text(v);
    else if (k == "years")
      raw.years = text(v);
    else if (k == "drv")
      raw.drv = text(v);
    else if (k == "sort")
      raw.sort = text(v);
    else if (k == "group")
      raw.group = v.is_bool() && v.get_bool().value_unsafe();
    else if (k == "bucket")
      raw.bucket = text(v);
    else if (k == "output")
      raw.output = text(v);
    else if (k == "limit")
      raw.limit = text(v);
    else if (k == "before_days")
      raw.before_days = text(v);
    else if (k == "last")
      raw.last = text(v);
    else if (k == "regression" && v.is_object()) {
      // Bind the object first: iterating the temporary result would read freed memory.
      simdjson::dom::object regression;
      if (v.get_object().get(regression)) throw UsageError("query request: bad \"regression\"");
      for (auto [rk, rv] : regression) {
        if (rk == "recent")
          raw.recent = text(rv);
        else if (rk == "history")
          raw.history = text(rv);
        else if (rk == "min_history")
          raw.min_history = text(rv);
        else if (rk == "alpha")
          raw.alpha = text(rv);
        else if (rk == "min_effect")
          raw.min_effect = text(rv);
      }
    }
  }
  // The wire always carries an output; the CLI rule "clean takes no --output" is about the flag.
  if (command == QueryCommand::clean) raw.output.reset();
  return make_query_options(command, raw);
}

}  // namespace nixmon::nod
