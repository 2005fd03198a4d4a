#include "daemon/heap-trimmer.hh"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace nixmon::nod;

namespace {

// Anonymous resident memory of this process (heap and stacks), KiB.
long anon_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("RssAnon:")) return std::stol(line.substr(8));
  return -1;
}

}  // namespace

TEST(HeapTrimmer, CallsItsTrimUntilDestroyed) {
  std::atomic<int> calls{0};
  {
    HeapTrimmer t(std::chrono::milliseconds(1), [&] {
      ++calls;
      return false;
    });
    for (int i = 0; i < 5000 && t.passes() < 3; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_GE(t.passes(), 3u);
  }
  int after = calls.load();
  EXPECT_GE(after, 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(calls.load(), after);  // stopped with the trimmer
}

// What the daemon's RSS needed (heap-trimmer.hh): free memory between live blocks, in a reader
// thread's arena, goes back to the system. glibc keeps it otherwise.
TEST(HeapTrimmer, ReturnsFreePagesInsideAThreadsHeap) {
#if !defined(__GLIBC__) || defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "glibc's allocator only";
#else
  std::vector<char*> kept;
  std::thread([&] {
    // 48 MiB in 1 KiB blocks; one block in 64 stays, pinning the heap so its top cannot shrink.
    std::vector<char*> blocks;
    for (int i = 0; i < 48 * 1024; ++i) {
      char* p = new char[1000];
      for (int j = 0; j < 1000; j += 256) p[j] = static_cast<char>(i);
      blocks.push_back(p);
    }
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (i % 64 == 63)
        kept.push_back(blocks[i]);
      else
        delete[] blocks[i];
    }
  }).join();
  long before = anon_rss_kib();
  trim_heap();
  long after = anon_rss_kib();
  for (char* p : kept) delete[] p;
  ASSERT_GT(before, 0);
  EXPECT_GT(before - after, 24 * 1024) << "RssAnon " << before << " KiB -> " << after << " KiB";
#endif
}
