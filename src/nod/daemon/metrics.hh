#pragma once
// nod's Prometheus export: bounded-cardinality counters and duration histograms of what the
// daemon recorded since it started, by activity kind, outcome, substituter and builder machine —
// never by derivation or store path. Plus the pipeline's own counters (records, drops).
//
// Cardinality: each label takes at most `max_label_values` distinct values (substituters,
// machines, caches are few in practice); later ones are counted under "other".
//
// Threads: observe() is called from the tracker's sink (any reader thread); render() from the
// HTTP workers. One mutex guards the state; observe() holds it for a few map updates only.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/exposition.hh"
#include "common/web-config.hh"
#include "ingest/counters.hh"
#include "tracking/events.hh"

namespace nixmon {
class HttpServer;
}

namespace nixmon::nod {

class BuildMetrics {
 public:
  explicit BuildMetrics(const Counters* pipeline = nullptr, std::size_t max_label_values = 32);
  void observe(const Event& e);
  // Adds the daemon's current state (queue depth, open activities) to each render: values the
  // parts that own them compute at render time, not counters. Set before serving starts.
  void set_live(std::function<void(MetricSet&)> live);
  std::string render() const;

 private:
  struct Histogram {
    std::vector<std::uint64_t> buckets;  // not cumulative; one per bound
    std::uint64_t count = 0;
    double sum = 0;
  };
  void observe_duration(std::map<std::string, Histogram>& h, const std::string& key,
                        double seconds);
  std::string bounded(std::set<std::string>& seen, const std::string& value);

  const Counters* pipeline_;
  std::function<void(MetricSet&)> live_;
  std::size_t max_values_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> activities_;  // kind, outcome
  std::map<std::string, Histogram> activity_duration_;                       // kind
  std::map<std::pair<std::string, std::string>, std::uint64_t> builds_;      // machine, outcome
  std::map<std::string, Histogram> build_duration_;                          // machine
  std::map<std::pair<std::string, std::string>, double> build_cpu_seconds_;  // machine, mode
  std::map<std::pair<std::string, std::string>, std::uint64_t>
      substitutions_;                                         // substituter, outcome
  std::map<std::string, Histogram> substitution_duration_;    // substituter
  std::map<std::string, double> download_bytes_, nar_bytes_;  // substituter
  std::map<std::string, std::uint64_t> download_unknown_;     // substituter
  std::map<std::pair<std::string, std::string>, std::uint64_t> cache_queries_;  // cache, result
  std::map<std::string, double> transfer_bytes_;                                // kind
  std::map<std::string, std::uint64_t> failures_;                               // kind
  std::set<std::string> machines_, substituters_, caches_;
};

// `nod daemon --metrics.listen ADDR`: serves BuildMetrics on /metrics from its own thread until
// destroyed. Throws Error when the address cannot be bound.
class MetricsEndpoint {
 public:
  // `web`: --web.config.file (TLS, basic auth), load_web_config's result; default plain HTTP.
  MetricsEndpoint(const std::string& listen, const BuildMetrics& metrics, WebConfig web = {});
  ~MetricsEndpoint();
  int port() const { return port_; }

 private:
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<std::thread> thread_;
  int port_ = 0;
  std::atomic<bool> finished_{false};
};

}  // namespace nixmon::nod
