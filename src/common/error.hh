#pragma once
// The project's one small exception hierarchy. Boundaries (a scrape per collector, an ingest loop
// per record, main) catch these; nothing else does, except where a caller expects one errno (a
// file that may be gone: ENOENT) and names it (SysError::is).
//
// Context is added on the way up: a caller that knows what the failing call was for catches,
// calls add_context("while reading the GC roots") and rethrows, so the message reads from the
// outermost purpose down to the system call.
#include <fmt/format.h>

#include <cerrno>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

namespace nixmon {

// A failure with a message that is already fit for a person to read.
class Error : public std::exception {
 public:
  explicit Error(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

  // Prepends "<context>: " to the message ("while reading '/etc/x': cannot open ...").
  void add_context(std::string_view context);

 protected:
  void set_message(std::string message) { message_ = std::move(message); }

 private:
  std::string message_;
};

// A failed system call. errno is read first, in the constructor, before the message is formatted
// from the arguments (which is why there is no constructor taking a ready-made message: building
// one with string concatenation may allocate, and an allocation may overwrite errno). Pass cheap
// arguments (a path's c_str(), a string you already have) and let the format string do the rest.
class SysError : public Error {
 public:
  // "<formatted>: <strerror(errno)>", errno as it was when the constructor started.
  template <typename... Args>
  explicit SysError(fmt::format_string<Args...> f, Args&&... args)
      : Error(std::string()), errno_(errno) {
    set_message(describe(errno_, fmt::format(f, std::forward<Args>(args)...)));
  }
  // The same with an errno the caller already has (a return value, a saved errno).
  template <typename... Args>
  SysError(int err, fmt::format_string<Args...> f, Args&&... args)
      : Error(std::string()), errno_(err) {
    set_message(describe(errno_, fmt::format(f, std::forward<Args>(args)...)));
  }

  int error_number() const { return errno_; }
  bool is(int err) const { return errno_ == err; }

 private:
  static std::string describe(int err, std::string what);
  int errno_;
};

// The user asked for something that cannot work (bad flag, bad value); main exits with status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace nixmon
