// The golden-file helpers every golden test goes through: a mismatch fails with a unified diff,
// and the accept switch (NIXMON_ACCEPT=1) rewrites a differing file and reports the test skipped,
// never passed, with the diff of what it wrote; an equal file passes and is left alone.
#include "support/test-support.hh"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace nixmon::test {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

// The results expect_golden_file reports, caught here instead of deciding this test's outcome.
void compare(const fs::path& path, const std::string& actual, bool accept,
             testing::TestPartResultArray& results) {
  testing::ScopedFakeTestPartResultReporter reporter(
      testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
  expect_golden_file(path, "tests/x/golden.txt", actual, accept);
}

TEST(GoldenAccept, DifferingGoldenIsRewrittenAndTheTestSkippedWithTheDiff) {
  TempDir tmp;
  fs::path golden = tmp.path() / "golden.txt";
  write(golden, "one\ntwo\nthree\n");
  testing::TestPartResultArray results;
  compare(golden, "one\n2\nthree\n", true, results);
  ASSERT_EQ(results.size(), 1);
  const testing::TestPartResult& r = results.GetTestPartResult(0);
  EXPECT_TRUE(r.skipped()) << r;
  EXPECT_NE(std::string(r.message()).find("NIXMON_ACCEPT=1 rewrote tests/x/golden.txt"),
            std::string::npos)
      << r.message();
  EXPECT_NE(std::string(r.message())
                .find("--- a/tests/x/golden.txt\n+++ b/tests/x/golden.txt\n"
                      "@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n"),
            std::string::npos)
      << r.message();
  EXPECT_EQ(read_text(golden), "one\n2\nthree\n");
}

TEST(GoldenAccept, MissingGoldenIsCreatedAndTheTestSkipped) {
  TempDir tmp;
  fs::path golden = tmp.path() / "new" / "golden.txt";
  testing::TestPartResultArray results;
  compare(golden, "a\n", true, results);
  ASSERT_EQ(results.size(), 1);
  EXPECT_TRUE(results.GetTestPartResult(0).skipped());
  EXPECT_NE(std::string(results.GetTestPartResult(0).message()).find("created"), std::string::npos);
  EXPECT_EQ(read_text(golden), "a\n");
}

TEST(GoldenAccept, EqualGoldenPassesAndIsNotWritten) {
  TempDir tmp;
  fs::path golden = tmp.path() / "golden.txt";
  write(golden, "same\n");
  // An old mtime, so that a rewrite of the same bytes would show.
  fs::last_write_time(golden, fs::file_time_type::clock::now() - std::chrono::hours(24));
  auto before = fs::last_write_time(golden);
  testing::TestPartResultArray results;
  compare(golden, "same\n", true, results);
  EXPECT_EQ(results.size(), 0);
  EXPECT_EQ(fs::last_write_time(golden), before);
}

TEST(GoldenCompare, MismatchFailsWithTheDiffAndLeavesTheFile) {
  TempDir tmp;
  fs::path golden = tmp.path() / "golden.txt";
  write(golden, "one\ntwo\n");
  testing::TestPartResultArray results;
  compare(golden, "one\nTWO\n", false, results);
  ASSERT_EQ(results.size(), 1);
  const testing::TestPartResult& r = results.GetTestPartResult(0);
  EXPECT_TRUE(r.nonfatally_failed()) << r;
  EXPECT_NE(std::string(r.message()).find("@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n"), std::string::npos)
      << r.message();
  EXPECT_EQ(read_text(golden), "one\ntwo\n");
}

TEST(GoldenCompare, MissingGoldenFailsWithoutAccept) {
  TempDir tmp;
  testing::TestPartResultArray results;
  compare(tmp.path() / "golden.txt", "a\n", false, results);
  ASSERT_EQ(results.size(), 1);
  EXPECT_TRUE(results.GetTestPartResult(0).nonfatally_failed());
  EXPECT_FALSE(fs::exists(tmp.path() / "golden.txt"));
}

TEST(UnifiedDiff, EqualTextsHaveNoDiff) {
  EXPECT_EQ(unified_diff("a\nb\n", "a\nb\n", "f"), "");
}

// The expected texts are what GNU diffutils 3.8's `diff -u` prints for the same two files (headers
// aside): hunks with three lines of context, changes less than seven lines apart in one hunk.
TEST(UnifiedDiff, HunksAsDiffPrintsThem) {
  std::string e, a;
  for (int i = 1; i <= 20; ++i) {
    e += std::to_string(i) + "\n";
    if (i == 2) continue;  // removed
    a += (i == 8 ? std::string("eight") : std::to_string(i)) + "\n";
    if (i == 18) a += "18b\n";  // added
  }
  EXPECT_EQ(unified_diff(e, a, "f"),
            "--- a/f\n+++ b/f\n"
            "@@ -1,11 +1,10 @@\n 1\n-2\n 3\n 4\n 5\n 6\n 7\n-8\n+eight\n 9\n 10\n 11\n"
            "@@ -16,5 +15,6 @@\n 16\n 17\n 18\n+18b\n 19\n 20\n");
}

TEST(UnifiedDiff, EmptySidesAndAMissingFinalNewline) {
  EXPECT_EQ(unified_diff("", "x\n", "f"), "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+x\n");
  EXPECT_EQ(unified_diff("x\n", "", "f"), "--- a/f\n+++ b/f\n@@ -1 +0,0 @@\n-x\n");
  EXPECT_EQ(unified_diff("x\n", "x", "f"),
            "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-x\n+x\n\\ No newline at end of file\n");
}

}  // namespace
}  // namespace nixmon::test
