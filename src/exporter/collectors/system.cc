// nixos_system_info: what the running system is, from the system's own files. Revisions and
// versions live here, in one info series, never as labels of the churning series.
#include <chrono>

#include "common/error.hh"
#include "exporter/collectors/collectors.hh"
#include "exporter/host/nixos-system.hh"
#include "exporter/host/system-files.hh"

namespace nixmon::exporter {

namespace {

class SystemCollector final : public Collector {
 public:
  explicit SystemCollector(const CollectorContext& ctx) : ctx_(ctx) {}

  void collect(MetricSet& out) override {
    auto current = resolve_system(ctx_.root, current_system_link);
    if (!current)
      throw Error(
          fmt::format("{} does not exist: not a running NixOS system", current_system_link));
    SystemVersion v = read_system_version(ctx_.root, *current);
    auto or_unknown = [](const std::optional<std::string>& s) {
      return s ? *s : std::string("unknown");
    };
    out.gauge("nixos_system_info",
              "The running NixOS system (value 1): its version, nixpkgs revision, configuration "
              "revision (system.configurationRevision), kernel version and platform; \"unknown\" "
              "where the system does not record it",
              1,
              {{"nixos_version", or_unknown(v.nixos_version)},
               {"nixpkgs_rev", or_unknown(v.nixpkgs_revision)},
               {"configuration_rev", or_unknown(v.configuration_revision)},
               {"kernel_version", or_unknown(v.kernel_version)},
               {"system", or_unknown(v.system)}});

    // Day precision: the version keeps only the date of the nixpkgs commit, so the age is up to
    // a day more than the commit's. Absent where the version has no date (channels, pre-git).
    if (v.nixos_version) {
      if (auto date = nixpkgs_date_from_version(*v.nixos_version)) {
        auto age = std::chrono::duration<double>(ctx_.now() - *date);
        out.gauge("nixos_nixpkgs_age_seconds",
                  "Seconds since the date of the running system's nixpkgs commit, from the date "
                  "stamp in its NixOS version (flake builds; absent for channel builds, whose "
                  "version has none)",
                  age.count());
      }
    }
    if (auto nix = read_nix_implementation(ctx_.root, *current)) {
      out.gauge("nixos_nix_info",
                "The Nix of the running system (value 1): implementation (nix, lix, determinate) "
                "and version, from the package its sw/bin/nix links to",
                1, {{"implementation", nix->implementation}, {"version", nix->version}});
    }
  }

 private:
  CollectorContext ctx_;
};

}  // namespace

std::unique_ptr<Collector> make_system_collector(const CollectorContext& ctx) {
  return std::make_unique<SystemCollector>(ctx);
}

}  // namespace nixmon::exporter
