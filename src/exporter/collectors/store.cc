// The Nix store as its database records it: valid paths, the sum of their NAR sizes, derivations,
// what was built here, and churn; beside it the real filesystem's size and free space (statvfs),
// because the NAR sum is not disk usage.
//
// A worker thread computes the aggregates off the scrape path, again only when PRAGMA data_version
// says nix-daemon committed something, and then from the new rows alone when it can prove nothing
// else changed (store-stats-tracker.hh); a scrape reads the cached answer. Churn windows are
// counted at scrape time from the cached sorted registration times, so they move with the clock
// even when the database does not.
#include <sys/statvfs.h>

#include "common/error.hh"
#include "exporter/collectors/collectors.hh"
#include "exporter/store/background-cache.hh"
#include "exporter/store/store-db.hh"
#include "exporter/store/store-stats-tracker.hh"

namespace nixmon::exporter {

namespace {

struct StoreAnswer {
  StoreStats stats;
  AnalysisRuns runs;
};

class StoreCollector final : public Collector {
 public:
  StoreCollector(const CollectorContext& ctx, const StoreConfig& config)
      : ctx_(ctx),
        cache_(ctx.clock, config.check_interval,
               [watch = std::make_shared<StoreDbWatch>(ctx.root, config.busy_timeout),
                tracker = std::make_shared<StoreStatsTracker>()]() -> std::optional<StoreAnswer> {
                 try {
                   if (!watch->changed()) return std::nullopt;
                   StoreAnswer answer{tracker->update(watch->db()), tracker->runs()};
                   watch->seen(tracker->data_version());
                   return answer;
                 } catch (...) {
                   watch->reset();
                   tracker->reset();
                   throw;
                 }
               }) {}

  void collect(MetricSet& out) override {
    auto view = cache_.view();
    // Unknown stays unknown: a failed read fails the collector rather than serving old figures.
    if (view.error) throw Error(*view.error);
    // Before the worker's first answer: no schema file means no store, a failure now rather than
    // a "not ready" that would only turn into the same failure a moment later.
    if (!view.answer) check_store_schema(ctx_.root);

    filesystem(out);

    out.gauge("nixos_store_analysis_ready",
              "1 once the store database's aggregates have been computed; while 0 they are "
              "absent (not zero)",
              view.answer ? 1 : 0);
    if (!view.answer) return;
    const StoreStats& s = view.answer->stats;
    out.gauge("nixos_store_valid_paths", "Valid paths registered in the Nix store database",
              static_cast<double>(s.valid_paths));
    out.gauge("nixos_store_nar_bytes",
              "Sum of the NAR sizes of all valid paths (ValidPaths.narSize): not disk usage, "
              "which hard links (auto-optimise-store) and filesystem compression make smaller",
              static_cast<double>(s.nar_bytes));
    out.gauge("nixos_store_derivations", "Valid paths that are derivations (.drv)",
              static_cast<double>(s.derivations));
    out.gauge("nixos_store_built_paths",
              "Valid paths built on this machine (ValidPaths.ultimate set); the rest were "
              "substituted, copied or added",
              static_cast<double>(s.built_locally));
    auto now = std::chrono::system_clock::to_time_t(ctx_.now());
    constexpr std::string_view churn_help =
        "Valid paths registered within the window before now (store churn)";
    out.gauge("nixos_store_registered_paths", churn_help,
              static_cast<double>(s.registered_since(now - 24 * 3600)), {{"window", "24h"}});
    out.gauge("nixos_store_registered_paths", churn_help,
              static_cast<double>(s.registered_since(now - 7 * 24 * 3600)), {{"window", "7d"}});
    auto steady = ctx_.clock->monotonic();
    out.gauge("nixos_store_analysis_age_seconds",
              "Seconds since the store aggregates were computed; they are recomputed when the "
              "database changes (checked every --collector.store.check-interval)",
              std::chrono::duration<double>(steady - view.computed_at).count());
    out.gauge("nixos_store_analysis_duration_seconds",
              "How long computing the store aggregates took (off the scrape path)",
              view.compute_seconds);
    write_analysis_runs(out, "nixos_store_analysis_total",
                        "Store aggregate computations by kind (incremental: the new rows only; "
                        "full: the whole table) and reason (why; see docs/nixos-exporter.md)",
                        view.answer->runs);
  }

 private:
  void filesystem(MetricSet& out) const {
    const HostRoot& root = ctx_.root;
    auto found = root.statvfs(nix_store_dir);
    if (!found) return;
    const struct statvfs& fs = *found;
    double unit = static_cast<double>(fs.f_frsize);
    out.gauge("nixos_store_filesystem_size_bytes", "Size of the filesystem holding /nix/store",
              unit * static_cast<double>(fs.f_blocks));
    out.gauge("nixos_store_filesystem_free_bytes",
              "Free bytes on the filesystem holding /nix/store",
              unit * static_cast<double>(fs.f_bfree));
    out.gauge("nixos_store_filesystem_avail_bytes",
              "Bytes available to unprivileged users on the filesystem holding /nix/store",
              unit * static_cast<double>(fs.f_bavail));
    // Filesystems without a fixed inode table (btrfs) report 0 inodes: unknown, not "none free".
    if (fs.f_files > 0) {
      out.gauge("nixos_store_filesystem_files", "Inodes of the filesystem holding /nix/store",
                static_cast<double>(fs.f_files));
      out.gauge("nixos_store_filesystem_files_free",
                "Free inodes on the filesystem holding /nix/store",
                static_cast<double>(fs.f_ffree));
    }
  }

  CollectorContext ctx_;
  BackgroundCache<StoreAnswer> cache_;
};

// --collector.store.*: checked whether the collector runs or not.
class StoreSetup final : public CollectorSetup {
 public:
  explicit StoreSetup(CLI::App& app) { add_store_flags(app, flags_); }

  void configure(bool) override { config_ = make_store_config(flags_); }

  std::unique_ptr<Collector> make(const CollectorContext& ctx) const override {
    return make_store_collector(ctx, config_);
  }

 private:
  StoreFlags flags_;
  StoreConfig config_;
};

}  // namespace

std::unique_ptr<CollectorSetup> store_setup(CLI::App& app) {
  return std::make_unique<StoreSetup>(app);
}

std::unique_ptr<Collector> make_store_collector(const CollectorContext& ctx,
                                                const StoreConfig& config) {
  return std::make_unique<StoreCollector>(ctx, config);
}

}  // namespace nixmon::exporter
