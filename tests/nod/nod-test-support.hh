#pragma once
// Helpers of the nod unit tests: feed a stream through a session into a vector of events.
#include <string>
#include <vector>

#include "common/sqlite.hh"
#include "ingest/line-splitter.hh"
#include "support/test-support.hh"
#include "tracking/activity-tracker.hh"
#include "tracking/log-session.hh"

namespace nixmon::nod::test {

struct Collected {
  Counters counters;
  std::vector<Event> events;
  ActivityTracker tracker{[this](Event&& e) {
                            events.push_back(std::move(e));
                            return true;
                          },
                          counters};

  template <typename T>
  std::vector<T> all() const {
    std::vector<T> out;
    for (auto& e : events)
      if (auto* v = std::get_if<T>(&e)) out.push_back(*v);
    return out;
  }
};

// Feeds `text` through a session of `input` kind, as one connection, in chunks of `chunk` bytes.
inline void feed(Collected& c, const std::string& text,
                 LogSession::Input input = LogSession::Input::internal_json, size_t chunk = 7,
                 size_t max_line = 1 << 20) {
  LogSession session(c.tracker, c.counters, input);
  LineSplitter splitter(max_line);
  Stamp t{1700000000000, 0};
  for (size_t off = 0; off < text.size();) {
    auto buf = splitter.writable();
    size_t n = std::min({buf.size(), chunk, text.size() - off});
    std::copy_n(text.data() + off, n, buf.data());
    off += n;
    t.wall_ms += 1;
    t.mono_ns += 1000000;
    session.set_stamp(t);
    splitter.commit(n, session);
  }
  splitter.finish(session);
}

// A query's rows as text, "a|b|" per line: compact expectations for database tests.
inline std::string dump(const sqlite::Database& db, const std::string& sql) {
  auto st = db.prepare(sql);
  std::string out;
  while (st.step()) {
    for (int i = 0; i < st.column_count(); ++i) out += st.column_text(i) + "|";
    out += "\n";
  }
  return out;
}

inline std::string fixture_log(const std::string& name) {
  return nixmon::test::read_text(nixmon::test::source_dir() / "tests/fixtures/nix-logs" / name);
}

}  // namespace nixmon::nod::test
