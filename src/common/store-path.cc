#include "common/store-path.hh"

#include <fmt/format.h>

namespace nixmon {

namespace {

// Nix's base-32 alphabet: digits and lower-case letters without e, o, u and t.
bool is_base32(char c) {
  return (c >= '0' && c <= '9') ||
         (c >= 'a' && c <= 'z' && c != 'e' && c != 'o' && c != 'u' && c != 't');
}

bool is_name_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' ||
         c == '-' || c == '.' || c == '_' || c == '?' || c == '=';
}

// The rule broken by `name`, or nullopt; checkName's order, so the first broken rule is named.
std::optional<std::string> name_problem(std::string_view name) {
  if (name.empty()) return "name must not be empty";
  if (name.size() > StorePath::max_name_len)
    return fmt::format("name must be no longer than {} characters", StorePath::max_name_len);
  // "." and ".." are not names, nor are they the first dash-separated component.
  if (name == "." || name == "..") return fmt::format("name '{}' is not valid", name);
  if (name.starts_with(".-") || name.starts_with("..-"))
    return fmt::format("first dash-separated component must not be '{}'",
                       name.substr(0, name.find('-')));
  for (char c : name) {
    if (!is_name_char(c))
      return fmt::format("name contains illegal character '{}'",
                         c >= 0x20 && c < 0x7f
                             ? std::string(1, c)
                             : fmt::format("\\x{:02x}", static_cast<unsigned char>(c)));
  }
  return std::nullopt;
}

std::optional<std::string> base_name_problem(std::string_view base) {
  // Nix 2.28 only checks the length here and takes the name from after the hash part and one more
  // character; a base name whose separator is not '-' cannot be one Nix made, so it is rejected.
  if (base.size() < StorePath::hash_len + 1 || base[StorePath::hash_len] != '-')
    return "too short to be a store path, or no '-' after the 32-character hash part";
  for (char c : base.substr(0, StorePath::hash_len)) {
    if (!is_base32(c)) return fmt::format("illegal base-32 character '{}' in the hash part", c);
  }
  return name_problem(base.substr(StorePath::hash_len + 1));
}

}  // namespace

void check_store_path_name(std::string_view name) {
  if (auto why = name_problem(name)) throw BadStorePath(fmt::format("'{}': {}", name, *why));
}

StorePath::StorePath(std::string_view base_name) : base_name_(base_name) {
  if (auto why = base_name_problem(base_name))
    throw BadStorePath(fmt::format("'{}' is not a valid store path: {}", base_name, *why));
}

std::optional<StorePath> StorePath::maybe(std::string_view base_name) {
  if (base_name_problem(base_name)) return std::nullopt;
  return StorePath(base_name);
}

StoreDir::StoreDir(std::string dir) : dir_(std::move(dir)) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
}

std::optional<std::string_view> StoreDir::entry_of(std::string_view path) const {
  return store_entry_of(path, dir_);
}

std::optional<std::string_view> store_entry_of(std::string_view path, std::string_view store_dir) {
  if (!path.starts_with(store_dir) || path.size() <= store_dir.size() + 1 ||
      path[store_dir.size()] != '/')
    return std::nullopt;
  auto rest = path.substr(store_dir.size() + 1);
  auto entry = rest.substr(0, rest.find('/'));
  if (entry.empty()) return std::nullopt;
  return entry;
}

StorePath StoreDir::parse(std::string_view path) const {
  auto entry = entry_of(path);
  if (!entry || path.size() != dir_.size() + 1 + entry->size())
    throw BadStorePath(fmt::format("path '{}' is not in the Nix store {}", path, dir_));
  if (auto why = base_name_problem(*entry))
    throw BadStorePath(fmt::format("path '{}' is not a valid store path: {}", path, *why));
  return StorePath(*entry);
}

std::optional<StorePath> StoreDir::maybe_parse(std::string_view path) const {
  auto entry = entry_of(path);
  if (!entry || path.size() != dir_.size() + 1 + entry->size()) return std::nullopt;
  return StorePath::maybe(*entry);
}

std::string StoreDir::print(const StorePath& p) const {
  return fmt::format("{}/{}", dir_, p.base_name());
}

std::string_view strip_store_hash(std::string_view base_name) {
  if (base_name.size() > StorePath::hash_len + 1 && base_name[StorePath::hash_len] == '-')
    return base_name.substr(StorePath::hash_len + 1);
  return base_name;
}

std::string_view display_name(std::string_view path) {
  auto slash = path.rfind('/');
  auto name = strip_store_hash(slash == std::string_view::npos ? path : path.substr(slash + 1));
  if (name.size() > StorePath::drv_extension.size() && name.ends_with(StorePath::drv_extension))
    name.remove_suffix(StorePath::drv_extension.size());
  return name;
}

}  // namespace nixmon
