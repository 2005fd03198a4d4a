// A whole connection's byte stream into nod: line splitting (chunk boundaries anywhere, a small
// line limit so over-long lines are exercised), parsing, and the activity tracker's state machine
// across two connections that share activity ids (as a nix client and a daemon worker do).
#include <algorithm>
#include <cstring>
#include <string_view>

#include "ingest/counters.hh"
#include "ingest/line-splitter.hh"
#include "tracking/activity-tracker.hh"
#include "tracking/log-session.hh"

using namespace nixmon::nod;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t chunk = 1 + data[0] % 64;  // read sizes
  ++data;
  --size;
  Counters counters;
  size_t events = 0;
  ActivityTracker tracker(
      [&](Event&&) {
        ++events;
        return true;
      },
      counters);
  {
    LogSession first(tracker, counters, LogSession::Input::json_log_path);
    LogSession second(tracker, counters, LogSession::Input::internal_json);
    LineSplitter split_first(512, 64), split_second(512, 64);
    int64_t t = 0;
    for (size_t at = 0; at < size; at += chunk) {
      size_t n = std::min(chunk, size - at);
      // Alternate connections chunk by chunk; each sees the same bytes, as the client re-sends
      // the daemon's records.
      for (auto [session, splitter] : {std::pair{&first, &split_first}, {&second, &split_second}}) {
        session->set_stamp({1700000000000 + t, t * 1000000});
        size_t done = 0;
        while (done < n) {
          auto w = splitter->writable();
          size_t k = std::min(w.size(), n - done);
          std::memcpy(w.data(), data + at + done, k);
          splitter->commit(k, *session);
          done += k;
        }
      }
      ++t;
    }
  }
  // Both connections closed: nothing may stay in flight.
  if (tracker.in_flight() != 0) __builtin_trap();
  return 0;
}
