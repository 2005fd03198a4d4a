#include "common/error.hh"

#include <cstring>

namespace nixmon {

void Error::add_context(std::string_view context) {
  message_ = fmt::format("{}: {}", context, message_);
}

std::string SysError::describe(int err, std::string what) {
  what += ": ";
  what += std::strerror(err);
  return what;
}

}  // namespace nixmon
