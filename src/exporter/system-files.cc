#include "exporter/system-files.hh"

#include <simdjson.h>

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
  auto name = store_path_name(kernel_path);
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

}  // namespace nixmon::exporter
