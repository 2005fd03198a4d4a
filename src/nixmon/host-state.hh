#pragma once
// One row per host of the fleet, assembled from a few instant queries to Prometheus: what
// `nixmon hosts` prints. A host is the `host` label the nixmon module gives every target, else
// the target's instance without its port, so the exporter, nod and node_exporter of one machine
// meet in one row. Every field is optional: a series Prometheus does not have is unknown, shown
// as "-" or null, never as 0 or false.
#include <optional>
#include <string>
#include <vector>

#include "nixmon/prometheus-api.hh"

namespace nixmon::cli {

struct HostAlert {
  std::string name;
  std::string severity;  // "" when the rule gave none
};

struct HostState {
  std::string host;
  std::optional<bool> up;  // every target of the host up; nullopt without an `up` series
  std::vector<std::string> down_jobs;
  std::optional<std::string> nixos_version;
  std::optional<double> generation;
  std::optional<double> generation_age_seconds;
  std::optional<bool> behind;  // behind its remote flake revision or a root channel's upstream
  std::vector<std::string> behind_what;  // "flake", "channel nixos"
  std::optional<bool> reboot_required;
  std::vector<std::string> reboot_reasons;
  std::optional<bool> boot_pending;
  std::optional<double> boot_used_ratio;     // of the /boot file system, 0..1
  std::optional<double> store_bytes;         // NAR bytes of the valid store paths
  std::optional<double> reclaimable_bytes;   // NAR bytes a garbage collection would free
  std::optional<double> build_failures_24h;  // from nod's nod_builds_total{outcome="failed"}
  std::vector<HostAlert> firing;
};

// The queries `nixmon hosts` sends, at once: the raw series of every host in one selector, the
// one figure that needs a range (nod's failed builds over 24 h), and the reboot state (the
// reasons that are 1 and, per exporter, whether it is known), asked apart so that the reasons
// that are 0 are not sent.
std::vector<std::string> host_queries();

// Rows from the answers to host_queries(), in the same order; sorted by rank_hosts.
std::vector<HostState> assemble_hosts(const std::vector<std::vector<Sample>>& answers);

// Worst first: down, then critical alerts, then warnings, reboot needed, build failures, behind,
// boot pending, /boot over 80 %; then by name. A host with nothing known sorts after those with
// trouble but before the healthy (an unknown state is worth a look).
void rank_hosts(std::vector<HostState>& hosts);
int badness(const HostState& h);

// The host key of a series: its `host` label, else `instance` without ":port".
std::string host_of(const Labels& labels);

}  // namespace nixmon::cli
