#include "common/top-level.hh"

#include <gtest/gtest.h>

#include <stdexcept>

#include "common/error.hh"

using namespace nixmon;

namespace {

std::pair<int, std::string> run(const std::function<int()>& body) {
  testing::internal::CaptureStderr();
  int status = run_top_level("prog", body);
  return {status, testing::internal::GetCapturedStderr()};
}

}  // namespace

TEST(TopLevel, ExitStatusAndOneMessage) {
  EXPECT_EQ(run([] { return 0; }), std::make_pair(0, std::string()));
  EXPECT_EQ(run([] { return 3; }).first, 3);
  EXPECT_EQ(run([]() -> int { throw UsageError("--x: bad value"); }),
            std::make_pair(2, std::string("prog: error: --x: bad value\n")));
  EXPECT_EQ(run([]() -> int {
              errno = ENOENT;
              throw SysError("cannot open '{}'", "/nowhere");
            }),
            std::make_pair(1, std::string("prog: error: cannot open '/nowhere': No such file or "
                                          "directory\n")));
  EXPECT_EQ(run([]() -> int { throw std::runtime_error("boom"); }),
            std::make_pair(1, std::string("prog: error: boom\n")));
  EXPECT_EQ(run([]() -> int { throw 42; }).first, 1);
}
