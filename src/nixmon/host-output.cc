#include "nixmon/host-output.hh"

#include <fmt/format.h>

#include "common/json-writer.hh"
#include "nixmon/text-table.hh"

namespace nixmon::cli {

namespace {

std::string whole(double v) {
  return fmt::format("{}", static_cast<long long>(v));
}

// The cells, shared by the table and CSV: text, and the colour the table gives it.
struct HostCells {
  Cell up, version, generation, age, behind, reboot, boot, store, reclaimable, failures, alerts;
};

HostCells cells(const HostState& h) {
  HostCells c;
  std::string unknown(unknown_cell);
  c.up = !h.up   ? Cell{unknown}
         : *h.up ? Cell{"up", Colour::green}
                 : Cell{"down" + (h.down_jobs.empty() ? "" : " (" + join(h.down_jobs, ",") + ")"),
                        Colour::red};
  c.version = {h.nixos_version.value_or(unknown)};
  c.generation = {h.generation ? whole(*h.generation) : unknown};
  c.age = {h.generation_age_seconds ? format_age(*h.generation_age_seconds) : unknown};
  c.behind = !h.behind   ? Cell{unknown}
             : *h.behind ? Cell{"behind (" + join(h.behind_what, ",") + ")", Colour::yellow}
                         : Cell{"current"};
  if (h.reboot_required == true) {
    c.reboot = {"needed (" + join(h.reboot_reasons, ",") + ")", Colour::yellow};
  } else if (h.boot_pending == true) {
    c.reboot = {"boot pending", Colour::yellow};
  } else if (h.reboot_required == false) {
    // Only the reboot collector can say no: a boot not pending says nothing about the kernel.
    c.reboot = {"no"};
  } else {
    c.reboot = {unknown};
  }
  c.boot = h.boot_used_ratio ? Cell{format_percent(*h.boot_used_ratio),
                                    *h.boot_used_ratio > 0.8 ? Colour::yellow : Colour::none}
                             : Cell{unknown};
  c.store = {h.store_bytes ? format_bytes(*h.store_bytes) : unknown};
  c.reclaimable = {h.reclaimable_bytes ? format_bytes(*h.reclaimable_bytes) : unknown};
  c.failures = !h.build_failures_24h       ? Cell{unknown}
               : *h.build_failures_24h > 0 ? Cell{whole(*h.build_failures_24h), Colour::yellow}
                                           : Cell{"0"};
  std::vector<std::string> names;
  bool critical = false;
  for (const auto& a : h.firing) {
    names.push_back(a.name);
    critical = critical || a.severity == "critical";
  }
  c.alerts = names.empty() ? Cell{"none"}
                           : Cell{join(names, ","), critical ? Colour::red : Colour::yellow};
  return c;
}

const std::vector<std::string> header = {"HOST",  "UP",          "NIXOS",      "GEN",
                                         "AGE",   "UPDATE",      "REBOOT",     "/BOOT",
                                         "STORE", "RECLAIMABLE", "FAILED 24H", "FIRING"};

void optional_number(JsonWriter& w, std::string_view key, const std::optional<double>& v) {
  w.key(key);
  if (v)
    w.value(*v);
  else
    w.null();
}

void optional_bool(JsonWriter& w, std::string_view key, const std::optional<bool>& v) {
  w.key(key);
  if (v)
    w.value(*v);
  else
    w.null();
}

void strings(JsonWriter& w, std::string_view key, const std::vector<std::string>& v) {
  w.key(key).begin_array();
  for (const auto& s : v) w.value(s);
  w.end_array();
}

}  // namespace

std::string hosts_table(const std::vector<HostState>& hosts, bool colour) {
  TextTable t(header);
  for (const auto& h : hosts) {
    auto c = cells(h);
    t.add({{h.host},
           c.up,
           c.version,
           c.generation,
           c.age,
           c.behind,
           c.reboot,
           c.boot,
           c.store,
           c.reclaimable,
           c.failures,
           c.alerts});
  }
  return t.render(colour);
}

std::string hosts_csv(const std::vector<HostState>& hosts) {
  std::string out =
      csv_record({"host", "up", "nixos_version", "generation", "generation_age_seconds", "behind",
                  "reboot_required", "reboot_reasons", "boot_pending", "boot_used_ratio",
                  "store_bytes", "reclaimable_bytes", "build_failures_24h", "firing_alerts"});
  auto num = [](const std::optional<double>& v) { return v ? format_number(*v) : std::string(); };
  auto flag = [](const std::optional<bool>& v) {
    return v ? std::string(*v ? "true" : "false") : std::string();
  };
  for (const auto& h : hosts) {
    std::vector<std::string> names;
    for (const auto& a : h.firing) names.push_back(a.name);
    out += csv_record({h.host, flag(h.up), h.nixos_version.value_or(""), num(h.generation),
                       num(h.generation_age_seconds), flag(h.behind), flag(h.reboot_required),
                       join(h.reboot_reasons, " "), flag(h.boot_pending), num(h.boot_used_ratio),
                       num(h.store_bytes), num(h.reclaimable_bytes), num(h.build_failures_24h),
                       join(names, " ")});
  }
  return out;
}

std::string hosts_json(const std::vector<HostState>& hosts) {
  std::string out = "[";
  bool first = true;
  for (const auto& h : hosts) {
    JsonWriter w;
    w.begin_object();
    w.field("host", h.host);
    optional_bool(w, "up", h.up);
    strings(w, "down_jobs", h.down_jobs);
    w.key("nixos_version");
    if (h.nixos_version)
      w.value(*h.nixos_version);
    else
      w.null();
    optional_number(w, "generation", h.generation);
    optional_number(w, "generation_age_seconds", h.generation_age_seconds);
    optional_bool(w, "behind", h.behind);
    strings(w, "behind_what", h.behind_what);
    optional_bool(w, "reboot_required", h.reboot_required);
    strings(w, "reboot_reasons", h.reboot_reasons);
    optional_bool(w, "boot_pending", h.boot_pending);
    optional_number(w, "boot_used_ratio", h.boot_used_ratio);
    optional_number(w, "store_bytes", h.store_bytes);
    optional_number(w, "reclaimable_bytes", h.reclaimable_bytes);
    optional_number(w, "build_failures_24h", h.build_failures_24h);
    w.key("firing").begin_array();
    for (const auto& a : h.firing) {
      w.begin_object().field("alertname", a.name);
      w.key("severity");
      if (a.severity.empty())
        w.null();
      else
        w.value(a.severity);
      w.end_object();
    }
    w.end_array();
    w.end_object();
    out += (first ? "\n  " : ",\n  ") + w.take();
    first = false;
  }
  return out + (first ? "]\n" : "\n]\n");
}

}  // namespace nixmon::cli
