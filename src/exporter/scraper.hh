#pragma once
// Runs the enabled collectors for one scrape, each on its own long-lived worker thread with a
// deadline, and renders the exposition. A collector that throws or overruns is reported with
// nixos_exporter_collector_success 0; the scrape still answers with everything else.
//
// Thread-safety: scrape() may be called from several HTTP workers at once. Concurrent scrapes share
// a collector's run in flight (single flight). A collector that overran keeps running detached;
// until it returns, later scrapes report it failed at once instead of piling up threads behind it.
// Collectors must put distinct metric names (families are rendered per collector, not merged).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/exposition.hh"
#include "exporter/collector.hh"

namespace nixmon::exporter {

class Scraper {
 public:
  struct Named {
    std::string name;
    std::shared_ptr<Collector> collector;
  };

  // `fixed` is rendered first in every scrape (build info).
  Scraper(std::vector<Named> collectors, std::chrono::milliseconds timeout, MetricSet fixed);
  ~Scraper();

  std::string scrape();

 public:
  struct Slot;  // one collector, its worker and its run in flight (scraper.cc)

 private:
  std::vector<std::shared_ptr<Slot>> slots_;
  std::chrono::milliseconds timeout_;
  std::string fixed_;
};

// nixos_exporter_build_info{version,revision,compiler} 1.
MetricSet build_info_metrics();

}  // namespace nixmon::exporter
