// The Go nixos-exporter's flake collector: is this host behind what is in git? The remote side
// comes from a background refresher (nix flake metadata, shared on NATS); a scrape only reads its
// snapshot and the running system's files, so a hanging nix never slows or fails a scrape.
#include <cmath>

#include "common/error.hh"
#include "common/log.hh"
#include "exporter/collectors/collectors.hh"
#include "exporter/flake/flake-refresher.hh"
#include "exporter/host/nixos-system.hh"
#include "exporter/host/system-files.hh"

namespace nixmon::exporter {

namespace {

double unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

class FlakeCollector final : public Collector {
 public:
  FlakeCollector(const CollectorContext& ctx, const FlakeConfig& config)
      : ctx_(ctx), refresher_(config, [clock = ctx.clock] { return clock->wall(); }) {}

  void collect(MetricSet& out) override {
    // The running system: its configuration revision is "current"; unknown when unset.
    SystemVersion system;
    if (auto current = resolve_system(ctx_.root, current_system_link))
      system = read_system_version(ctx_.root, *current);
    refresher_.note_current_revision(system.configuration_revision);
    auto snap = refresher_.snapshot();
    auto now = unix_seconds(ctx_.now());
    auto unknown = [](const std::optional<std::string>& s) { return s.value_or("unknown"); };

    std::optional<std::string> remote_rev;
    if (snap.remote) {
      remote_rev = snap.remote->metadata.revision;
      for (const auto& in : snap.remote->metadata.inputs) {
        if (!in.last_modified) continue;
        out.gauge("nixos_flake_input_age_seconds",
                  "Age of flake input in seconds (since its locked lastModified, remote flake)",
                  now - static_cast<double>(*in.last_modified), {{"input", in.name}});
      }
      for (const auto& in : snap.remote->metadata.inputs) {
        out.gauge("nixos_flake_input_info",
                  "Info gauge with revision and type labels of each direct input of the remote "
                  "flake's lock file",
                  1, {{"input", in.name}, {"rev", unknown(in.rev)}, {"type", in.type}});
      }
    }
    out.gauge("nixos_flake_info",
              "Info gauge with system version details: current_rev is the running system's "
              "configurationRevision, remote_rev the flake's latest revision",
              1,
              {{"current_rev", unknown(system.configuration_revision)},
               {"remote_rev", unknown(remote_rev)},
               {"nixpkgs_rev", unknown(system.nixpkgs_revision)},
               {"nixos_version", unknown(system.nixos_version)}});
    // As the Go exporter documents: without a configuration revision there is nothing to compare,
    // and behind is 0. Without a known remote revision the series is absent (unknown, not "not
    // behind").
    const char* behind_help =
        "1 if current system revision differs from remote latest (0 when the system records no "
        "configurationRevision; absent while the remote revision is unknown)";
    if (!system.configuration_revision) {
      out.gauge("nixos_flake_revision_behind", behind_help, 0);
    } else if (remote_rev) {
      out.gauge("nixos_flake_revision_behind", behind_help,
                *system.configuration_revision != *remote_rev ? 1 : 0);
    }

    if (snap.remote) {
      out.gauge("nixos_flake_last_check_success_timestamp_seconds",
                "When the remote flake state this host serves was fetched (by this host or, with "
                "NATS sharing, by a peer), Unix seconds",
                unix_seconds(snap.remote->fetched_at));
      out.gauge("nixos_flake_remote_from_nats",
                "1 if the remote flake state was last learnt from a NATS peer, 0 if fetched here",
                snap.remote->from_peer ? 1 : 0);
    }
    if (snap.last_check_failed) {
      out.gauge("nixos_flake_last_check_failed",
                "1 if this host's last remote check failed (the served state is then older)",
                *snap.last_check_failed ? 1 : 0);
    }
    collect_share_counters(out, flake_share_traits, snap.counters);
  }

 private:
  CollectorContext ctx_;
  FlakeRefresher refresher_;
};

// --flake.*: checked only for an enabled collector (the URL is required then).
class FlakeSetup final : public CollectorSetup {
 public:
  explicit FlakeSetup(CLI::App& app) { add_flake_flags(app, flags_); }

  void configure(bool enabled) override {
    if (enabled)
      config_ = make_flake_config(flags_);
    else if (flags_.nats_enable)
      log::warn("--flake.nats.enable has no effect without --collector.flake");
  }

  std::unique_ptr<Collector> make(const CollectorContext& ctx) const override {
    return make_flake_collector(ctx, config_);
  }

 private:
  FlakeFlags flags_;
  FlakeConfig config_;
};

}  // namespace

std::unique_ptr<CollectorSetup> flake_setup(CLI::App& app) {
  return std::make_unique<FlakeSetup>(app);
}

std::unique_ptr<Collector> make_flake_collector(const CollectorContext& ctx,
                                                const FlakeConfig& config) {
  return std::make_unique<FlakeCollector>(ctx, config);
}

}  // namespace nixmon::exporter
