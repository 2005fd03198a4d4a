#pragma once
// Metric families and the Prometheus text exposition format 0.0.4.
//
// Values are written locale-independently; label values and HELP are escaped as the format
// requires, and invalid UTF-8 in label values is replaced by U+FFFD so a stray byte in a host file
// cannot make the whole scrape unparseable.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace nixmon {

enum class MetricType { gauge, counter, histogram, untyped };

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  // Appended to the family name: "" for plain series, "_bucket"/"_sum"/"_count" in a histogram.
  std::string suffix;
  Labels labels;
  double value = 0;
};

struct MetricFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::gauge;
  std::vector<Sample> samples;
};

// An ordered set of families; adding a sample to a name already present appends to that family.
// Not thread-safe: each collector run fills its own.
class MetricSet {
 public:
  MetricFamily& family(std::string_view name, std::string_view help, MetricType type);
  void gauge(std::string_view name, std::string_view help, double value, Labels labels = {});
  void counter(std::string_view name, std::string_view help, double value, Labels labels = {});

  // A cumulative histogram: `bucket_counts[i]` counts observations <= `bounds[i]`
  // (already cumulative); `count` is the +Inf bucket.
  void histogram(std::string_view name, std::string_view help, const Labels& labels,
                 const std::vector<double>& bounds, const std::vector<std::uint64_t>& bucket_counts,
                 double sum, std::uint64_t count);

  void append(MetricSet&& other);

  const std::vector<MetricFamily>& families() const { return families_; }
  bool empty() const { return families_.empty(); }

 private:
  std::vector<MetricFamily> families_;
  std::unordered_map<std::string, std::size_t> index_;
};

// Renders the families in order, in the text format.
std::string render(const MetricSet& metrics);
void render_to(std::string& out, const MetricSet& metrics);

// Formats a sample value: integers without a fraction, "NaN", "+Inf", "-Inf", otherwise the
// shortest text that reads back as the same double.
std::string format_value(double v);

std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);

inline constexpr std::string_view exposition_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace nixmon
