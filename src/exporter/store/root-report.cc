#include "exporter/store/root-report.hh"

#include <fmt/format.h>

#include <array>

#include "common/json-writer.hh"

namespace nixmon::exporter {

std::string human_bytes(std::uint64_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  static constexpr std::array<const char*, 6> units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(n) / 1024;
  std::size_t u = 0;
  // Move up a unit before the one-decimal rounding would print "1024.0".
  while (v >= 1023.95 && u + 1 < units.size()) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

std::string root_report_table(const RootOwnership& o, const GcAnalysis& gc) {
  std::string out =
      fmt::format("{:>11} {:>9}  {:<12}  {}\n", "EXCLUSIVE", "PATHS", "SOURCE", "ROOT");
  for (const auto& r : o.roots) {
    out += fmt::format("{:>11} {:>9}  {:<12}  {}", human_bytes(r.exclusive_nar_bytes),
                       r.exclusive_paths, to_string(r.source), r.link);
    if (r.generation) out += fmt::format(" (system generation {})", *r.generation);
    out += '\n';
  }
  out += fmt::format(
      "\n{} roots. Exclusive: what deleting that one root and running nix-store --gc would free "
      "(NAR bytes).\n",
      o.roots.size());
  out += fmt::format("shared by two or more roots: {} in {} paths\n",
                     human_bytes(o.shared_nar_bytes), o.shared_paths);
  out += fmt::format("live: {} in {} paths; reclaimable now: {} in {} paths\n",
                     human_bytes(gc.live_nar_bytes), gc.live_paths,
                     human_bytes(gc.reclaimable_nar_bytes), gc.reclaimable_paths);
  if (!gc.runtime_roots)
    out += "runtime roots (paths used by running processes) were not counted (--runtime-roots)\n";
  return out;
}

std::string root_report_json(const RootOwnership& o, const GcAnalysis& gc) {
  JsonWriter w;
  w.begin_object().key("roots").begin_array();
  for (const auto& r : o.roots) {
    w.begin_object().field("root", r.link).field("source", to_string(r.source)).key("generation");
    if (r.generation) {
      w.value(*r.generation);
    } else {
      w.null();
    }
    w.field("exclusive_paths", r.exclusive_paths)
        .field("exclusive_nar_bytes", r.exclusive_nar_bytes)
        .end_object();
  }
  w.end_array()
      .field("shared_paths", o.shared_paths)
      .field("shared_nar_bytes", o.shared_nar_bytes)
      .field("live_paths", gc.live_paths)
      .field("live_nar_bytes", gc.live_nar_bytes)
      .field("reclaimable_paths", gc.reclaimable_paths)
      .field("reclaimable_nar_bytes", gc.reclaimable_nar_bytes)
      .field("runtime_roots", gc.runtime_roots)
      .end_object();
  return w.take() + "\n";
}

}  // namespace nixmon::exporter
