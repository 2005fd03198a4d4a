#pragma once
// The project's one small exception hierarchy. Boundaries (a scrape per collector, an ingest loop
// per record, main) catch these; nothing else does.
#include <fmt/format.h>

#include <cerrno>
#include <stdexcept>
#include <string>

namespace nixmon {

// A failure with a message that is already fit for a person to read.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failed system call. Captures errno at construction, so build it before anything else that could
// overwrite errno.
class SysError : public Error {
 public:
  explicit SysError(const std::string& what) : SysError(errno, what) {}
  SysError(int err, const std::string& what);
  int error_number() const { return errno_; }

 private:
  int errno_;
};

// The user asked for something that cannot work (bad flag, bad value); main exits with status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace nixmon
