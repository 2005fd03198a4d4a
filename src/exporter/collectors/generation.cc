// The Go nixos-exporter's generation metrics, with its exact names and meaning, plus what the same
// links tell beyond it: whether current/booted are known generations and whether a boot is pending.
#include <algorithm>
#include <chrono>

#include "common/error.hh"
#include "exporter/collectors/collectors.hh"
#include "exporter/host/nixos-system.hh"

namespace nixmon::exporter {

namespace {

class GenerationCollector final : public Collector {
 public:
  explicit GenerationCollector(const CollectorContext& ctx) : ctx_(ctx) {}

  void collect(MetricSet& out) override {
    const HostRoot& root = ctx_.root;
    auto generations = list_generations(root);
    auto current = resolve_system(root, current_system_link);
    auto booted = resolve_system(root, booted_system_link);
    auto profile_number = profile_generation(root);

    out.gauge("nixos_generation_count", "Total number of system generations",
              static_cast<double>(generations.size()));

    const Generation* current_gen =
        current ? find_generation(generations, *current, profile_number) : nullptr;
    const Generation* booted_gen = booted ? find_generation(generations, *booted, {}) : nullptr;

    if (current_gen) {
      out.gauge("nixos_current_generation", "Currently active generation number",
                static_cast<double>(current_gen->number));
    }
    if (booted_gen) {
      out.gauge("nixos_booted_generation", "Generation that was booted",
                static_cast<double>(booted_gen->number));
    }
    if (current_gen) {
      // Nix itself dates a generation by its link's mtime (nix-env --list-generations).
      auto st = root.lstat(current_gen->link);
      if (st) {
        auto created = std::chrono::system_clock::from_time_t(st->st_mtim.tv_sec);
        double age = std::chrono::duration<double>(ctx_.now() - created).count();
        out.gauge("nixos_generation_age_seconds", "Age of current generation in seconds",
                  age < 0 ? 0 : age);
      }
    }
    if (current && booted) {
      out.gauge("nixos_config_mismatch", "1 if booted generation differs from current",
                *current != *booted ? 1 : 0);
    }

    // Absent generation numbers above are ambiguous on their own: say which systems are not a
    // generation of the profile (nixos-rebuild test, a pruned generation, a dangling link).
    constexpr std::string_view known_help =
        "1 if the system (current or booted) is one of the system profile's generations, 0 if it "
        "is not (e.g. after nixos-rebuild test, or its generation was deleted); absent when the "
        "link itself is missing";
    if (current)
      out.gauge("nixos_system_generation_known", known_help, current_gen ? 1 : 0,
                {{"system", "current"}});
    if (booted)
      out.gauge("nixos_system_generation_known", known_help, booted_gen ? 1 : 0,
                {{"system", "booted"}});

    if (!generations.empty()) {
      std::uint64_t newest = 0;
      for (const auto& g : generations) newest = std::max(newest, g.number);
      out.gauge("nixos_newest_generation",
                "Highest generation number of the system profile: above nixos_profile_generation "
                "after a rollback (nixos-rebuild --rollback)",
                static_cast<double>(newest));
    }
    if (profile_number) {
      out.gauge("nixos_profile_generation",
                "Generation the system profile points to: what the boot loader starts by default",
                static_cast<double>(*profile_number));
    }
    auto profile_target = resolve_system(root, system_profile);
    if (profile_target && current) {
      out.gauge("nixos_boot_pending",
                "1 if the system profile (the next boot's default) differs from the running "
                "system: nixos-rebuild boot was run, or the running system came from "
                "nixos-rebuild test",
                *profile_target != *current ? 1 : 0);
    }
  }

 private:
  CollectorContext ctx_;
};

}  // namespace

std::unique_ptr<Collector> make_generation_collector(const CollectorContext& ctx) {
  return std::make_unique<GenerationCollector>(ctx);
}

}  // namespace nixmon::exporter
