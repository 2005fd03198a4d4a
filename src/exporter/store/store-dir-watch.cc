#include "exporter/store/store-dir-watch.hh"

#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.hh"
#include "common/fd.hh"
#include "common/log.hh"
#include "common/store-path.hh"

namespace nixmon::exporter {

namespace {

class InotifyDirWatch final : public DirWatch {
 public:
  explicit InotifyDirWatch(const std::string& local_dir)
      : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (!fd_) throw SysError("creating an inotify instance for '{}'", local_dir);
    // IN_ONLYDIR: a symlink or file at the path is not the directory Nix writes to.
    constexpr std::uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                   IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
    if (::inotify_add_watch(fd_.get(), local_dir.c_str(), mask) < 0)
      throw SysError("watching '{}' with inotify", local_dir);
  }

  DirEvents drain() override {
    DirEvents out;
    if (gone_) {
      out.lost = store_dir_scan_reason::watch_lost;
      return out;
    }
    alignas(inotify_event) char buf[65536];
    for (;;) {
      auto n = ::read(fd_.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) {
        // Cannot happen with a valid descriptor; whatever it was, the events are not known.
        gone_ = true;
        out.lost = store_dir_scan_reason::watch_lost;
        break;
      }
      for (char* p = buf; p < buf + n;) {
        auto* e = reinterpret_cast<inotify_event*>(p);
        p += sizeof(inotify_event) + e->len;
        if (e->mask & IN_Q_OVERFLOW) {
          if (!out.lost) out.lost = store_dir_scan_reason::overflow;
        } else if (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
          gone_ = true;
          out.lost = store_dir_scan_reason::watch_lost;
        } else if (e->len > 0) {
          out.names.emplace_back(e->name);  // NUL-padded to len
        }
      }
    }
    return out;
  }

 private:
  Fd fd_;
  bool gone_ = false;  // the kernel removed the watch: no event will come any more
};

}  // namespace

std::unique_ptr<DirWatch> open_inotify_watch(const std::string& local_dir) {
  return std::make_unique<InotifyDirWatch>(local_dir);
}

StoreDirTracker::StoreDirTracker(HostRoot root, DirWatchOpener open_watch)
    : root_(std::move(root)),
      local_dir_(root_.local(nix_store_dir).string()),
      open_watch_(std::move(open_watch)) {}

void StoreDirTracker::reset() {
  have_names_ = false;
  invalid_.clear();
}

bool StoreDirTracker::is_valid(const StoreGraph& graph, std::string_view name) {
  if (!is_store_path_name(name)) return false;
  path_.assign(nix_store_dir);
  path_ += '/';
  path_ += name;
  return graph.find(path_).has_value();
}

// Opens the watch when there is none; returns why not when that fails.
std::optional<std::string_view> StoreDirTracker::open_watch_if_needed() {
  if (watch_) return std::nullopt;
  // The inode the watch is on, taken BEFORE the watch is added (links followed, as
  // inotify_add_watch and opendir follow them): should another directory take the path in
  // between, the next update finds the path's inode differs from this one and watches again. Taken
  // after, it would be the newcomer's while the watch stays on the old one, which reports nothing
  // of the newcomer (a mount over the path sends no event to it).
  struct stat st;
  auto before = ::stat(local_dir_.c_str(), &st) == 0
                    ? std::optional(std::pair(st.st_dev, st.st_ino))
                    : std::nullopt;
  try {
    watch_ = open_watch_(local_dir_);
  } catch (const SysError& e) {
    if (unwatched_why_ != e.what()) {
      unwatched_why_ = e.what();
      log::warn("the store directory is read in full at every change: {}", unwatched_why_);
    }
    return store_dir_scan_reason::unwatched;
  }
  unwatched_why_.clear();
  watched_ino_ = before;
  return std::nullopt;
}

InvalidEntries StoreDirTracker::update(const StoreGraph& graph, std::uint64_t graph_reads,
                                       const TempRoots& temp_roots) {
  // Everything under the guard: events drained and then lost to a failure (drain() itself, an
  // allocation) must not leave the kept names looking current.
  try {
    std::optional<std::string_view> full;
    if (!have_names_) full = store_dir_scan_reason::first;

    DirEvents events;
    if (watch_) {
      events = watch_->drain();
      if (events.lost) {
        if (!full) full = events.lost;
        if (*events.lost == store_dir_scan_reason::watch_lost) watch_.reset();
      }
    }
    if (watch_) {
      struct stat st;
      if (::stat(local_dir_.c_str(), &st) != 0 || !watched_ino_ ||
          std::pair(st.st_dev, st.st_ino) != *watched_ino_) {
        if (!full) full = store_dir_scan_reason::watch_lost;
        watch_.reset();
      }
    }
    if (!watch_) {
      // Events before the watch is added are not known: a full scan after it, whatever the reason.
      auto why = open_watch_if_needed();
      if (!full) full = why ? *why : store_dir_scan_reason::unwatched;
    }
    if (!full && (graph_reads != graph_reads_ || graph.size() < graph_size_))
      full = store_dir_scan_reason::graph_read;
    if (!full && incremental_in_a_row_ >= max_incremental_runs)
      full = store_dir_scan_reason::periodic;

    if (full) {
      have_names_ = false;
      auto names =
          list_invalid_names(root_, [&](std::string_view name) { return is_valid(graph, name); });
      invalid_ = std::set<std::string, std::less<>>(std::make_move_iterator(names.begin()),
                                                    std::make_move_iterator(names.end()));
      incremental_in_a_row_ = 0;
    } else {
      std::sort(events.names.begin(), events.names.end());
      events.names.erase(std::unique(events.names.begin(), events.names.end()), events.names.end());
      for (auto& name : events.names) {
        if (!is_candidate_name(name)) continue;
        struct stat st;
        bool exists = ::lstat((local_dir_ + "/" + name).c_str(), &st) == 0 || errno != ENOENT;
        if (exists && !is_valid(graph, name))
          invalid_.insert(std::move(name));
        else
          invalid_.erase(name);
      }
      // Registered since the last update: valid now, with or without a directory event.
      for (auto i = static_cast<StoreGraph::Index>(graph_size_); i < graph.size(); ++i) {
        auto path = graph.path(i);
        if (auto it = invalid_.find(path.substr(path.rfind('/') + 1)); it != invalid_.end())
          invalid_.erase(it);
      }
      ++incremental_in_a_row_;
    }
    std::vector<std::string> names(invalid_.begin(), invalid_.end());
    auto out = classify_invalid_entries(root_, names, temp_roots);
    have_names_ = true;
    graph_size_ = graph.size();
    graph_reads_ = graph_reads;
    runs_.count(!full, full ? *full : store_dir_scan_reason::changed);
    return out;
  } catch (...) {
    reset();
    throw;
  }
}

}  // namespace nixmon::exporter
