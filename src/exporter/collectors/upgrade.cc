// Automatic upgrades (NixOS system.autoUpgrade): whether the nixos-upgrade timer is enabled and
// when systemd last triggered it, from the files systemd keeps. Whether that run succeeded lives
// only in systemd's memory (node_exporter's systemd collector reports the unit's state); whether it
// produced a new generation, the generation collector shows.
#include <string>

#include "common/error.hh"
#include "exporter/collectors/collectors.hh"

namespace nixmon::exporter {

namespace {

// NixOS links every enabled timer here (systemd.timers.<name>.wantedBy = timers.target). On NixOS
// /etc/systemd/system is itself a link (to /etc/static/..., then the store), so the directory is
// resolved inside the root before the timer's own link is looked at.
constexpr std::string_view units_dir = "/etc/systemd/system";
constexpr std::string_view wants_dir = "/etc/systemd/system/timers.target.wants";
constexpr std::string_view timer_name = "nixos-upgrade.timer";
// systemd touches this file each time a Persistent= timer fires (autoUpgrade.persistent defaults
// to true), and creates it when such a timer is first activated; it survives reboots, which is
// what Persistent= needs it for.
constexpr std::string_view stamp_file = "/var/lib/systemd/timers/stamp-nixos-upgrade.timer";

class UpgradeCollector final : public Collector {
 public:
  explicit UpgradeCollector(const CollectorContext& ctx) : ctx_(ctx) {}

  void collect(MetricSet& out) override {
    // lstat: the link's target is a unit file in the store; its existence is what enables it.
    // An unreadable directory throws (the collector fails) rather than reading as "disabled".
    // Without systemd's unit directory there is no timer to be enabled or not: not "disabled"
    // but not a NixOS host (or a wrong --path.root).
    if (!ctx_.root.stat(units_dir))
      throw Error(fmt::format(
          "{} does not exist: not a NixOS (systemd) host, or a wrong --path.root", units_dir));
    std::string link = ctx_.root.resolve(wants_dir) + "/" + std::string(timer_name);
    bool enabled = ctx_.root.lstat(link).has_value();
    out.gauge("nixos_autoupgrade_enabled",
              "1 if the nixos-upgrade timer (system.autoUpgrade) is enabled, else 0",
              enabled ? 1 : 0);
    if (auto st = ctx_.root.stat(stamp_file)) {
      double t =
          static_cast<double>(st->st_mtim.tv_sec) + static_cast<double>(st->st_mtim.tv_nsec) / 1e9;
      out.gauge(
          "nixos_autoupgrade_last_trigger_timestamp_seconds",
          "When systemd last started nixos-upgrade.service from its timer, or first activated "
          "the timer (Unix time of its Persistent= stamp; absent when the timer is not "
          "Persistent=)",
          t);
    }
  }

 private:
  CollectorContext ctx_;
};

}  // namespace

std::unique_ptr<Collector> make_upgrade_collector(const CollectorContext& ctx) {
  return std::make_unique<UpgradeCollector>(ctx);
}

}  // namespace nixmon::exporter
