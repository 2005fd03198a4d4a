#include "exporter/channel/root-channels.hh"

#include <algorithm>
#include <charconv>
#include <map>

#include "common/error.hh"
#include "common/store-path.hh"

namespace nixmon::exporter {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// A file's first line, trimmed; nullopt when absent or empty.
std::optional<std::string> first_line(const HostRoot& root, const std::string& path) {
  auto text = root.read_file(path, 4096);
  if (!text) return std::nullopt;
  std::string_view s = *text;
  s = trim(s.substr(0, s.find('\n')));
  if (s.empty()) return std::nullopt;
  return std::string(s);
}

}  // namespace

std::vector<ListedChannel> parse_channel_list(std::string_view text) {
  std::map<std::string, std::string> channels;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    // nix-channel: a line matching ^\s*# is a comment; words are separated by spaces only.
    auto first = line.find_first_not_of(" \t\r\f\v");
    if (first == std::string_view::npos || line[first] == '#') continue;
    std::vector<std::string_view> words;
    for (std::size_t i = 0; i < line.size();) {
      auto end = line.find(' ', i);
      if (end == std::string_view::npos) end = line.size();
      if (end > i) words.push_back(line.substr(i, end - i));
      i = end + 1;
    }
    if (words.empty()) continue;
    std::string_view url = words[0];
    while (!url.empty() && url.back() == '/') url.remove_suffix(1);
    if (url.empty()) continue;
    std::string name;
    if (words.size() > 1) {
      name = std::string(words[1]);
    } else {
      auto slash = url.rfind('/');
      name = std::string(slash == std::string_view::npos ? url : url.substr(slash + 1));
    }
    channels[name] = std::string(url);
  }
  std::vector<ListedChannel> out;
  for (auto& [name, url] : channels) out.push_back({name, url});
  return out;
}

std::optional<std::chrono::sys_days> release_date_from_version_suffix(std::string_view s) {
  s = trim(s);
  if (s.rfind("pre", 0) == 0) {
    s.remove_prefix(3);
  } else if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
  } else {
    return std::nullopt;
  }
  auto dot = s.find('.');
  if (dot != 8) return std::nullopt;  // a commit count ("1234") or something else
  unsigned value = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + 8, value);
  if (ec != std::errc{} || p != s.data() + 8) return std::nullopt;
  using namespace std::chrono;
  year_month_day ymd{year(static_cast<int>(value / 10000)), month(value / 100 % 100),
                     day(value % 100)};
  if (!ymd.ok() || ymd.year() < year(2000) || ymd.year() > year(2200)) return std::nullopt;
  return sys_days(ymd);
}

void read_root_channel_list(const HostRoot& root, RootChannels& out) {
  for (std::string_view list : {root_channel_list, root_channel_list_xdg}) {
    try {
      auto text = root.read_file(list, 1 << 20);
      if (!text) continue;
      out.listed = parse_channel_list(*text);
    } catch (const Error& e) {
      out.list_error = e.what();
    }
    break;
  }
}

RootChannels read_root_channels(const HostRoot& root) {
  RootChannels out;
  read_root_channel_list(root, out);
  std::string profile(root_channels_profile);
  auto target = root.read_link(profile);
  if (!target) return out;
  // "channels-12-link": the generation nix-env made; its mtime is when it was made (nix-env
  // --list-generations dates generations the same way).
  std::string_view link = *target;
  link = link.substr(link.rfind('/') == std::string_view::npos ? 0 : link.rfind('/') + 1);
  constexpr std::string_view prefix = "channels-", suffix = "-link";
  if (link.size() > prefix.size() + suffix.size() && link.substr(0, prefix.size()) == prefix &&
      link.substr(link.size() - suffix.size()) == suffix) {
    auto digits = link.substr(prefix.size(), link.size() - prefix.size() - suffix.size());
    long n = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc{} && p == digits.data() + digits.size()) {
      out.generation = n;
      std::string gen_link = profile.substr(0, profile.rfind('/') + 1) + std::string(link);
      if (auto st = root.lstat(gen_link))
        out.updated_at = std::chrono::system_clock::from_time_t(st->st_mtim.tv_sec);
    }
  }
  auto names = root.list_dir(profile);
  if (!names) return out;
  for (const auto& name : *names) {
    if (name == "manifest.nix") continue;
    std::string path = profile + "/" + name;
    auto st = root.stat(path);
    if (!st || !S_ISDIR(st->st_mode)) continue;
    InstalledChannel c;
    c.name = name;
    std::string resolved = root.resolve(path);
    if (auto store = store_entry_of(resolved)) c.store_name = std::string(*store);
    c.revision = first_line(root, path + "/.git-revision");
    auto version = first_line(root, path + "/.version");
    auto suffix = first_line(root, path + "/.version-suffix");
    if (version) c.version = *version + suffix.value_or("");
    if (suffix) c.release_date = release_date_from_version_suffix(*suffix);
    out.installed.push_back(std::move(c));
  }
  return out;
}

}  // namespace nixmon::exporter
