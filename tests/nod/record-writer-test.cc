#include "store/record-writer.hh"

#include <gtest/gtest.h>

#include "common/clock.hh"
#include "nod-test-support.hh"
#include "store/record-store.hh"

using namespace nixmon;
using namespace nixmon::nod;
using nixmon::nod::test::dump;

namespace {

constexpr int64_t day_ms = 86400000;
constexpr int64_t t0 = 1763683200000;  // 2025-11-21T00:00:00Z

BuildRow build(std::string name, int64_t start) {
  BuildRow b;
  b.span = {1, start, start + 1000, 1000, Outcome::success};
  b.drv_path = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-" + name + ".drv";
  b.name = name;
  b.machine = "local";
  return b;
}

// Writes an old and a recent build through a writer whose clock stands at `now_ms`, keeping two
// days; returns the names left and the pruned count.
std::pair<std::string, uint64_t> write_and_retain(int64_t now_ms) {
  nixmon::test::TempDir dir;
  std::string db = (dir.path() / "nod.db").string();
  Counters counters;
  {
    WriterOptions o;
    o.db_path = db;
    o.retain_days = 2;
    o.flush_interval = std::chrono::seconds(30);  // the first batch is never an empty one
    o.clock = std::make_shared<ManualClock>(now_ms);
    RecordWriter writer(o, counters);
    writer.submit_wait(build("old", t0));
    writer.submit_wait(build("recent", t0 + 10 * day_ms - 3600000));
    writer.close();
  }
  RecordStore store(db);
  return {dump(store.db(), "SELECT name FROM builds ORDER BY name"), counters.pruned_rows.load()};
}

}  // namespace

// Retention dates its cut-off by the injected wall clock, not the machine's: a writer whose
// clock says 2025-12-01 removes a build of 2025-11-21 and keeps one of 2025-11-30.
TEST(RecordWriter, RetentionFollowsTheInjectedClock) {
  EXPECT_EQ(write_and_retain(t0 + 10 * day_ms),
            std::make_pair(std::string("recent|\n"), uint64_t{1}));
  // On 2025-11-22 both are younger than two days (the machine's clock would prune both).
  EXPECT_EQ(write_and_retain(t0 + day_ms),
            std::make_pair(std::string("old|\nrecent|\n"), uint64_t{0}));
}
