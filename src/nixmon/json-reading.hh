#pragma once
// Small helpers over simdjson's DOM for the API answers nixmon reads: a missing or mistyped field
// is nullopt, never a default that could pass for a value. Uses only DOM calls that are the same
// in simdjson 3.0 (Debian 12) and 4.6 (nixpkgs).
#include <simdjson.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace nixmon::cli {

using Labels = std::map<std::string, std::string>;

std::optional<std::string_view> json_string(simdjson::dom::element e, std::string_view key);
std::optional<simdjson::dom::array> json_array(simdjson::dom::element e, std::string_view key);
std::optional<simdjson::dom::object> json_object(simdjson::dom::element e, std::string_view key);
// A JSON object of strings ({"job": "node"}); non-string values are left out.
Labels json_labels(simdjson::dom::element e, std::string_view key);
// A label's value, "" when the series has no such label (as PromQL reads a missing label).
std::string label(const Labels& labels, const std::string& name);

// Prometheus writes sample values as strings ("1", "4.2e+09", "NaN", "+Inf"): a finite value, or
// nullopt (NaN and the infinities say nothing a table can show).
std::optional<double> parse_sample_value(std::string_view text);

// Parses `body` into `parser`'s document; throws Error("<what>: not JSON: ...").
simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& body,
                                  std::string_view what);

}  // namespace nixmon::cli
