#include "common/error.hh"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

using namespace nixmon;

namespace {

// An argument whose formatting overwrites errno, as an allocation or a locale lookup may.
struct ClobbersErrno {};

}  // namespace

template <>
struct fmt::formatter<ClobbersErrno> : fmt::formatter<std::string_view> {
  auto format(ClobbersErrno, fmt::format_context& ctx) const {
    errno = EINVAL;
    return fmt::formatter<std::string_view>::format("x", ctx);
  }
};

TEST(SysError, ReadsErrnoBeforeTheMessageIsBuilt) {
  errno = EIO;
  SysError e("cannot read '{}'", ClobbersErrno{});
  EXPECT_EQ(e.error_number(), EIO);
  EXPECT_TRUE(e.is(EIO));
  EXPECT_EQ(std::string(e.what()), std::string("cannot read 'x': ") + std::strerror(EIO));
}

TEST(SysError, TakesAnErrnoTheCallerSaved) {
  errno = 0;
  SysError e(EMFILE, "cannot open '{}'", "/proc/1/fd");
  EXPECT_EQ(e.error_number(), EMFILE);
  EXPECT_EQ(std::string(e.what()),
            std::string("cannot open '/proc/1/fd': ") + std::strerror(EMFILE));
}

TEST(Error, ContextIsAddedOnTheWayUp) {
  try {
    try {
      errno = ENOENT;
      throw SysError("cannot open '{}'", "/etc/x");
    } catch (Error& e) {
      e.add_context("while reading the web config");
      throw;
    }
  } catch (const SysError& e) {
    EXPECT_EQ(e.error_number(), ENOENT);  // still the same exception, still a SysError
    EXPECT_EQ(std::string(e.what()), std::string("while reading the web config: cannot open "
                                                 "'/etc/x': ") +
                                         std::strerror(ENOENT));
  }
  UsageError u("bad flag");
  u.add_context("--path.root");
  EXPECT_STREQ(u.what(), "--path.root: bad flag");
}
