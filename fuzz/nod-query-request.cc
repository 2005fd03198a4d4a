// nod's query protocol: request lines from any local process that can reach the socket, answered
// by the daemon's real request table on a real (empty, then pruned) database. Property: an answer
// is always one line of JSON saying ok or not; nothing throws out of QueryService::answer.
#include <simdjson.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "query/protocol.hh"
#include "query/requests.hh"
#include "store/record-store.hh"

namespace {

// A scratch database for the whole run, removed at exit (replays run in ctest: no leftovers).
struct Fixture {
  std::string dir;
  nixmon::nod::QueryService service;
  Fixture() {
    // $TMPDIR first: a Nix build's sandbox points it at the build directory.
    const char* tmpdir = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/nod-fuzz-query-XXXXXX";
    if (!mkdtemp(tmpl.data())) std::abort();
    dir = tmpl;
    std::string db = dir + "/nod.db";
    { nixmon::nod::RecordStore create(db); }  // the schema, as the daemon makes it
    nixmon::nod::register_query_requests(service, db);
  }
  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

const nixmon::nod::QueryService& service() {
  static Fixture f;
  return f.service;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  std::string answer = service().answer(line);
  if (answer.find('\n') != std::string::npos) __builtin_trap();  // one line per answer
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(answer).get(doc) != simdjson::SUCCESS) __builtin_trap();
  bool ok;
  if (doc["ok"].get_bool().get(ok) != simdjson::SUCCESS) __builtin_trap();
  return 0;
}
