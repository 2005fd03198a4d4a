#include "support/test-support.hh"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "common/sqlite.hh"

namespace nixmon::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "nixmon-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  // Tests make unreadable directories; make them removable again first.
  for (auto it = fs::recursive_directory_iterator(
           path_, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec))
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
  }
  fs::remove_all(path_, ec);
}

fs::path source_dir() {
  return NIXMON_SOURCE_DIR;
}

fs::path fixture_root(std::string_view name) {
  return source_dir() / "tests" / "fixtures" / "roots" / std::string(name);
}

void copy_tree(const fs::path& from, const fs::path& to) {
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
}

void make_empty_nix_store(const fs::path& root) {
  fs::path fixture = source_dir() / "tests/fixtures/store-db/nix-2.8-empty";
  std::istringstream layout(read_text(fixture / "layout"));
  for (std::string line; std::getline(layout, line);) {
    if (line.rfind("dir ", 0) == 0) {
      fs::create_directories(root / line.substr(4));
    } else if (auto arrow = line.find(" -> ");
               line.rfind("symlink ", 0) == 0 && arrow != line.npos) {
      std::string target = line.substr(arrow + 4);
      if (target.rfind("${root}", 0) == 0) target = root.string() + target.substr(7);
      fs::path link = root / line.substr(8, arrow - 8);
      if (fs::is_symlink(link)) fs::remove(link);  // Nix replaces its links on every start
      fs::create_symlink(target, link);
    } else if (!line.empty()) {
      throw std::runtime_error("unknown line in " + (fixture / "layout").string() + ": " + line);
    }
  }
  fs::path db = root / "nix/var/nix/db";
  fs::copy_file(fixture / "schema", db / "schema", fs::copy_options::overwrite_existing);
  sqlite::Database((db / "db.sqlite").string(), sqlite::Database::Mode::create)
      .exec(read_text(fixture / "db.sql"));
}

void set_link_mtime(const fs::path& link, long seconds) {
  struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
  if (utimensat(AT_FDCWD, link.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    throw std::runtime_error("utimensat " + link.string());
  }
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& path, std::string_view text) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

namespace {

// Lines with their '\n' (a last line without one keeps none), so that a missing final newline is a
// difference too, as in diff(1).
std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos < s.size();) {
    std::size_t nl = s.find('\n', pos);
    std::size_t end = nl == std::string::npos ? s.size() : nl + 1;
    out.push_back(s.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

// One line of the edit script; `e` and `a` count the expected and actual lines before it.
struct Edit {
  char kind;  // ' ' kept, '-' only in expected, '+' only in actual
  std::size_t e, a;
};

// The shortest edit script by longest common subsequence, on what is left between the common
// first and last lines. Goldens are small; past a few million cells the middle is shown as all
// removed then all added, which is still a correct diff.
std::vector<Edit> edit_script(const std::vector<std::string>& e,
                              const std::vector<std::string>& a) {
  std::size_t pre = 0;
  while (pre < e.size() && pre < a.size() && e[pre] == a[pre]) ++pre;
  std::size_t suf = 0;
  while (suf < e.size() - pre && suf < a.size() - pre &&
         e[e.size() - 1 - suf] == a[a.size() - 1 - suf])
    ++suf;
  std::size_t n = e.size() - pre - suf, m = a.size() - pre - suf;
  std::vector<Edit> out;
  std::size_t i = 0, j = 0;
  auto push = [&](char kind) {
    out.push_back({kind, i, j});
    if (kind != '+') ++i;
    if (kind != '-') ++j;
  };
  while (i < pre) push(' ');
  if (n * m <= 4'000'000) {
    // lcs[x][y]: length of the LCS of e[pre+x..] and a[pre+y..] within the middle.
    std::vector<std::uint32_t> lcs((n + 1) * (m + 1), 0);
    auto at = [&](std::size_t x, std::size_t y) -> std::uint32_t& { return lcs[x * (m + 1) + y]; };
    for (std::size_t x = n; x-- > 0;)
      for (std::size_t y = m; y-- > 0;)
        at(x, y) =
            e[pre + x] == a[pre + y] ? at(x + 1, y + 1) + 1 : std::max(at(x + 1, y), at(x, y + 1));
    std::size_t x = 0, y = 0;
    while (x < n || y < m) {
      if (x < n && y < m && e[pre + x] == a[pre + y]) {
        push(' '), ++x, ++y;
      } else if (x < n && (y == m || at(x + 1, y) >= at(x, y + 1))) {
        push('-'), ++x;  // removals first, as diff(1) prints them
      } else {
        push('+'), ++y;
      }
    }
  } else {
    for (std::size_t x = 0; x < n; ++x) push('-');
    for (std::size_t y = 0; y < m; ++y) push('+');
  }
  while (i < e.size()) push(' ');
  return out;
}

std::string hunk_range(std::size_t first, std::size_t count) {
  // diff(1): "first,count", the count left out when 1; an empty range names the line before it.
  if (count == 1) return std::to_string(first + 1);
  return std::to_string(count == 0 ? first : first + 1) + "," + std::to_string(count);
}

}  // namespace

std::string unified_diff(const std::string& expected, const std::string& actual,
                         std::string_view name) {
  if (expected == actual) return {};
  auto e = split_lines(expected), a = split_lines(actual);
  std::vector<Edit> edits = edit_script(e, a);
  constexpr std::size_t context = 3;
  std::ostringstream out;
  out << "--- a/" << name << "\n+++ b/" << name << "\n";
  auto changed = [&](std::size_t k) { return edits[k].kind != ' '; };
  for (std::size_t k = 0; k < edits.size();) {
    std::size_t first = k;
    while (first < edits.size() && !changed(first)) ++first;
    if (first == edits.size()) break;
    std::size_t start = std::max(k, first >= context ? first - context : 0);
    // Changes closer than twice the context share one hunk.
    std::size_t end = first + 1;
    for (std::size_t next = end; next < edits.size() && next < end + 2 * context + 1; ++next)
      if (changed(next)) end = next + 1;
    std::size_t stop = std::min(edits.size(), end + context);
    std::size_t e_count = 0, a_count = 0;
    for (std::size_t x = start; x < stop; ++x) {
      e_count += edits[x].kind != '+';
      a_count += edits[x].kind != '-';
    }
    out << "@@ -" << hunk_range(edits[start].e, e_count) << " +"
        << hunk_range(edits[start].a, a_count) << " @@\n";
    for (std::size_t x = start; x < stop; ++x) {
      const std::string& line = edits[x].kind == '+' ? a[edits[x].a] : e[edits[x].e];
      out << edits[x].kind << line;
      if (line.empty() || line.back() != '\n') out << "\n\\ No newline at end of file\n";
    }
    k = stop;
  }
  return out.str();
}

bool accept_mode() {
  const char* accept = std::getenv("NIXMON_ACCEPT");
  return accept && std::string_view(accept) == "1";
}

void expect_golden_file(const fs::path& path, std::string_view shown, const std::string& actual,
                        bool accept) {
  std::optional<std::string> expected;
  if (fs::exists(path)) expected = read_text(path);
  if (expected == actual) return;
  std::string diff = unified_diff(expected.value_or(""), actual, shown);
  if (accept) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << actual;
    out.close();
    if (!out) {
      ADD_FAILURE() << "NIXMON_ACCEPT=1: cannot write " << path;
      return;
    }
    // Skipped, not passed: this run compared nothing, it wrote what it got.
    GTEST_SKIP() << "NIXMON_ACCEPT=1 " << (expected ? "rewrote " : "created ") << shown
                 << "; review the change before committing it:\n"
                 << diff;
  }
  if (!expected) {
    ADD_FAILURE() << "golden file " << shown
                  << " is missing; run with NIXMON_ACCEPT=1 to create it";
    return;
  }
  ADD_FAILURE() << "output differs from " << shown
                << " (NIXMON_ACCEPT=1 rewrites it; review the diff):\n"
                << diff;
}

void expect_golden(std::string_view relative, const std::string& actual) {
  expect_golden_file(source_dir() / std::string(relative), relative, actual, accept_mode());
}

void expect_golden_section(std::string_view relative, std::string_view name,
                           const std::string& actual) {
  std::string text = read_text(source_dir() / std::string(relative));
  std::string begin = "<!-- generated: " + std::string(name);
  std::string end = "<!-- end generated: " + std::string(name) + " -->";
  std::size_t b = text.find(begin);
  std::size_t body = b == std::string::npos ? b : text.find('\n', b);
  std::size_t e = body == std::string::npos ? body : text.find(end, body);
  if (e == std::string::npos) {
    ADD_FAILURE() << relative << " has no \"" << begin << " ... -->\" ... \"" << end
                  << "\" section";
    return;
  }
  expect_golden(relative, text.substr(0, body + 1) + actual + text.substr(e));
}

HeldLock::HeldLock(const fs::path& p) : fd_(::open(p.c_str(), O_RDONLY | O_CLOEXEC)) {
  EXPECT_GE(fd_, 0) << p;
  EXPECT_EQ(::flock(fd_, LOCK_EX | LOCK_NB), 0) << p;
}

HeldLock::~HeldLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::string run_unprivileged(const fs::path& tree, const std::function<std::string()>& body) {
  for (fs::path p = tree; p.has_relative_path() && p != fs::temp_directory_path();
       p = p.parent_path())
    fs::permissions(p, fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);
  int fds[2];
  if (::pipe(fds) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return {};
  }
  pid_t child = ::fork();
  if (child < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return {};
  }
  if (child == 0) {
    ::close(fds[0]);
    if (::geteuid() == 0 &&
        (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0))
      ::_exit(2);
    std::string out;
    try {
      out = body();
    } catch (const std::exception& e) {
      out = std::string("exception: ") + e.what();
    }
    for (std::size_t off = 0; off < out.size();) {
      auto n = ::write(fds[1], out.data() + off, out.size() - off);
      if (n <= 0) ::_exit(3);
      off += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  return out;
}

int ScriptedFs::failure(const std::filesystem::path& p) const {
  std::string_view path = p.native();
  for (const auto& [suffix, err] : failures_) {
    if (path.ends_with(suffix)) return err;
  }
  return 0;
}

int ScriptedFs::lstat(const std::filesystem::path& p, struct stat& out) const {
  if (int err = failure(p)) return err;
  return HostFs::lstat(p, out);
}

int ScriptedFs::read_link(const std::filesystem::path& p, std::string& target) const {
  if (int err = failure(p)) return err;
  return HostFs::read_link(p, target);
}

int ScriptedFs::read_file(const std::filesystem::path& p, std::size_t max_bytes,
                          std::string& contents) const {
  if (int err = failure(p)) return err;
  return HostFs::read_file(p, max_bytes, contents);
}

int ScriptedFs::list_dir(const std::filesystem::path& p, std::vector<std::string>& names) const {
  if (int err = failure(p)) return err;
  return HostFs::list_dir(p, names);
}

int ScriptedFs::statvfs(const std::filesystem::path& p, struct statvfs& out) const {
  if (int err = failure(p)) return err;
  if (!statvfs_) return HostFs::statvfs(p, out);
  struct stat st;
  if (int err = HostFs::lstat(p, st)) return err;  // absent stays absent
  out = *statvfs_;
  return 0;
}

}  // namespace nixmon::test
