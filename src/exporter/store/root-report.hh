#pragma once
// `nixmon-store-report roots`: every GC root with what it alone keeps alive, largest first, as a
// table for people or as JSON for scripts. Presentation only; the figures come from
// analyse_root_ownership and analyse_gc.
#include <string>

#include "exporter/store/gc-analysis.hh"

namespace nixmon::exporter {

// Columns: exclusive NAR bytes (KiB/MiB/GiB), exclusive paths, where the root was found, the
// root's path (and its system generation); then the shared, live and reclaimable totals.
std::string root_report_table(const RootOwnership& ownership, const GcAnalysis& gc);

// {"roots": [{"root", "source", "generation" (null unless a system generation),
// "exclusive_paths", "exclusive_nar_bytes"}...], "shared_paths", "shared_nar_bytes",
// "live_paths", "live_nar_bytes", "reclaimable_paths", "reclaimable_nar_bytes"}; byte counts
// exact, roots in the table's order.
std::string root_report_json(const RootOwnership& ownership, const GcAnalysis& gc);

// 1536 -> "1.5 KiB"; under 1 KiB in bytes ("512 B").
std::string human_bytes(std::uint64_t n);

}  // namespace nixmon::exporter
