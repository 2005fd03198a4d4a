#include "daemon/options.hh"

#include <fmt/format.h>

#include "common/error.hh"

namespace nixmon::nod {

unsigned parse_mode(const std::string& s) {
  size_t pos = 0;
  unsigned long v = 0;
  try {
    v = std::stoul(s, &pos, 8);
  } catch (...) {
    pos = 0;
  }
  if (pos != s.size() || s.empty() || v > 07777)
    throw UsageError(fmt::format("--socket-mode '{}' is not an octal file mode like 0666", s));
  return static_cast<unsigned>(v);
}

}  // namespace nixmon::nod
