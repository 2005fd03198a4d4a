// Restart debt: which units still run code that the last switch replaced. A process counts as
// pending when its executable or a file it maps lies in a store path outside the closure of the
// current system (/run/current-system), deleted or not; it is attributed to its systemd unit.
//
// The closure comes from the store database's reference graph, off the scrape path: a worker
// recomputes it only when /run/current-system points to another path (a valid path's references
// never change, so the closure of one system path never does). The /proc walk runs at scrape time:
// it is what changes as units restart.
#include <map>
#include <unordered_set>

#include "common/error.hh"
#include "common/store-path.hh"
#include "exporter/collectors/collectors.hh"
#include "exporter/host/nixos-system.hh"
#include "exporter/host/process-code.hh"
#include "exporter/store/background-cache.hh"
#include "exporter/store/store-db.hh"

namespace nixmon::exporter {

namespace {

// How often the worker looks at /run/current-system (one readlink chain when nothing changed).
// Until it has caught up with a switch, scrapes report the closure as not ready instead of
// comparing processes with the old closure.
constexpr std::chrono::seconds closure_check_interval{5};

// The label of processes in no systemd unit: not a unit name (no type suffix), so no unit clashes.
constexpr std::string_view no_unit = "(none)";

struct SystemClosure {
  std::string system;                     // the current system's store path name
  std::unordered_set<std::string> names;  // store path names ("<hash>-<name>") in its closure
};

// The current system's store path name; nullopt when the link is missing or leaves the store.
std::optional<std::string> current_system_name(const HostRoot& root) {
  auto target = resolve_system(root, current_system_link);
  if (!target) return std::nullopt;
  auto name = store_entry_of(*target);
  if (!name) return std::nullopt;
  return std::string(*name);
}

// The worker's own state, touched by the worker thread only.
class ClosureWorker {
 public:
  explicit ClosureWorker(const CollectorContext& ctx)
      : root_(ctx.root), busy_timeout_(store_busy_timeout) {}

  std::optional<SystemClosure> step() {
    auto system = current_system_name(root_);
    if (!system) {
      last_.reset();
      throw Error(fmt::format("{} does not exist or does not point into {}", current_system_link,
                              nix_store_dir));
    }
    if (last_ == system) return std::nullopt;
    auto db = open_store_db(root_, busy_timeout_);
    // The closure alone, walked in the database: its cost grows with the closure, where reading
    // the whole graph for it grew with the store (64 MiB and about a second for 200,000 paths,
    // ten times that on a builder's 2 million; docs/benchmarks.md). References only: neither
    // derivers nor outputs are code a process runs.
    std::string path = std::string(nix_store_dir) + "/" + *system;
    auto paths = read_closure_paths(db, path);
    if (!paths) {
      throw Error(
          fmt::format("the current system {} is not a valid path in the store database", path));
    }
    SystemClosure c;
    c.system = *system;
    for (const auto& p : *paths) {
      if (auto name = store_entry_of(p)) c.names.emplace(*name);
    }
    last_ = system;
    return c;
  }

 private:
  HostRoot root_;
  std::chrono::milliseconds busy_timeout_;
  std::optional<std::string> last_;
};

class RestartCollector final : public Collector {
 public:
  explicit RestartCollector(const CollectorContext& ctx)
      : ctx_(ctx),
        cache_(ctx.clock, closure_check_interval,
               [worker = std::make_shared<ClosureWorker>(ctx)] { return worker->step(); }) {}

  void collect(MetricSet& out) override {
    auto view = cache_.view();
    if (view.error) throw Error(*view.error);
    auto system = current_system_name(ctx_.root);
    if (!system) {
      throw Error(fmt::format("{} does not exist or does not point into {}", current_system_link,
                              nix_store_dir));
    }
    // Before the first answer, or after a switch the worker has not caught up with: comparing
    // with another system's closure would be wrong, so nothing is compared.
    bool ready = view.answer && view.answer->system == *system;
    out.gauge("nixos_restart_closure_ready",
              "1 once the closure of the current system (/run/current-system) has been read from "
              "the store database; while 0 the restart figures are absent (not zero)",
              ready ? 1 : 0);
    if (!ready) return;
    const SystemClosure& closure = *view.answer;

    auto processes = read_process_code(ctx_.root);
    if (!processes)
      throw Error(fmt::format("'{}' does not exist", ctx_.root.local("/proc").string()));

    std::map<std::string, std::uint64_t> pending_by_unit;
    std::uint64_t pending = 0, up_to_date = 0, denied = 0;
    for (const auto& p : *processes) {
      if (p.state == ProcessCode::State::denied) {
        ++denied;
        continue;
      }
      bool old = std::any_of(p.store_names.begin(), p.store_names.end(),
                             [&](const std::string& n) { return !closure.names.count(n); });
      if (!old) {
        ++up_to_date;
        continue;
      }
      ++pending;
      ++pending_by_unit[p.unit ? *p.unit : std::string(no_unit)];
    }

    for (const auto& [unit, n] : pending_by_unit) {
      out.gauge("nixos_restart_pending_processes",
                "Processes of this systemd unit whose executable or mapped files are store paths "
                "outside the current system's closure: they run code a switch replaced (or "
                "code from outside the system, such as a user profile) until restarted; unit "
                "\"(none)\" for processes in no unit. Only units with such processes appear",
                static_cast<double>(n), {{"unit", unit}});
    }
    out.gauge("nixos_restart_pending_units",
              "Systemd units with at least one process running code outside the current system's "
              "closure (processes in no unit count as one)",
              static_cast<double>(pending_by_unit.size()));
    constexpr std::string_view processes_help =
        "Processes by restart state: pending (code outside the current system's closure), "
        "up_to_date (all its store code in the closure), uninspectable (its /proc exe or maps "
        "could not be read, e.g. another user's process without CAP_SYS_PTRACE: unknown, not "
        "up to date). Kernel threads are not counted";
    out.gauge("nixos_restart_processes", processes_help, static_cast<double>(pending),
              {{"state", "pending"}});
    out.gauge("nixos_restart_processes", processes_help, static_cast<double>(up_to_date),
              {{"state", "up_to_date"}});
    out.gauge("nixos_restart_processes", processes_help, static_cast<double>(denied),
              {{"state", "uninspectable"}});
    out.gauge("nixos_restart_closure_paths",
              "Store paths in the closure of the current system the processes were compared with",
              static_cast<double>(closure.names.size()));
  }

 private:
  CollectorContext ctx_;
  BackgroundCache<SystemClosure> cache_;
};

}  // namespace

std::unique_ptr<Collector> make_restart_collector(const CollectorContext& ctx) {
  return std::make_unique<RestartCollector>(ctx);
}

}  // namespace nixmon::exporter
