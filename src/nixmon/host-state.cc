#include "nixmon/host-state.hh"

#include <algorithm>
#include <cmath>
#include <map>

namespace nixmon::cli {

namespace {

// The exporter's series (docs/nixos-exporter.md), node_exporter's and Prometheus' `up`,
// Prometheus' ALERTS, and nod_build_info (which says nod is scraped for the host, so that no
// failed-build series means none failed rather than unknown). nixos_reboot_required has a query
// of its own (host_queries).
constexpr const char* raw_names[] = {
    "up",
    "ALERTS",
    "nixos_system_info",
    "nixos_current_generation",
    "nixos_generation_age_seconds",
    "nixos_flake_revision_behind",
    "nixos_channel_behind",
    "nixos_boot_pending",
    "nixos_boot_filesystem_avail_bytes",
    "nixos_boot_filesystem_size_bytes",
    "nixos_store_nar_bytes",
    "nixos_gc_reclaimable_nar_bytes",
    "nod_build_info",
};

int severity_rank(const std::string& s) {
  if (s == "critical") return 0;
  if (s == "warning") return 1;
  if (s == "info") return 2;
  return 3;
}

}  // namespace

std::string host_of(const Labels& labels) {
  if (auto h = label(labels, "host"); !h.empty()) return h;
  auto instance = label(labels, "instance");
  // "10.0.0.1:9971" and "[::1]:9971" lose the port; a bare name or IPv6 address stays.
  if (instance.starts_with('[')) {
    auto close = instance.find("]:");
    return close == std::string::npos ? instance : instance.substr(0, close + 1);
  }
  if (auto colon = instance.find(':'); colon != std::string::npos && instance.rfind(':') == colon)
    return instance.substr(0, colon);
  return instance;
}

std::vector<std::string> host_queries() {
  std::string names;
  for (const char* n : raw_names) {
    if (!names.empty()) names += '|';
    names += n;
  }
  return {
      // alertstate!="pending" also matches the series without that label: it only drops the
      // ALERTS that are not firing yet.
      "{__name__=~\"" + names + "\",alertstate!=\"pending\"}",
      // increase() counts from the first sample a series has inside the window: a failure that
      // created the series is counted once Prometheus saw the counter before it rose.
      "sum by (host, instance) (increase(nod_builds_total{outcome=\"failed\"}[24h]))",
      // Five reasons per host, nearly all 0: the reasons that are 1, and one series per exporter
      // (their max) that says whether the reboot state is known at all. On 1,000 hosts this is
      // about 1,200 series instead of 5,000, a quarter of what the first query used to return.
      "nixos_reboot_required == 1 or max by (__name__, host, instance) (nixos_reboot_required)",
  };
}

std::vector<HostState> assemble_hosts(const std::vector<std::vector<Sample>>& answers) {
  std::map<std::string, HostState> by_host;
  auto row = [&](const Labels& l) -> HostState& {
    auto key = host_of(l);
    auto& h = by_host[key];
    h.host = key;
    return h;
  };
  std::map<std::string, bool> has_nod;
  std::map<std::string, double> boot_avail, boot_size;

  std::vector<const Sample*> samples;
  for (std::size_t i : {std::size_t{0}, std::size_t{2}})
    if (i < answers.size())
      for (const auto& s : answers[i]) samples.push_back(&s);
  for (const Sample* sample : samples) {
    const Sample& s = *sample;
    auto name = label(s.labels, "__name__");
    if (host_of(s.labels).empty()) continue;  // fleet-wide series (an alert without a host)
    auto& h = row(s.labels);
    if (name == "up") {
      if (!s.value) continue;
      bool target_up = *s.value == 1;
      h.up = h.up.value_or(true) && target_up;
      if (!target_up) h.down_jobs.push_back(label(s.labels, "job"));
    } else if (name == "ALERTS") {
      if (label(s.labels, "alertstate") == "firing")
        h.firing.push_back({label(s.labels, "alertname"), label(s.labels, "severity")});
    } else if (name == "nixos_system_info") {
      if (auto v = label(s.labels, "nixos_version"); !v.empty() && v != "unknown")
        h.nixos_version = v;
    } else if (name == "nixos_current_generation") {
      h.generation = s.value;
    } else if (name == "nixos_generation_age_seconds") {
      h.generation_age_seconds = s.value;
    } else if (name == "nixos_flake_revision_behind" || name == "nixos_channel_behind") {
      if (!s.value) continue;
      bool behind = *s.value == 1;
      h.behind = h.behind.value_or(false) || behind;
      if (behind)
        h.behind_what.push_back(name == "nixos_flake_revision_behind"
                                    ? std::string("flake")
                                    : "channel " + label(s.labels, "name"));
    } else if (name == "nixos_reboot_required") {
      if (!s.value) continue;
      bool needed = *s.value == 1;
      h.reboot_required = h.reboot_required.value_or(false) || needed;
      // The per-exporter max has no reason: it only makes the state known.
      if (auto reason = label(s.labels, "reason"); needed && !reason.empty())
        h.reboot_reasons.push_back(reason);
    } else if (name == "nixos_boot_pending") {
      if (s.value) h.boot_pending = *s.value == 1;
    } else if (name == "nixos_boot_filesystem_avail_bytes") {
      if (s.value) boot_avail[h.host] = *s.value;
    } else if (name == "nixos_boot_filesystem_size_bytes") {
      if (s.value) boot_size[h.host] = *s.value;
    } else if (name == "nixos_store_nar_bytes") {
      h.store_bytes = s.value;
    } else if (name == "nixos_gc_reclaimable_nar_bytes") {
      h.reclaimable_bytes = s.value;
    } else if (name == "nod_build_info") {
      has_nod[h.host] = true;
    }
  }
  for (const auto& [host, size] : boot_size) {
    auto avail = boot_avail.find(host);
    if (avail != boot_avail.end() && size > 0)
      by_host[host].boot_used_ratio = 1.0 - avail->second / size;
  }
  for (const auto& [host, yes] : has_nod) by_host[host].build_failures_24h = 0.0;
  if (answers.size() > 1) {
    for (const auto& s : answers[1]) {
      if (host_of(s.labels).empty() || !s.value) continue;
      auto& h = row(s.labels);
      h.build_failures_24h = h.build_failures_24h.value_or(0) + std::round(*s.value);
    }
  }

  std::vector<HostState> out;
  for (auto& [_, h] : by_host) {
    std::sort(h.reboot_reasons.begin(), h.reboot_reasons.end());
    std::sort(h.behind_what.begin(), h.behind_what.end());
    std::sort(h.down_jobs.begin(), h.down_jobs.end());
    std::sort(h.firing.begin(), h.firing.end(), [](const HostAlert& a, const HostAlert& b) {
      return std::pair(severity_rank(a.severity), a.name) <
             std::pair(severity_rank(b.severity), b.name);
    });
    out.push_back(std::move(h));
  }
  rank_hosts(out);
  return out;
}

int badness(const HostState& h) {
  int score = 0;
  if (h.up == false) score += 100000;
  for (const auto& a : h.firing)
    score += a.severity == "critical" ? 10000 : a.severity == "warning" ? 1000 : 100;
  if (h.reboot_required == true) score += 50;
  if (h.build_failures_24h.value_or(0) > 0) score += 40;
  if (h.behind == true) score += 30;
  if (h.boot_pending == true) score += 20;
  if (h.boot_used_ratio.value_or(0) > 0.8) score += 20;
  // Nothing known about the NixOS state: worth a look, below any known trouble.
  if (!h.nixos_version && !h.generation && !h.reboot_required) score += 10;
  return score;
}

void rank_hosts(std::vector<HostState>& hosts) {
  std::stable_sort(hosts.begin(), hosts.end(), [](const HostState& a, const HostState& b) {
    int ba = badness(a), bb = badness(b);
    if (ba != bb) return ba > bb;
    return a.host < b.host;
  });
}

}  // namespace nixmon::cli
