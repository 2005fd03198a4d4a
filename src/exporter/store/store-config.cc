#include "exporter/store/store-config.hh"

#include "common/duration.hh"
#include "common/error.hh"

namespace nixmon::exporter {

void add_store_flags(CLI::App& app, StoreFlags& f) {
  app.add_option("--collector.store.check-interval", f.check_interval,
                 "How often the store collector checks whether the store database changed; it "
                 "recomputes only then (Go duration)")
      ->capture_default_str();
}

StoreConfig make_store_config(const StoreFlags& f) {
  StoreConfig c;
  c.check_interval = parse_positive_duration("--collector.store.check-interval", f.check_interval);
  return c;
}

void add_gc_flags(CLI::App& app, GcFlags& f) {
  app.add_option("--collector.gc.check-interval", f.check_interval,
                 "How often the gc collector checks the store database and the GC roots; it "
                 "recomputes reachability only when either changed (Go duration)")
      ->capture_default_str();
  app.add_flag("--collector.gc.runtime-roots", f.runtime_roots,
               "Count store paths used by running processes (/proc/*/{exe,cwd,fd,maps,environ}) "
               "as GC roots, as nix-store --gc does; needs the privileges to read other "
               "processes' /proc entries");
  app.add_option(
         "--collector.gc.roots.top", f.roots_top,
         "How many GC roots besides the system generations get their own series of the "
         "bytes only they keep alive (largest first); the rest are summed as root=\"other\"")
      ->capture_default_str();
}

GcConfig make_gc_config(const GcFlags& f) {
  GcConfig c;
  c.check_interval = parse_positive_duration("--collector.gc.check-interval", f.check_interval);
  c.runtime_roots = f.runtime_roots;
  if (f.roots_top < 0)
    throw UsageError(fmt::format("--collector.gc.roots.top: {} is negative", f.roots_top));
  c.roots_top = static_cast<std::size_t>(f.roots_top);
  return c;
}

}  // namespace nixmon::exporter
