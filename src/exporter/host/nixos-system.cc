#include "exporter/host/nixos-system.hh"

#include <algorithm>
#include <limits>

#include "common/error.hh"

namespace nixmon::exporter {

namespace {
std::pair<std::string_view, std::string_view> split_profile(std::string_view profile) {
  auto slash = profile.rfind('/');
  return {profile.substr(0, slash), profile.substr(slash + 1)};
}
}  // namespace

std::optional<std::uint64_t> parse_generation_link(std::string_view name,
                                                   std::string_view profile_name) {
  constexpr std::string_view suffix = "-link";
  if (name.size() <= profile_name.size() + 1 + suffix.size()) return std::nullopt;
  if (name.substr(0, profile_name.size()) != profile_name || name[profile_name.size()] != '-') {
    return std::nullopt;
  }
  if (name.substr(name.size() - suffix.size()) != suffix) return std::nullopt;
  auto digits =
      name.substr(profile_name.size() + 1, name.size() - profile_name.size() - 1 - suffix.size());
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

std::vector<Generation> list_generations(const HostRoot& root, std::string_view profile) {
  auto [dir, name] = split_profile(profile);
  auto entries = root.list_dir(dir);
  if (!entries) {
    throw Error(fmt::format("{} does not exist under {}: not a NixOS host, or a wrong --path.root",
                            dir, root.root().string()));
  }
  std::vector<Generation> out;
  for (const auto& entry : *entries) {
    auto number = parse_generation_link(entry, name);
    if (!number) continue;
    std::string link = std::string(dir) + "/" + entry;
    out.push_back({*number, link, root.resolve(link)});
  }
  std::sort(out.begin(), out.end(),
            [](const Generation& a, const Generation& b) { return a.number < b.number; });
  return out;
}

std::optional<std::string> resolve_system(const HostRoot& root, std::string_view link) {
  if (!root.lstat(link)) return std::nullopt;
  return root.resolve(link);
}

const Generation* find_generation(const std::vector<Generation>& generations,
                                  std::string_view system, std::optional<std::uint64_t> preferred) {
  const Generation* found = nullptr;
  for (const auto& g : generations) {
    if (g.target != system) continue;
    if (preferred && g.number == *preferred) return &g;
    found = &g;  // sorted by number: the last match is the newest
  }
  return found;
}

std::optional<std::uint64_t> profile_generation(const HostRoot& root, std::string_view profile) {
  auto target = root.read_link(profile);
  if (!target) return std::nullopt;
  auto [dir, name] = split_profile(profile);
  std::string_view t = *target;
  if (auto slash = t.rfind('/'); slash != std::string_view::npos) t = t.substr(slash + 1);
  return parse_generation_link(t, name);
}

}  // namespace nixmon::exporter
