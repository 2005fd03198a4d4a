// What `nix-store --gc` would free, without running it: the GC roots as Nix finds them, the
// closure of the roots (and of running processes' temporary roots) over the reference graph, the
// valid paths outside it (count and NAR bytes), and the store directory's invalid entries Nix
// deletes too (count and disk bytes; store-dir-scan.hh); also the closure sizes of the current and
// booted systems.
//
// A worker thread keeps the reference graph in memory and, when PRAGMA data_version says the
// database changed or the roots changed (they are re-read every check: deleting a generation or a
// result link changes them without touching the database), brings it and reachability up to date
// from what changed when it can, in full when it must (gc-tracker.hh). A scrape reads the cached
// answer. With reachability it also works out what each root alone keeps alive (root-ownership.hh),
// exported for every system generation and the --collector.gc.roots.top largest other roots.
#include "common/error.hh"
#include "exporter/collectors/collectors.hh"
#include "exporter/store/background-cache.hh"
#include "exporter/store/gc-analysis.hh"
#include "exporter/store/gc-tracker.hh"
#include "exporter/store/store-dir-watch.hh"

namespace nixmon::exporter {

namespace {

// The worker's own state, touched by the worker thread only.
class GcWorker {
 public:
  GcWorker(const CollectorContext& ctx, const GcConfig& config)
      : root_(ctx.root),
        runtime_roots_(config.runtime_roots),
        watch_(ctx.root, config.busy_timeout),
        dir_(ctx.root) {}

  std::optional<GcAnalysis> step() {
    try {
      bool db_changed = watch_.changed();
      auto inputs = read_gc_inputs(root_, runtime_roots_);
      const StoreGraph* graph = tracker_.graph();
      if (!db_changed && graph && inputs == inputs_) {
        // The store directory's entries change without its stamp changing: a tmp- directory's
        // builder dies (its lock goes, not its name), a partial output grows. Only they are
        // scanned again, every rescan_every unchanged checks.
        if (!last_ || ++unchanged_checks_ < rescan_every) return std::nullopt;
        unchanged_checks_ = 0;
        auto invalid = summarise(dir_.update(*graph, tracker_.graph_reads(), inputs.temp_roots));
        if (invalid == last_->invalid) return std::nullopt;
        last_->invalid = invalid;
        last_->store_dir_scans = dir_.runs();
        return last_;
      }
      unchanged_checks_ = 0;
      auto analysis = tracker_.update(watch_.db(), db_changed, inputs);
      watch_.seen(tracker_.data_version());
      // Only the directory entries events named and the paths just registered are looked at
      // (store-dir-watch.hh), unless the watch or the graph says the whole directory must be.
      analysis.invalid =
          summarise(dir_.update(*tracker_.graph(), tracker_.graph_reads(), inputs.temp_roots));
      analysis.runs = tracker_.runs();
      analysis.store_dir_scans = dir_.runs();
      inputs_ = std::move(inputs);
      last_ = analysis;
      return analysis;
    } catch (...) {
      watch_.reset();
      tracker_.reset();
      dir_.reset();
      last_.reset();
      throw;
    }
  }

 private:
  HostRoot root_;
  bool runtime_roots_;
  StoreDbWatch watch_;
  GcTracker tracker_;
  StoreDirTracker dir_;
  GcInputs inputs_;
  static constexpr int rescan_every = 10;  // 5 minutes at the default 30 s check interval
  int unchanged_checks_ = 0;
  std::optional<GcAnalysis> last_;
};

class GcCollector final : public Collector {
 public:
  GcCollector(const CollectorContext& ctx, const GcConfig& config)
      : ctx_(ctx),
        runtime_roots_(config.runtime_roots),
        roots_top_(config.roots_top),
        cache_(ctx.clock, config.check_interval,
               [worker = std::make_shared<GcWorker>(ctx, config)] { return worker->step(); }) {}

  void collect(MetricSet& out) override {
    auto view = cache_.view();
    // Unknown stays unknown: a failed read fails the collector rather than serving old figures.
    if (view.error) throw Error(*view.error);
    // Before the worker's first answer: no schema file means no store, a failure now rather than
    // a "not ready" that would only turn into the same failure a moment later.
    if (!view.answer) check_store_schema(ctx_.root);
    out.gauge("nixos_gc_analysis_ready",
              "1 once reachability from the GC roots has been computed; while 0 the gc and "
              "closure figures are absent (not zero)",
              view.answer ? 1 : 0);
    if (!view.answer) return;
    const GcAnalysis& a = *view.answer;

    std::string runtime = runtime_roots_
                              ? "runtime roots (paths used by running processes) are counted"
                              : "runtime roots (paths used by running processes) are NOT counted, "
                                "so nix-store --gc may free less";
    out.gauge("nixos_gc_settings_info",
              "The garbage-collector settings the analysis followed (nix.conf keep-derivations, "
              "keep-outputs; --collector.gc.runtime-roots), value 1",
              1,
              {{"keep_derivations", a.settings.keep_derivations ? "true" : "false"},
               {"keep_outputs", a.settings.keep_outputs ? "true" : "false"},
               {"runtime_roots", a.runtime_roots ? "true" : "false"}});
    std::string roots_help =
        "GC roots pointing to valid paths, by where they were found: profiles "
        "(/nix/var/nix/profiles), gcroots (/nix/var/nix/gcroots), gcroots_auto (links such as "
        "result registered in gcroots/auto), runtime; " +
        runtime;
    for (auto source : {RootSource::profiles, RootSource::gcroots, RootSource::gcroots_auto,
                        RootSource::runtime}) {
      if (source == RootSource::runtime && !a.runtime_roots) continue;  // not looked for: unknown
      out.gauge("nixos_gc_roots", roots_help,
                static_cast<double>(a.roots_by_source[static_cast<std::size_t>(source)]),
                {{"source", std::string(to_string(source))}});
    }
    out.gauge("nixos_gc_root_paths", "Distinct valid store paths that are GC roots; " + runtime,
              static_cast<double>(a.root_paths));
    out.gauge("nixos_gc_live_paths", "Valid paths reachable from the GC roots; " + runtime,
              static_cast<double>(a.live_paths));
    out.gauge("nixos_gc_live_nar_bytes",
              "Sum of the NAR sizes of the valid paths reachable from the GC roots; " + runtime,
              static_cast<double>(a.live_nar_bytes));
    out.gauge("nixos_gc_reclaimable_paths",
              "Valid paths not reachable from any GC root or temporary root: the valid paths "
              "nix-store --gc would delete; " +
                  runtime,
              static_cast<double>(a.reclaimable_paths));
    out.gauge("nixos_gc_reclaimable_nar_bytes",
              "Sum of the NAR sizes of the reclaimable paths (NAR bytes, not disk usage: "
              "hard-linked files free less); " +
                  runtime,
              static_cast<double>(a.reclaimable_nar_bytes));

    // Temporary roots files the exporter may not open (root's, mode 0600) hide which entries a
    // running build holds: its lock files, partial outputs and held paths would be counted as
    // reclaimable. Unknown, so these series are left out (nixos_gc_roots_unreadable{source=
    // "temporary"} says why).
    if (a.temp_root_files_unreadable == 0) {
      out.gauge("nixos_gc_reclaimable_invalid_entries",
                "Entries of the store directory that are not valid paths and that nix-store --gc "
                "deletes: lock files and partial outputs of failed or interrupted builds, stray "
                "files; those sharing a hash with a running process's temporary root are kept",
                static_cast<double>(a.invalid.entries));
      if (a.invalid.disk_bytes) {
        out.gauge("nixos_gc_reclaimable_invalid_disk_bytes",
                  "Disk bytes (allocated blocks, walked with lstat) that deleting the reclaimable "
                  "invalid entries frees; absent when an entry could not be read (see "
                  "nixos_gc_reclaimable_invalid_unmeasured)",
                  static_cast<double>(*a.invalid.disk_bytes));
      }
      out.gauge("nixos_gc_reclaimable_invalid_unmeasured",
                "Reclaimable invalid entries whose size could not be read (permissions)",
                static_cast<double>(a.invalid.unmeasured));
      out.gauge("nixos_gc_temp_roots",
                "Store paths that running Nix processes hold as temporary roots "
                "(/nix/var/nix/temproots files whose owner still holds the lock)",
                static_cast<double>(a.temp_roots));
    }
    constexpr std::string_view unreadable_help =
        "GC roots Nix reads but this exporter could not (permission denied, link loop), by "
        "where they were found: while above 0, reclaimable figures may be too large";
    for (auto source : {RootSource::profiles, RootSource::gcroots, RootSource::gcroots_auto}) {
      out.gauge("nixos_gc_roots_unreadable", unreadable_help,
                static_cast<double>(a.unreadable_roots[static_cast<std::size_t>(source)]),
                {{"source", std::string(to_string(source))}});
    }
    out.gauge("nixos_gc_roots_unreadable", unreadable_help,
              static_cast<double>(a.temp_root_files_unreadable), {{"source", "temporary"}});

    constexpr std::string_view closure_paths_help =
        "Paths in the closure (over references) of the current or booted system, as nix "
        "path-info -r counts them";
    constexpr std::string_view closure_bytes_help =
        "Sum of the NAR sizes of the closure of the current or booted system, as nix path-info "
        "-S sizes it";
    for (auto& [name, closure] :
         {std::pair{"current", a.current_system}, std::pair{"booted", a.booted_system}}) {
      if (!closure) continue;
      out.gauge("nixos_system_closure_paths", closure_paths_help,
                static_cast<double>(closure->paths), {{"system", name}});
      out.gauge("nixos_system_closure_nar_bytes", closure_bytes_help,
                static_cast<double>(closure->nar_bytes), {{"system", name}});
    }

    if (a.ownership) write_ownership(out, *a.ownership, runtime);

    auto steady = ctx_.clock->monotonic();
    out.gauge("nixos_gc_analysis_age_seconds",
              "Seconds since the gc analysis was computed; it is recomputed when the database or "
              "the roots change (checked every --collector.gc.check-interval)",
              std::chrono::duration<double>(steady - view.computed_at).count());
    out.gauge("nixos_gc_analysis_duration_seconds",
              "How long the last gc analysis took (graph load when the database changed, roots, "
              "reachability, what each root alone keeps), off the scrape path",
              view.compute_seconds);
    write_analysis_runs(out, "nixos_gc_analysis_total",
                        "Gc analyses by kind (incremental: new rows and roots only; full: every "
                        "path marked again, the graph read again when the database needs it) and "
                        "reason (why; see docs/nixos-exporter.md)",
                        a.runs);
    write_analysis_runs(out, "nixos_gc_store_dir_scan_total",
                        "Scans of the store directory for its reclaimable invalid entries by kind "
                        "(incremental: only the entries directory events named and the paths "
                        "just registered; full: every entry read) and reason (why; see "
                        "docs/nixos-exporter.md)",
                        a.store_dir_scans);
    write_analysis_runs(out, "nixos_gc_ownership_analysis_total",
                        "Computations of what each GC root alone keeps alive by kind "
                        "(incremental: from the new roots down; full: every live path) and reason "
                        "(why; see docs/nixos-exporter.md)",
                        a.ownership_runs);
  }

 private:
  void write_ownership(MetricSet& out, const RootOwnership& o, const std::string& runtime) const {
    auto series = bounded_series(o, roots_top_);
    const std::string generation_help =
        "NAR bytes only this system generation keeps alive: what deleting its profile link and "
        "running nix-store --gc would free; 0 while another root (such as /run/current-system) "
        "holds the same system; " +
        runtime;
    for (const RootShare* r : series.generations) {
      out.gauge("nixos_gc_generation_exclusive_nar_bytes", generation_help,
                static_cast<double>(r->exclusive_nar_bytes),
                {{"generation", std::to_string(*r->generation)}});
    }
    const std::string root_help =
        "NAR bytes only this GC root keeps alive: what deleting it and running nix-store --gc "
        "would free; for the --collector.gc.roots.top largest roots besides system generations, "
        "labelled by the root's path, the rest summed as root=\"other\"; " +
        runtime;
    for (const RootShare* r : series.top) {
      out.gauge("nixos_gc_root_exclusive_nar_bytes", root_help,
                static_cast<double>(r->exclusive_nar_bytes), {{"root", r->link}});
    }
    out.gauge("nixos_gc_root_exclusive_nar_bytes", root_help,
              static_cast<double>(series.other_nar_bytes), {{"root", "other"}});
    out.gauge("nixos_gc_shared_nar_bytes",
              "NAR bytes of live paths that two or more GC roots keep alive: deleting any single "
              "root frees none of them; " +
                  runtime,
              static_cast<double>(o.shared_nar_bytes));
  }

  CollectorContext ctx_;
  bool runtime_roots_;
  std::size_t roots_top_;
  BackgroundCache<GcAnalysis> cache_;
};

// --collector.gc.*: checked whether the collector runs or not.
class GcSetup final : public CollectorSetup {
 public:
  explicit GcSetup(CLI::App& app) { add_gc_flags(app, flags_); }

  void configure(bool) override { config_ = make_gc_config(flags_); }

  std::unique_ptr<Collector> make(const CollectorContext& ctx) const override {
    return make_gc_collector(ctx, config_);
  }

 private:
  GcFlags flags_;
  GcConfig config_;
};

}  // namespace

std::unique_ptr<CollectorSetup> gc_setup(CLI::App& app) {
  return std::make_unique<GcSetup>(app);
}

std::unique_ptr<Collector> make_gc_collector(const CollectorContext& ctx, const GcConfig& config) {
  return std::make_unique<GcCollector>(ctx, config);
}

}  // namespace nixmon::exporter
