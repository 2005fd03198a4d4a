#pragma once
// The synthetic json-log-path stream of nod's ingest benchmarks (nod-socket-bench,
// nod-parse-bench): the record shapes and key order of Nix's JSONLogger (nlohmann::json, keys
// sorted), the mix of a busy build host.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {

// One connection's records: builds with many log lines, phases and progress results (the bulk of
// a real stream), and a substitution every tenth build.
std::vector<std::string> make_stream(unsigned conn, size_t records) {
  std::vector<std::string> out;
  out.reserve(records + 64);
  uint64_t base = (static_cast<uint64_t>(conn) + 1000) << 32;
  uint64_t next = base + 1;
  uint64_t builds_id = next++;
  char buf[512];
  auto add = [&](int n) { out.emplace_back(buf, n); };
  add(std::snprintf(buf, sizeof buf,
                    "{\"action\":\"start\",\"id\":%llu,\"level\":0,\"text\":\"\",\"type\":104}\n",
                    (unsigned long long)builds_id));
  for (unsigned b = 0; out.size() < records; ++b) {
    uint64_t id = next++;
    char drv[128];
    std::snprintf(drv, sizeof drv, "/nix/store/%032u-bench-%u-%u.drv", b, conn, b);
    add(std::snprintf(buf, sizeof buf,
                      "{\"action\":\"start\",\"fields\":[\"%s\",\"\",1,1],\"id\":%llu,\"level\":3,"
                      "\"text\":\"building '%s'\",\"type\":105}\n",
                      drv, (unsigned long long)id, drv));
    static const char* phases[] = {"unpackPhase", "configurePhase", "buildPhase", "installPhase"};
    for (int p = 0; p < 4; ++p) {
      add(std::snprintf(buf, sizeof buf,
                        "{\"action\":\"result\",\"fields\":[\"%s\"],\"id\":%llu,\"type\":104}\n",
                        phases[p], (unsigned long long)id));
      for (int l = 0; l < 10; ++l)
        add(std::snprintf(buf, sizeof buf,
                          "{\"action\":\"result\",\"fields\":[\"gcc -O2 -c src/file-%d-%d.c -o "
                          "obj/file-%d-%d.o\"],\"id\":%llu,\"type\":101}\n",
                          p, l, p, l, (unsigned long long)id));
      add(std::snprintf(buf, sizeof buf,
                        "{\"action\":\"result\",\"fields\":[%u,%u,1,0],\"id\":%llu,\"type\":105}\n",
                        b, b + 10, (unsigned long long)builds_id));
    }
    add(std::snprintf(buf, sizeof buf, "{\"action\":\"stop\",\"id\":%llu}\n",
                      (unsigned long long)id));
    if (b % 10 == 0) {
      uint64_t s = next++, c = next++, f = next++;
      char path[128];
      std::snprintf(path, sizeof path, "/nix/store/%032u-dep-%u-%u", b, conn, b);
      add(std::snprintf(buf, sizeof buf,
                        "{\"action\":\"start\",\"fields\":[\"%s\",\"https://cache.example\"],"
                        "\"id\":%llu,\"level\":0,\"parent\":0,\"text\":\"\",\"type\":108}\n",
                        path, (unsigned long long)s));
      add(std::snprintf(buf, sizeof buf,
                        "{\"action\":\"start\",\"fields\":[\"%s\",\"https://cache.example\","
                        "\"local\"],\"id\":%llu,\"level\":3,\"parent\":%llu,\"text\":\"copying\","
                        "\"type\":100}\n",
                        path, (unsigned long long)c, (unsigned long long)s));
      add(std::snprintf(
          buf, sizeof buf,
          "{\"action\":\"start\",\"fields\":[\"https://cache.example/nar/%u.nar.xz\"],"
          "\"id\":%llu,\"level\":4,\"parent\":%llu,\"text\":\"\",\"type\":101}\n",
          b, (unsigned long long)f, (unsigned long long)c));
      for (int k = 1; k <= 5; ++k)
        add(std::snprintf(buf, sizeof buf,
                          "{\"action\":\"result\",\"fields\":[%d,500000,0,0],\"id\":%llu,"
                          "\"type\":105}\n",
                          k * 100000, (unsigned long long)f));
      for (uint64_t x : {f, c, s})
        add(std::snprintf(buf, sizeof buf, "{\"action\":\"stop\",\"id\":%llu}\n",
                          (unsigned long long)x));
    }
  }
  out.resize(records - 1);
  out.emplace_back(buf, std::snprintf(buf, sizeof buf, "{\"action\":\"stop\",\"id\":%llu}\n",
                                      (unsigned long long)builds_id));
  return out;
}

// The same record as Determinate Nix 3.20+ writes it: a "sid" key (the session's UUIDv7) in
// every record, in its sorted place (DeterminateSystems/nix-src src/libutil/logging.cc,
// JSONLogger::write).
inline std::string with_sid(const std::string& rec) {
  static const std::string sid = R"("sid":"01968a3c-7e2f-7c3a-9b1e-5d2f4a6b8c90")";
  std::string out = rec;
  for (const char* next : {",\"text\":", ",\"type\":"}) {
    if (auto pos = out.find(next); pos != std::string::npos) {
      out.insert(pos + 1, sid + ",");
      return out;
    }
  }
  auto brace = out.rfind('}');
  out.insert(brace, "," + sid);
  return out;
}

}  // namespace
