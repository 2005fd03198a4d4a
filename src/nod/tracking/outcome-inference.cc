#include "tracking/outcome-inference.hh"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace nixmon::nod {

namespace {

std::string_view trim_left(std::string_view s) {
  size_t i = s.find_first_not_of(" \t");
  return i == std::string_view::npos ? std::string_view{} : s.substr(i);
}

std::string_view first_line(std::string_view s) {
  return s.substr(0, s.find('\n'));
}

// A decimal number at the start of `s`; `rest` is what follows it.
std::optional<int64_t> leading_number(std::string_view s, std::string_view* rest = nullptr) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc()) return std::nullopt;
  if (rest) *rest = s.substr(static_cast<size_t>(p - s.data()));
  return n;
}

// `s` starts with `prefix` followed by a quoted string: returns that string, and the rest after
// its closing quote. Quotes cannot nest in store paths, so the first closing quote ends it.
std::optional<std::string_view> quoted_after(std::string_view s, std::string_view prefix,
                                             std::string_view* rest = nullptr) {
  if (!s.starts_with(prefix)) return std::nullopt;
  s.remove_prefix(prefix.size());
  auto end = s.find('\'');
  if (end == std::string_view::npos || end == 0) return std::nullopt;
  if (rest) *rest = s.substr(end + 1);
  return s.substr(0, end);
}

// Nix 2.29 names goals by their DerivedPath ("<drv>^out"): the derivation is what precedes '^'.
std::string drv_of(std::string_view quoted) {
  return std::string(quoted.substr(0, quoted.find('^')));
}

// The goal names that prefix timeout and log-limit messages, by version (getName()):
//   <= 2.29 "building of '<drv>[^outputs]' from .drv file" / "... from in-memory derivation"
//   2.30-2.32 "building of '<drv>' from in-memory derivation"
//   >= 2.33 "building derivation '<drv>'"
// Returns the derivation and the text after the goal name.
std::optional<std::pair<std::string, std::string_view>> goal_name(std::string_view s) {
  std::string_view rest;
  if (auto q = quoted_after(s, "building of '", &rest)) {
    for (std::string_view tail : {" from .drv file", " from in-memory derivation"})
      if (rest.starts_with(tail)) return std::pair{drv_of(*q), rest.substr(tail.size())};
    return std::nullopt;
  }
  if (auto q = quoted_after(s, "building derivation '", &rest)) return std::pair{drv_of(*q), rest};
  return std::nullopt;
}

// " timed out after N seconds[ of silence]" (worker.cc; goal.cc's TimedOut since 2.34).
bool timed_out_tail(std::string_view s) {
  constexpr std::string_view marker = "timed out after ";
  if (!s.starts_with(marker)) return false;
  std::string_view rest;
  return leading_number(s.substr(marker.size()), &rest) && rest.starts_with(" seconds");
}

// The "Reason:" of a "Cannot build" message (>= 2.29), read in its header only: the lines
// after the first, up to the output paths or the quoted log tail.
std::optional<NixMessage> cannot_build(std::string_view text, std::string drv) {
  NixMessage m;
  m.drv_path = std::move(drv);
  m.kind = FailureKind::builder;
  size_t pos = text.find('\n');
  while (pos != std::string_view::npos) {
    size_t next = text.find('\n', pos + 1);
    std::string_view line = trim_left(text.substr(
        pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1));
    pos = next;
    if (line.starts_with("Output paths:") || line.starts_with("Last ") || line.starts_with(">"))
      break;
    if (!line.starts_with("Reason: ")) continue;
    line.remove_prefix(8);
    constexpr std::string_view exit = "builder failed with exit code ";
    if (line.starts_with(exit)) {
      m.exit_code = leading_number(line.substr(exit.size()));
    } else if (line.starts_with("builder ")) {
      m.kind = FailureKind::builder;  // killed by a signal, or another status
    } else if (std::string_view rest;
               leading_number(line, &rest) && (rest.starts_with(" dependency failed") ||
                                               rest.starts_with(" dependencies failed"))) {
      m.kind = FailureKind::dependency;
    } else if (line.starts_with("platform mismatch") ||
               line.starts_with("missing system features") ||
               line.starts_with("local builds are disabled")) {
      m.kind = FailureKind::rejected;
    }
    return m;
  }
  return m;  // no Reason line: Nix gave none, the build did fail
}

std::string fmt_url(std::string_view cache, std::string_view path) {
  std::string url(cache);
  if (!url.ends_with('/')) url += '/';
  url += path;
  return url;
}

// `nested`: classifying the remote's message inside a remote failure. That message is read for
// its exit code only, and never as a remote failure again: a line of nested "build of ... on ...
// failed: " would otherwise recurse once per repetition (a 1 MiB line overflowed the stack).
std::optional<NixMessage> classify(std::string_view text, bool has_raw_msg, bool nested);

}  // namespace

std::optional<NixMessage> classify_message(std::string_view text, bool has_raw_msg) {
  return classify(text, has_raw_msg, false);
}

namespace {

std::optional<NixMessage> classify(std::string_view text, bool has_raw_msg, bool nested) {
  if (!has_raw_msg) {
    // A relayed line: Nix's showErrorInfo writes "error: " before the message.
    text = trim_left(text);
    if (text.starts_with("error: ")) text = trim_left(text.substr(7));
  }
  std::string_view head = first_line(text);
  std::string_view rest;
  if (head.starts_with("interrupted by the user")) {
    NixMessage m;
    m.what = NixMessage::What::interrupted;
    return m;
  }
  // Nix <= 2.28: "builder for '<drv>' failed with exit code N" / "... failed due to signal N".
  if (auto q = quoted_after(head, "builder for '", &rest); q && rest.starts_with(" failed")) {
    NixMessage m = NixMessage::failure(FailureKind::builder, std::string(*q));
    constexpr std::string_view exit = " failed with exit code ";
    if (rest.starts_with(exit)) m.exit_code = leading_number(rest.substr(exit.size()));
    return m;
  }
  // Nix >= 2.29 (derivation-goal.cc, derivation-building-goal.cc, derivation-resolution-goal.cc).
  if (auto q = quoted_after(head, "Cannot build '", &rest); q && rest.starts_with(".")) {
    return cannot_build(text, std::string(*q));
  }
  // build-remote.cc: "build of '<drv>' on '<machine>' failed: <the remote's message>".
  if (auto q = quoted_after(head, "build of '", &rest); q && !nested) {
    std::string_view after;
    if (auto machine = quoted_after(rest, " on '", &after);
        machine && after.starts_with(" failed")) {
      NixMessage m =
          NixMessage::failure(FailureKind::remote, std::string(*q), std::string(*machine));
      // The remote's own message, when it is one Nix wrote about the same derivation, says
      // how its builder exited; the hook's own exit status is not the builder's.
      size_t colon = text.find(": ", q->size());
      if (colon != std::string_view::npos) {
        auto inner = classify(text.substr(colon + 2), true, true);
        if (inner && inner->what == NixMessage::What::failure && inner->drv_path == m.drv_path)
          m.exit_code = inner->exit_code;
      }
      return m;
    }
  }
  // derivation-check.cc (>= 2.30; earlier in the builder): the fixed-output hash differs.
  if (auto q = quoted_after(head, "hash mismatch in fixed-output derivation '")) {
    return NixMessage::failure(FailureKind::hash_mismatch, std::string(*q));
  }
  // Nix <= 2.28: "N dependencies of derivation '<drv>' failed to build".
  if (leading_number(head, &rest)) {
    if (auto q = quoted_after(rest, " dependencies of derivation '", &rest);
        q && rest.starts_with(" failed to build"))
      return NixMessage::failure(FailureKind::dependency, std::string(*q));
  }
  // Timeouts and log limits, prefixed by the goal's name (or by nothing since 2.34).
  if (auto g = goal_name(head)) {
    auto& [drv, tail] = *g;
    tail = trim_left(tail);
    if (timed_out_tail(tail)) return NixMessage::failure(FailureKind::timeout, drv);
    if (tail.starts_with("killed after writing more than "))
      return NixMessage::failure(FailureKind::log_limit, drv);
  }
  if (timed_out_tail(head)) return NixMessage::failure(FailureKind::timeout);
  return std::nullopt;
}

}  // namespace

namespace {

// A relayed line (no raw_msg) starts with Nix's "error: ".
std::string_view message_head(std::string_view text, bool has_raw_msg) {
  if (!has_raw_msg) {
    text = trim_left(text);
    if (text.starts_with("error: ")) text = trim_left(text.substr(7));
  }
  return first_line(text);
}

}  // namespace

std::optional<std::string> failed_transfer_url(std::string_view text, bool has_raw_msg) {
  std::string_view head = message_head(text, has_raw_msg);
  std::string_view rest;
  for (std::string_view verb : {"unable to download '", "unable to upload '"}) {
    if (!head.starts_with(verb)) continue;
    // The URL may hold quotes: it ends at the quote followed by ": ".
    size_t end = head.find("': ", verb.size());
    if (end == std::string_view::npos || end == verb.size()) return std::nullopt;
    rest = head.substr(end + 3);
    if (rest.find("; retrying ") != std::string_view::npos) return std::nullopt;
    return std::string(head.substr(verb.size(), end - verb.size()));
  }
  if (auto path = quoted_after(head, "file '", &rest)) {
    std::string_view after;
    if (auto cache = quoted_after(rest, " does not exist in binary cache '", &after);
        cache && after.empty())
      return fmt_url(*cache, *path);
  }
  return std::nullopt;
}

std::vector<std::string> failed_goal_paths(std::string_view text, bool has_raw_msg) {
  std::string_view head = message_head(text, has_raw_msg);
  constexpr std::string_view prefix = "build of ";
  constexpr std::string_view suffix = " failed";
  if (!head.starts_with(prefix) || !head.ends_with(suffix)) return {};
  std::string_view list = head.substr(prefix.size(), head.size() - prefix.size() - suffix.size());
  std::vector<std::string> paths;
  while (!list.empty()) {
    std::string_view rest;
    auto q = quoted_after(list, "'", &rest);
    if (!q || !q->starts_with("/")) return {};
    paths.emplace_back(*q);
    if (rest.empty()) break;
    if (!rest.starts_with(", ")) return {};
    list = rest.substr(2);
  }
  return paths;
}

ProgressStep progress_step(const Progress& before, const Progress& after) {
  // The counters come from the stream: values no Nix sends (negative, or beyond 2^40) move
  // nothing, and keep the differences below from overflowing.
  auto sane = [](const Progress& p) {
    constexpr int64_t limit = int64_t(1) << 40;
    for (int64_t v : {p.done, p.expected, p.running, p.failed})
      if (v < 0 || v >= limit) return false;
    return true;
  };
  if (!sane(before) || !sane(after)) return {};
  int64_t done = std::max<int64_t>(0, after.done - before.done);
  int64_t failed = std::max<int64_t>(0, after.failed - before.failed);
  int64_t ended = std::max<int64_t>(0, before.running - after.running);
  ProgressStep s;
  s.ended_ok = std::min(done, ended);
  s.ended_failed = std::min(failed, ended - s.ended_ok);
  s.failed_unstarted = failed - s.ended_failed;
  return s;
}

namespace {

std::optional<int64_t> json_int(simdjson::dom::object o, std::string_view key) {
  simdjson::dom::element v;
  if (o[key].get(v)) return std::nullopt;
  int64_t i;
  if (!v.get_int64().get(i)) return i;
  uint64_t u;
  if (!v.get_uint64().get(u) && u <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(u);
  return std::nullopt;
}

std::string json_string(simdjson::dom::object o, std::string_view key) {
  std::string_view s;
  if (o[key].get_string().get(s)) return {};
  return std::string(s);
}

simdjson::dom::parser& payload_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

}  // namespace

std::optional<BuildResultPayload> parse_build_result(std::string_view payload_json) {
  simdjson::dom::object o;
  if (payload_parser().parse(payload_json.data(), payload_json.size()).get_object().get(o))
    return std::nullopt;
  BuildResultPayload r;
  r.status = json_string(o, "status");
  if (r.status.empty()) return std::nullopt;
  bool success = false;
  if (!o["success"].get_bool().get(success)) r.success = success;
  r.start_time_s = json_int(o, "startTime");
  r.stop_time_s = json_int(o, "stopTime");
  // CPU time is never negative: such a value is not a measurement (and would make the exported
  // counter go down).
  auto cpu = [&](std::string_view key) {
    auto v = json_int(o, key);
    return v && *v >= 0 ? v : std::nullopt;
  };
  r.cpu_user_us = cpu("cpuUser");
  r.cpu_system_us = cpu("cpuSystem");
  r.times_built = json_int(o, "timesBuilt");
  r.error_msg = json_string(o, "errorMsg");
  simdjson::dom::element path;
  if (!o["path"].get(path)) {
    std::string_view s;
    simdjson::dom::object built;
    if (!path.get_string().get(s)) {
      r.store_name = std::string(s);
    } else if (!path.get_object().get(built)) {
      // A derivation built from another's output (dynamic derivations) nests: not ours to name.
      r.drv_name = json_string(built, "drvPath");
    }
  }
  return r;
}

std::optional<std::string> parse_hash_mismatch(std::string_view payload_json) {
  simdjson::dom::object o;
  if (payload_parser().parse(payload_json.data(), payload_json.size()).get_object().get(o))
    return std::nullopt;
  std::string path = json_string(o, "storePath");
  if (path.empty()) return std::nullopt;
  return path;
}

std::optional<StatusMeaning> build_status_meaning(std::string_view status) {
  // BuildResult's status names (build-result.cc, Determinate Nix): success statuses first.
  static constexpr std::array<std::pair<std::string_view, StatusMeaning>, 17> table{{
      {"Built", {Outcome::success, {}}},
      {"Substituted", {Outcome::success, {}}},
      {"AlreadyValid", {Outcome::success, {}}},
      {"ResolvesToAlreadyValid", {Outcome::success, {}}},
      {"PermanentFailure", {Outcome::failed, FailureKind::builder}},
      {"TransientFailure", {Outcome::failed, FailureKind::builder}},
      {"MiscFailure", {Outcome::failed, FailureKind::builder}},
      {"CachedFailure", {Outcome::failed, FailureKind::builder}},
      {"OutputRejected", {Outcome::failed, FailureKind::builder}},
      {"NotDeterministic", {Outcome::failed, FailureKind::builder}},
      {"InputRejected", {Outcome::failed, FailureKind::rejected}},
      {"TimedOut", {Outcome::failed, FailureKind::timeout}},
      {"DependencyFailed", {Outcome::failed, FailureKind::dependency}},
      {"LogLimitExceeded", {Outcome::failed, FailureKind::log_limit}},
      {"HashMismatch", {Outcome::failed, FailureKind::hash_mismatch}},
      {"NoSubstituters", {Outcome::failed, {}}},
      {"Cancelled", {Outcome::cancelled, {}}},
  }};
  for (auto& [name, meaning] : table)
    if (name == status) return meaning;
  return std::nullopt;
}

std::string normalise_cache_uri(std::string_view uri) {
  if (uri.starts_with("s3://")) return std::string(uri.substr(0, uri.find('?')));
  return std::string(uri);
}

bool store_path_has_base(std::string_view path, std::string_view base) {
  return !base.empty() && path.size() > base.size() && path.ends_with(base) &&
         path[path.size() - base.size() - 1] == '/';
}

}  // namespace nixmon::nod
