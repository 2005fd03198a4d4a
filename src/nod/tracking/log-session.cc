#include "tracking/log-session.hh"

namespace nixmon::nod {

LogSession::LogSession(ActivityTracker& tracker, Counters& counters, Input input,
                       WriterIdentity writer)
    : tracker_(tracker),
      counters_(counters),
      input_(input),
      conn_(tracker.open_connection(writer)) {}

LogSession::LogSession(ActivityTracker& tracker, Counters& counters, Input input,
                       ConnectionId opened)
    : tracker_(tracker), counters_(counters), input_(input), conn_(opened) {}

LogSession::~LogSession() {
  tracker_.close_connection(conn_, Stamp::now(tracker_.clock()));
}

void LogSession::too_long() {
  counters_.add_malformed(Malformed::line_too_long);
}

size_t record_prefix_length(std::string_view line) {
  constexpr std::string_view prefix = "@nix ";
  if (line.starts_with(prefix)) return prefix.size();
  if (line.size() > 3 && line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>' &&
      line.substr(3).starts_with(prefix))
    return 3 + prefix.size();
  return 0;
}

void LogSession::line(std::string_view line, size_t capacity) {
  if (size_t prefix = record_prefix_length(line)) {
    line.remove_prefix(prefix);
    capacity -= prefix;
  } else if (input_ == Input::internal_json) {
    // Nix's plain stderr (and the builder's, with -L) interleaves with the records.
    counters_.plain_lines.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  bool repaired = false;
  auto parsed = parser_.parse(line, capacity, &repaired);
  if (repaired) counters_.utf8_repaired.fetch_add(1, std::memory_order_relaxed);
  if (auto* bad = std::get_if<Malformed>(&parsed)) {
    counters_.add_malformed(*bad);
    return;
  }
  const LogRecord& rec = std::get<LogRecord>(parsed);
  counters_.records.fetch_add(1, std::memory_order_relaxed);
  counters_.by_action[static_cast<size_t>(rec.action)].fetch_add(1, std::memory_order_relaxed);
  tracker_.handle(conn_, rec, stamp_, line);
}

}  // namespace nixmon::nod
