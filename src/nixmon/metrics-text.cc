#include "nixmon/metrics-text.hh"

namespace nixmon::cli {

namespace {

// Parses `{a="x",b="y\"z"}` from the start of `rest`; false if malformed.
bool parse_labels(std::string_view& rest, Labels& out) {
  rest.remove_prefix(1);  // '{'
  while (true) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) rest.remove_prefix(1);
    if (rest.empty()) return false;
    if (rest.front() == '}') {
      rest.remove_prefix(1);
      return true;
    }
    auto eq = rest.find('=');
    if (eq == std::string_view::npos || eq + 1 >= rest.size() || rest[eq + 1] != '"') return false;
    std::string name(rest.substr(0, eq));
    rest.remove_prefix(eq + 2);
    std::string value;
    while (!rest.empty() && rest.front() != '"') {
      char c = rest.front();
      rest.remove_prefix(1);
      if (c == '\\' && !rest.empty()) {
        c = rest.front() == 'n' ? '\n' : rest.front();
        rest.remove_prefix(1);
      }
      value += c;
    }
    if (rest.empty()) return false;
    rest.remove_prefix(1);  // closing quote
    out[name] = std::move(value);
  }
}

}  // namespace

std::vector<Sample> parse_metrics_text(std::string_view text) {
  std::vector<Sample> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line.front() == '#') continue;
    auto name_end = line.find_first_of("{ ");
    if (name_end == std::string_view::npos || name_end == 0) continue;
    Sample s;
    s.labels["__name__"] = std::string(line.substr(0, name_end));
    std::string_view rest = line.substr(name_end);
    if (rest.front() == '{' && !parse_labels(rest, s.labels)) continue;
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    rest = rest.substr(0, rest.find(' '));  // drop a timestamp
    s.value = parse_sample_value(rest);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Sample> select(const std::vector<Sample>& samples, std::string_view name,
                           const Labels& match) {
  std::vector<Sample> out;
  for (const auto& s : samples) {
    auto n = s.labels.find("__name__");
    if (n == s.labels.end() || n->second != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) ok = false;
    }
    if (ok) out.push_back(s);
  }
  return out;
}

std::optional<double> sum_of(const std::vector<Sample>& samples, std::string_view name,
                             const Labels& match) {
  std::optional<double> total;
  for (const auto& s : select(samples, name, match))
    if (s.value) total = total.value_or(0) + *s.value;
  return total;
}

}  // namespace nixmon::cli
