#pragma once
// Reads a server's own /metrics (Prometheus text exposition 0.0.4) into samples, for the few
// series nixmon asks Prometheus and Alertmanager about directly (reload success, config hash,
// notifications): asking the server itself works even when nothing scrapes it.
#include <string_view>
#include <vector>

#include "nixmon/prometheus-api.hh"

namespace nixmon::cli {

// Comment and blank lines are skipped; a line that does not parse is skipped too (a reader of a
// few known series has no use for it). The name is stored as the `__name__` label.
std::vector<Sample> parse_metrics_text(std::string_view text);

// Samples named `name` whose labels include every pair of `match`.
std::vector<Sample> select(const std::vector<Sample>& samples, std::string_view name,
                           const Labels& match = {});
// The sum of those samples' values; nullopt when there is none (not 0: absent is unknown).
std::optional<double> sum_of(const std::vector<Sample>& samples, std::string_view name,
                             const Labels& match = {});

}  // namespace nixmon::cli
