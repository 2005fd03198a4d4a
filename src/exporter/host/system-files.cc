#include "exporter/host/system-files.hh"

#include <simdjson.h>
#include <sys/stat.h>

#include <algorithm>

#include "common/store-path.hh"

namespace nixmon::exporter {

namespace {
std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::optional<std::string> non_empty(std::string s) {
  if (s.empty()) return std::nullopt;
  return s;
}
}  // namespace

NixosVersionJson parse_nixos_version_script(std::string_view script) {
  NixosVersionJson out;
  // The script holds the JSON on a line of its own (a here-document); find the one that parses
  // and has nixosVersion.
  std::size_t pos = 0;
  while (pos < script.size()) {
    auto end = script.find('\n', pos);
    if (end == std::string_view::npos) end = script.size();
    std::string line = trim(script.substr(pos, end - pos));
    pos = end + 1;
    if (line.size() < 2 || line.front() != '{' || line.find("nixosVersion") == std::string::npos) {
      continue;
    }
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(line).get(doc) != simdjson::SUCCESS) continue;
    auto field = [&](const char* key) -> std::optional<std::string> {
      std::string_view v;
      if (doc[key].get_string().get(v) != simdjson::SUCCESS) return std::nullopt;
      return non_empty(std::string(v));
    };
    out.nixos_version = field("nixosVersion");
    out.nixpkgs_revision = field("nixpkgsRevision");
    out.configuration_revision = field("configurationRevision");
    break;
  }
  return out;
}

std::optional<std::string> kernel_version_from_path(std::string_view kernel_path) {
  auto name = store_entry_of(kernel_path);
  if (!name) return std::nullopt;
  auto pname = strip_store_hash(*name);
  constexpr std::string_view prefix = "linux-";
  if (pname.substr(0, prefix.size()) != prefix || pname.size() == prefix.size())
    return std::nullopt;
  return std::string(pname.substr(prefix.size()));
}

SystemVersion read_system_version(const HostRoot& root, const std::string& system) {
  SystemVersion v;
  if (auto script = root.read_file(system + "/sw/bin/nixos-version")) {
    auto json = parse_nixos_version_script(*script);
    v.nixos_version = json.nixos_version;
    v.nixpkgs_revision = json.nixpkgs_revision;
    v.configuration_revision = json.configuration_revision;
  }
  if (!v.nixos_version) {
    if (auto text = root.read_file(system + "/nixos-version"))
      v.nixos_version = non_empty(trim(*text));
  }
  if (auto text = root.read_file(system + "/system")) v.system = non_empty(trim(*text));
  if (root.lstat(system + "/kernel")) {
    v.kernel_version = kernel_version_from_path(root.resolve(system + "/kernel"));
  }
  return v;
}

std::optional<std::chrono::sys_days> nixpkgs_date_from_version(std::string_view v) {
  auto digits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  // release "YY.MM", then the suffix
  auto dot = v.find('.');
  if (dot == std::string_view::npos || !digits(v.substr(0, dot))) return std::nullopt;
  auto rest = v.substr(dot + 1);
  std::size_t month_end = 0;
  while (month_end < rest.size() && rest[month_end] >= '0' && rest[month_end] <= '9') ++month_end;
  if (month_end == 0 || month_end >= rest.size() || rest[month_end] != '.') return std::nullopt;
  auto suffix = rest.substr(month_end + 1);
  auto stamp = suffix.substr(0, suffix.find('.'));
  if (stamp.size() != 8 || !digits(stamp) || stamp == "19700101") return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) {
    unsigned n = 0;
    for (char c : stamp.substr(pos, len)) n = n * 10 + static_cast<unsigned>(c - '0');
    return n;
  };
  std::chrono::year_month_day ymd{std::chrono::year(static_cast<int>(num(0, 4))),
                                  std::chrono::month(num(4, 2)), std::chrono::day(num(6, 2))};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd);
}

std::optional<NixImplementation> classify_nix_package(std::string_view store_name) {
  auto name = strip_store_hash(store_name);
  if (name.size() == store_name.size()) return std::nullopt;  // not a store object's name
  // Nix's rule for splitting a derivation name: the version starts after the first '-' that is
  // followed by something other than a letter.
  std::size_t dash = 0;
  for (;; ++dash) {
    dash = name.find('-', dash);
    if (dash == std::string_view::npos || dash + 1 >= name.size()) return std::nullopt;
    char next = name[dash + 1];
    if (!((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z'))) break;
  }
  auto pname = name.substr(0, dash);
  std::string version(name.substr(dash + 1));
  if (pname == "lix") return NixImplementation{"lix", version};
  if (pname == "determinate-nix") return NixImplementation{"determinate", version};
  if (pname == "nix") {
    bool major3 = version.size() > 2 && version[0] == '3' && version[1] == '.';
    return NixImplementation{major3 ? "determinate" : "nix", version};
  }
  return std::nullopt;
}

std::optional<NixImplementation> read_nix_implementation(const HostRoot& root,
                                                         const std::string& system) {
  // sw is a symlink tree (buildEnv): sw/bin/nix links into the package, which may itself link
  // on (nixpkgs' modular Nix is `lndir` of its nix-cli component).
  std::string path = root.resolve(system + "/sw/bin") + "/nix";
  if (!root.lstat(path)) return std::nullopt;
  for (int hop = 0; hop < 16; ++hop) {
    if (auto name = store_entry_of(path)) {
      if (auto impl = classify_nix_package(*name)) return impl;
    }
    auto st = root.lstat(path);
    if (!st || !S_ISLNK(st->st_mode)) break;
    auto link = root.read_link(path);  // gone since the lstat (a switch replacing sw): unknown
    if (!link || link->empty()) break;
    std::string target = *link;
    if (target.front() != '/') target = path.substr(0, path.rfind('/') + 1) + target;
    path = target;
  }
  return NixImplementation{"unknown", "unknown"};
}

}  // namespace nixmon::exporter
