#include "support/test-support.hh"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
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

namespace {
std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
}  // namespace

void expect_golden(std::string_view relative, const std::string& actual) {
  fs::path path = source_dir() / std::string(relative);
  const char* accept = std::getenv("NIXMON_ACCEPT");
  if (accept && std::string(accept) == "1") {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  if (!fs::exists(path)) {
    ADD_FAILURE() << "golden file " << relative
                  << " is missing; run with NIXMON_ACCEPT=1 to create it";
    return;
  }
  std::string expected = read_text(path);
  if (expected == actual) return;
  auto e = lines(expected), a = lines(actual);
  std::ostringstream diff;
  std::size_t n = std::max(e.size(), a.size());
  for (std::size_t i = 0; i < n; ++i) {
    std::string el = i < e.size() ? e[i] : "<none>";
    std::string al = i < a.size() ? a[i] : "<none>";
    if (el != al) diff << "line " << i + 1 << ":\n  - " << el << "\n  + " << al << "\n";
  }
  ADD_FAILURE() << "output differs from " << relative
                << " (NIXMON_ACCEPT=1 rewrites it; review the diff):\n"
                << diff.str();
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
