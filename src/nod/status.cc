// `nod status`: the daemon's counters through the query protocol (docs/nod-protocol.md).
#include <fmt/format.h>

#include <cstdio>

#include "nod/options.hh"
#include "nod/query-protocol.hh"

namespace nixmon::nod {

int run_status(const NodOptions& g) {
  QueryClient client(g.socket);
  std::string answer = client.request(R"({"request":"status"})");
  fmt::print("{}\n", answer);
  return answer.starts_with(R"({"ok":true)") ? 0 : 1;
}

}  // namespace nixmon::nod
