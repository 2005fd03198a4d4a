// Why a reboot is needed: what differs between the booted and the current system in the parts
// that only a boot loads. One series per reason, so an alert can say which.
#include "common/error.hh"
#include "exporter/collectors/collectors.hh"
#include "exporter/host/nixos-system.hh"

namespace nixmon::exporter {

namespace {

struct Reason {
  std::string_view label;
  std::string_view entry;  // inside the system's top-level store path
  bool compare_contents;   // kernel-params is a file; the others are links into the store
};

constexpr Reason reasons[] = {
    {"kernel", "kernel", false},
    {"initrd", "initrd", false},
    {"kernel_modules", "kernel-modules", false},
    {"kernel_params", "kernel-params", true},
    {"systemd", "systemd", false},
};

class RebootCollector final : public Collector {
 public:
  explicit RebootCollector(const CollectorContext& ctx) : ctx_(ctx) {}

  void collect(MetricSet& out) override {
    const HostRoot& root = ctx_.root;
    auto current = resolve_system(root, current_system_link);
    auto booted = resolve_system(root, booted_system_link);
    if (!current) throw Error(fmt::format("{} does not exist", current_system_link));
    if (!booted)
      throw Error(
          fmt::format("{} does not exist: cannot tell what was booted", booted_system_link));
    for (const auto& r : reasons) {
      auto differs = compare(*booted, *current, r);
      if (!differs) continue;  // unknown: one side lacks it; an absent series, not a 0
      out.gauge("nixos_reboot_required",
                "1 if the booted system differs from the current one in this part (reason), so "
                "only a reboot applies it; 0 if the same",
                *differs ? 1 : 0, {{"reason", std::string(r.label)}});
    }
  }

 private:
  std::optional<bool> compare(const std::string& booted, const std::string& current,
                              const Reason& r) const {
    const HostRoot& root = ctx_.root;
    std::string a = booted + "/" + std::string(r.entry);
    std::string b = current + "/" + std::string(r.entry);
    if (r.compare_contents) {
      auto x = root.read_file(a);
      auto y = root.read_file(b);
      if (!x || !y) return std::nullopt;
      return *x != *y;
    }
    if (!root.lstat(a) || !root.lstat(b)) return std::nullopt;
    return root.resolve(a) != root.resolve(b);
  }

  CollectorContext ctx_;
};

}  // namespace

std::unique_ptr<Collector> make_reboot_collector(const CollectorContext& ctx) {
  return std::make_unique<RebootCollector>(ctx);
}

}  // namespace nixmon::exporter
