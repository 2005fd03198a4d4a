#include "common/exposition.hh"

#include <fmt/format.h>

#include <cmath>

#include "common/utf8.hh"

namespace nixmon {

MetricFamily& MetricSet::family(std::string_view name, std::string_view help, MetricType type) {
  auto [it, inserted] = index_.try_emplace(std::string(name), families_.size());
  if (inserted) families_.push_back(MetricFamily{std::string(name), std::string(help), type, {}});
  return families_[it->second];
}

void MetricSet::gauge(std::string_view name, std::string_view help, double value, Labels labels) {
  family(name, help, MetricType::gauge).samples.push_back({"", std::move(labels), value});
}

void MetricSet::counter(std::string_view name, std::string_view help, double value, Labels labels) {
  family(name, help, MetricType::counter).samples.push_back({"", std::move(labels), value});
}

void MetricSet::histogram(std::string_view name, std::string_view help, const Labels& labels,
                          const std::vector<double>& bounds,
                          const std::vector<std::uint64_t>& bucket_counts, double sum,
                          std::uint64_t count) {
  auto& f = family(name, help, MetricType::histogram);
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    Labels l = labels;
    l.emplace_back("le", format_value(bounds[i]));
    f.samples.push_back({"_bucket", std::move(l), static_cast<double>(bucket_counts.at(i))});
  }
  Labels inf = labels;
  inf.emplace_back("le", "+Inf");
  f.samples.push_back({"_bucket", std::move(inf), static_cast<double>(count)});
  f.samples.push_back({"_sum", labels, sum});
  f.samples.push_back({"_count", labels, static_cast<double>(count)});
}

void MetricSet::append(MetricSet&& other) {
  for (auto& f : other.families_) {
    auto& mine = family(f.name, f.help, f.type);
    for (auto& s : f.samples) mine.samples.push_back(std::move(s));
  }
  other.families_.clear();
  other.index_.clear();
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Whole numbers up to 2^53 print exactly as integers ("3", not "3.0" or "3e+00").
  if (std::trunc(v) == v && std::fabs(v) < 9007199254740992.0) {
    return fmt::format("{}", static_cast<long long>(v));
  }
  return fmt::format("{}", v);
}

namespace {
// The text format escapes backslash and line feed everywhere, the double quote in label values.
std::string escape(std::string_view v, bool quote) {
  std::string clean = repair_utf8(v);
  std::string out;
  out.reserve(clean.size());
  for (char c : clean) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}
}  // namespace

std::string escape_label_value(std::string_view v) {
  return escape(v, true);
}

std::string escape_help(std::string_view v) {
  return escape(v, false);
}

namespace {
std::string_view type_name(MetricType t) {
  switch (t) {
    case MetricType::gauge:
      return "gauge";
    case MetricType::counter:
      return "counter";
    case MetricType::histogram:
      return "histogram";
    case MetricType::untyped:
      return "untyped";
  }
  return "untyped";
}
}  // namespace

void render_to(std::string& out, const MetricSet& metrics) {
  for (const auto& f : metrics.families()) {
    if (f.samples.empty()) continue;
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", f.name,
                   escape_help(f.help), f.name, type_name(f.type));
    for (const auto& s : f.samples) {
      out += f.name;
      out += s.suffix;
      if (!s.labels.empty()) {
        out += '{';
        bool first = true;
        for (const auto& [k, v] : s.labels) {
          if (!first) out += ',';
          first = false;
          out += k;
          out += "=\"";
          out += escape_label_value(v);
          out += '"';
        }
        out += '}';
      }
      out += ' ';
      out += format_value(s.value);
      out += '\n';
    }
  }
}

std::string render(const MetricSet& metrics) {
  std::string out;
  render_to(out, metrics);
  return out;
}

}  // namespace nixmon
