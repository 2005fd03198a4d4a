// Channel-based (non-flake) NixOS hosts: which nixpkgs root's channels are at, how old that is,
// when they were last updated, and whether upstream has moved on. The host side is read at scrape
// time (a few small files and links); the upstream side comes from a background refresher (HTTP,
// shared on NATS), so a slow or unreachable server never slows or fails a scrape.
#include <set>

#include "common/error.hh"
#include "common/log.hh"
#include "exporter/channel/channel-refresher.hh"
#include "exporter/channel/root-channels.hh"
#include "exporter/collectors/collectors.hh"

namespace nixmon::exporter {

namespace {

double unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// A channel's .git-revision holds the full revision, or the short one when the tarball was made
// from a tree without it (make-channel.nix: `nixpkgs.rev or nixpkgs.shortRev`): compare on the
// shorter length.
bool same_revision(std::string_view a, std::string_view b) {
  auto n = std::min(a.size(), b.size());
  return a.substr(0, n) == b.substr(0, n);
}

class ChannelCollector final : public Collector {
 public:
  ChannelCollector(const CollectorContext& ctx, const ChannelConfig& config) : ctx_(ctx) {
    if (config.check_upstream) {
      HostRoot root = ctx.root;
      refresher_ = std::make_unique<ChannelRefresher>(
          config, [clock = ctx.clock] { return clock->wall(); },
          [root] {
            RootChannels list;
            read_root_channel_list(root, list);
            std::vector<std::string> urls;
            for (const auto& c : list.listed.value_or(std::vector<ListedChannel>{}))
              urls.push_back(c.url);
            return urls;
          });
    }
  }

  void collect(MetricSet& out) override {
    RootChannels host = read_root_channels(ctx_.root);
    auto now = unix_seconds(ctx_.now());
    std::map<std::string, std::string> url_of;
    for (const auto& c : host.listed.value_or(std::vector<ListedChannel>{})) url_of[c.name] = c.url;
    std::map<std::string, const InstalledChannel*> installed;
    for (const auto& c : host.installed) installed[c.name] = &c;
    std::set<std::string> names;
    for (const auto& [n, _] : url_of) names.insert(n);
    for (const auto& [n, _] : installed) names.insert(n);

    if (host.listed || host.list_error) {
      out.gauge("nixos_channel_list_readable",
                "1 if root's channel list (/root/.nix-channels) could be read, 0 if it exists but "
                "not for the exporter (URLs and upstream checks are then unknown)",
                host.list_error ? 0 : 1);
    }
    auto unknown = [](const std::optional<std::string>& s) { return s.value_or("unknown"); };
    for (const auto& name : names) {
      auto it = installed.find(name);
      const InstalledChannel* c = it == installed.end() ? nullptr : it->second;
      auto u = url_of.find(name);
      out.gauge("nixos_channel_info",
                "Info gauge per root channel: its URL (from root's channel list) and the nixpkgs "
                "revision and version unpacked in the channels profile (unknown when not "
                "installed or not listed)",
                1,
                {{"name", name},
                 {"url", u == url_of.end() ? "unknown" : u->second},
                 {"revision", c ? unknown(c->revision) : "unknown"},
                 {"version", c ? unknown(c->version) : "unknown"}});
    }
    for (const auto& c : host.installed) {
      if (!c.release_date) continue;
      out.gauge("nixos_channel_age_seconds",
                "Age of the nixpkgs a root channel is at: now minus the release date in its "
                ".version-suffix (absent when the suffix carries no date)",
                now - unix_seconds(std::chrono::system_clock::time_point(*c.release_date)),
                {{"name", c.name}});
    }
    if (host.updated_at) {
      out.gauge("nixos_channel_updated_timestamp_seconds",
                "When root's channels profile generation was made (nix-channel --update), Unix "
                "seconds: the mtime of its generation link",
                unix_seconds(*host.updated_at));
    }
    if (host.generation) {
      out.gauge("nixos_channel_profile_generation", "Root's channels profile generation number",
                static_cast<double>(*host.generation));
    }
    if (refresher_) collect_upstream(out, url_of, installed);
  }

 private:
  void collect_upstream(MetricSet& out, const std::map<std::string, std::string>& url_of,
                        const std::map<std::string, const InstalledChannel*>& installed) {
    auto snap = refresher_->snapshot();
    for (const auto& [name, url] : url_of) {
      auto up = snap.upstream.find(url);
      if (up == snap.upstream.end()) continue;
      out.gauge("nixos_channel_upstream_info",
                "Info gauge with the revision a root channel's upstream (<URL>/git-revision) is "
                "at",
                1, {{"name", name}, {"revision", up->second.revision}});
    }
    for (const auto& [name, url] : url_of) {
      auto up = snap.upstream.find(url);
      auto in = installed.find(name);
      if (up == snap.upstream.end() || in == installed.end() || !in->second->revision) continue;
      out.gauge("nixos_channel_behind",
                "1 if a root channel's upstream is at another revision than the one installed "
                "(absent while either is unknown)",
                same_revision(*in->second->revision, up->second.revision) ? 0 : 1,
                {{"name", name}});
    }
    for (const auto& [name, url] : url_of) {
      auto up = snap.upstream.find(url);
      if (up == snap.upstream.end()) continue;
      out.gauge("nixos_channel_last_check_success_timestamp_seconds",
                "When the upstream revision this host serves was fetched (by this host or, with "
                "NATS sharing, by a peer), Unix seconds",
                unix_seconds(up->second.fetched_at), {{"name", name}});
    }
    for (const auto& [name, url] : url_of) {
      auto up = snap.upstream.find(url);
      if (up == snap.upstream.end()) continue;
      out.gauge("nixos_channel_upstream_from_nats",
                "1 if a channel's upstream revision was last learnt from a NATS peer, 0 if "
                "fetched here",
                up->second.from_peer ? 1 : 0, {{"name", name}});
    }
    for (const auto& [name, url] : url_of) {
      auto f = snap.last_check_failed.find(url);
      if (f == snap.last_check_failed.end()) continue;
      out.gauge("nixos_channel_last_check_failed",
                "1 if this host's last upstream check of a channel failed (the served state is "
                "then older)",
                f->second ? 1 : 0, {{"name", name}});
    }
    collect_share_counters(out, channel_share_traits, snap.counters);
  }

  CollectorContext ctx_;
  std::unique_ptr<ChannelRefresher> refresher_;
};

// --channel.*: checked only for an enabled collector.
class ChannelSetup final : public CollectorSetup {
 public:
  explicit ChannelSetup(CLI::App& app) { add_channel_flags(app, flags_); }

  void configure(bool enabled) override {
    if (enabled)
      config_ = make_channel_config(flags_);
    else if (flags_.nats_enable)
      log::warn("--channel.nats.enable has no effect without --collector.channel");
  }

  std::unique_ptr<Collector> make(const CollectorContext& ctx) const override {
    return make_channel_collector(ctx, config_);
  }

 private:
  ChannelFlags flags_;
  ChannelConfig config_;
};

}  // namespace

std::unique_ptr<CollectorSetup> channel_setup(CLI::App& app) {
  return std::make_unique<ChannelSetup>(app);
}

std::unique_ptr<Collector> make_channel_collector(const CollectorContext& ctx,
                                                  const ChannelConfig& config) {
  return std::make_unique<ChannelCollector>(ctx, config);
}

}  // namespace nixmon::exporter
