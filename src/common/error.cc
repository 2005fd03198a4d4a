#include "common/error.hh"

#include <cstring>

namespace nixmon {

SysError::SysError(int err, const std::string& what)
    : Error(what + ": " + std::strerror(err)), errno_(err) {}

}  // namespace nixmon
