#include "daemon/metrics.hh"

#include <chrono>
#include <thread>

#include "common/exposition.hh"
#include "common/http-server.hh"
#include "common/log.hh"
#include "common/version.hh"
#include "store/activity-kinds.hh"

namespace nixmon::nod {

namespace {

// Seconds: builds span milliseconds (trivial derivations) to hours (compilers, browsers).
const std::vector<double> duration_bounds = {0.01, 0.1, 0.5, 1,    5,    15,   30,
                                             60,   300, 900, 1800, 3600, 7200, 21600};

}  // namespace

BuildMetrics::BuildMetrics(const Counters* pipeline, std::size_t max_label_values)
    : pipeline_(pipeline), max_values_(max_label_values) {}

void BuildMetrics::set_live(std::function<void(MetricSet&)> live) {
  live_ = std::move(live);
}

std::string BuildMetrics::bounded(std::set<std::string>& seen, const std::string& value) {
  if (seen.count(value)) return value;
  if (seen.size() >= max_values_) return "other";
  seen.insert(value);
  return value;
}

void BuildMetrics::observe_duration(std::map<std::string, Histogram>& h, const std::string& key,
                                    double seconds) {
  Histogram& x = h[key];
  if (x.buckets.empty()) x.buckets.assign(duration_bounds.size(), 0);
  for (std::size_t i = 0; i < duration_bounds.size(); ++i)
    if (seconds <= duration_bounds[i]) {
      ++x.buckets[i];
      break;
    }
  ++x.count;
  x.sum += seconds;
}

void BuildMetrics::observe(const Event& e) {
  std::lock_guard lock(mu_);
  // Every activity kind: the series its entry names (activity-kinds.cc).
  if (const KindTraits* kind = kind_of(e); kind && !kind->metric_kind.empty()) {
    RowFacts f = *facts_of(e);
    std::string label(kind->metric_kind);
    ++activities_[{label, std::string(outcome_name(f.span->outcome))}];
    observe_duration(activity_duration_, label, static_cast<double>(f.duration_ms) / 1000);
    if (kind->metric_transferred_bytes) {
      if (auto bytes = f.download_bytes ? f.download_bytes : f.nar_bytes)
        transfer_bytes_[label] += static_cast<double>(*bytes);
    }
  }
  // The series of one kind, by its own labels.
  if (auto* b = std::get_if<BuildRow>(&e)) {
    std::string m = bounded(machines_, b->machine);
    ++builds_[{m, std::string(outcome_name(b->span.outcome))}];
    observe_duration(build_duration_, m, static_cast<double>(b->span.duration_ms) / 1000);
    // Only builds whose Nix reported CPU time add to it: an unknown time is not 0 s.
    if (b->cpu_user_us)
      build_cpu_seconds_[{m, "user"}] += static_cast<double>(*b->cpu_user_us) / 1e6;
    if (b->cpu_system_us)
      build_cpu_seconds_[{m, "system"}] += static_cast<double>(*b->cpu_system_us) / 1e6;
  } else if (auto* s = std::get_if<SubstitutionRow>(&e)) {
    std::string sub = bounded(substituters_, s->substituter);
    ++substitutions_[{sub, std::string(outcome_name(s->span.outcome))}];
    observe_duration(substitution_duration_, sub, static_cast<double>(s->span.duration_ms) / 1000);
    if (s->download_bytes)
      download_bytes_[sub] += static_cast<double>(*s->download_bytes);
    else
      ++download_unknown_[sub];
    // Unknown is not zero: the byte series appear with the first substitution that reports
    // them; nod_substitution_download_unknown_total counts the others.
    if (s->nar_bytes) nar_bytes_[sub] += static_cast<double>(*s->nar_bytes);
  } else if (auto* q = std::get_if<CacheQueryRow>(&e)) {
    std::string c = bounded(caches_, q->cache);
    ++cache_queries_[{c, q->hit ? (*q->hit ? "hit" : "miss") : "unknown"}];
  } else if (auto* f = std::get_if<FailureRow>(&e)) {
    ++failures_[std::string(failure_kind_name(f->kind))];  // FailureKind: a fixed set
  } else if (std::get_if<BuildFailedLater>(&e)) {
    // The build was counted as a success when it stopped; counters cannot go back. The failure
    // itself is counted in nod_failures_total.
  }
}

std::string BuildMetrics::render() const {
  MetricSet m;
  {
    std::lock_guard lock(mu_);
    for (auto& [k, v] : activities_)
      m.counter("nod_activities_total",
                "Activities recorded since the daemon started, by kind and outcome.",
                static_cast<double>(v), {{"kind", k.first}, {"outcome", k.second}});
    auto histograms = [&](std::string_view name, std::string_view help, std::string_view label,
                          const std::map<std::string, Histogram>& hs) {
      for (auto& [key, h] : hs) {
        std::vector<std::uint64_t> cumulative;
        std::uint64_t acc = 0;
        for (auto b : h.buckets) cumulative.push_back(acc += b);
        m.histogram(name, help, {{std::string(label), key}}, duration_bounds, cumulative, h.sum,
                    h.count);
      }
    };
    histograms("nod_activity_duration_seconds", "Durations of recorded activities, by kind.",
               "kind", activity_duration_);
    for (auto& [k, v] : builds_)
      m.counter("nod_builds_total", "Builds recorded, by builder machine and outcome.",
                static_cast<double>(v), {{"machine", k.first}, {"outcome", k.second}});
    histograms("nod_build_duration_seconds", "Build durations, by builder machine.", "machine",
               build_duration_);
    for (auto& [k, v] : build_cpu_seconds_)
      m.counter("nod_build_cpu_seconds_total",
                "CPU time of builders' processes, by builder machine and mode (user, system). "
                "Counts only builds whose Nix reported CPU time (Determinate Nix); others add "
                "nothing.",
                v, {{"machine", k.first}, {"mode", k.second}});
    for (auto& [k, v] : substitutions_)
      m.counter("nod_substitutions_total", "Substitutions recorded, by substituter and outcome.",
                static_cast<double>(v), {{"substituter", k.first}, {"outcome", k.second}});
    histograms("nod_substitution_duration_seconds", "Substitution durations, by substituter.",
               "substituter", substitution_duration_);
    for (auto& [k, v] : download_bytes_)
      m.counter("nod_substitution_downloaded_bytes_total",
                "Bytes downloaded by substitutions whose stream reported them, by substituter.", v,
                {{"substituter", k}});
    for (auto& [k, v] : download_unknown_)
      m.counter("nod_substitution_download_unknown_total",
                "Substitutions whose downloaded bytes the stream did not report, by substituter.",
                static_cast<double>(v), {{"substituter", k}});
    for (auto& [k, v] : nar_bytes_)
      m.counter("nod_substitution_nar_bytes_total",
                "NAR bytes of substituted paths (where reported), by substituter.", v,
                {{"substituter", k}});
    for (auto& [k, v] : cache_queries_)
      m.counter("nod_cache_queries_total", "Binary cache queries, by cache and result.",
                static_cast<double>(v), {{"cache", k.first}, {"result", k.second}});
    for (auto& [k, v] : transfer_bytes_)
      m.counter("nod_transferred_bytes_total", "Bytes of file transfers and copies, by kind.", v,
                {{"kind", k}});
    for (auto& [k, v] : failures_)
      m.counter("nod_failures_total", "Failures reported in the stream, by kind.",
                static_cast<double>(v), {{"kind", k}});
  }
  if (pipeline_) {
    const Counters& c = *pipeline_;
    auto g = [](const std::atomic<uint64_t>& a) {
      return static_cast<double>(a.load(std::memory_order_relaxed));
    };
    for (std::size_t i = 0; i < action_names.size(); ++i)
      m.counter("nod_records_by_action_total", "Well-formed log records received, by action.",
                g(c.by_action[i]), {{"action", std::string(action_names[i])}});
    for (std::size_t i = 0; i < malformed_count; ++i)
      m.counter("nod_malformed_records_total", "Lines skipped as malformed, by reason.",
                g(c.malformed[i]),
                {{"reason", std::string(malformed_name(static_cast<Malformed>(i)))}});
    for (const CounterInfo& info : counter_table()) {
      if (info.gauge)
        m.gauge(std::string(info.metric), std::string(info.help), g(c.*info.member));
      else
        m.counter(std::string(info.metric), std::string(info.help), g(c.*info.member));
    }
  }
  if (live_) live_(m);
  m.gauge("nod_build_info", "nod's version; always 1.", 1, {{"version", std::string(version)}});
  return nixmon::render(m);
}

MetricsEndpoint::MetricsEndpoint(const std::string& listen, const BuildMetrics& metrics,
                                 WebConfig web) {
  HttpServer::Options options;
  options.web = std::move(web);
  options.title = "nod";
  options.worker_threads = 4;  // a few Prometheus servers scrape; the rendering is cheap
  server_ = std::make_unique<HttpServer>(options, [&metrics] { return metrics.render(); });
  port_ = server_->bind(parse_listen_address(listen));
  thread_ = std::make_unique<std::thread>([this] {
    server_->serve();
    finished_ = true;
  });
  log::info("metrics on {} (port {})", listen, port_);
}

MetricsEndpoint::~MetricsEndpoint() {
  // stop() before serve() has started listening would be lost: repeat until serve() returned.
  while (!finished_) {
    server_->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  thread_->join();
}

}  // namespace nixmon::nod
