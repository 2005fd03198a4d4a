#include "exporter/flake/flake-metadata.hh"

#include <simdjson.h>

#include <algorithm>

#include "common/error.hh"

namespace nixmon::exporter {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

std::optional<std::string> string_field(object o, std::string_view key) {
  std::string_view v;
  if (o[key].get_string().get(v) != simdjson::SUCCESS) return std::nullopt;
  return std::string(v);
}

std::optional<std::int64_t> integer_field(object o, std::string_view key) {
  element e;
  if (o[key].get(e) != simdjson::SUCCESS) return std::nullopt;
  std::int64_t i;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return i;
  std::uint64_t u;
  if (e.get_uint64().get(u) == simdjson::SUCCESS) return std::nullopt;  // past 2^63: not a time
  double d;
  if (e.get_double().get(d) == simdjson::SUCCESS && d >= -9e18 && d <= 9e18)
    return static_cast<std::int64_t>(d);
  return std::nullopt;
}

// The node key an input reference names: a string is the key itself, an array is a "follows"
// path from the root ("nixpkgs follows a/nixpkgs" is ["a", "nixpkgs"]).
std::optional<std::string> resolve_input(object nodes, std::string_view root_key, element ref,
                                         int depth) {
  if (depth > 32) throw Error("flake lock: \"follows\" chain too long or cyclic");
  std::string_view key;
  if (ref.get_string().get(key) == simdjson::SUCCESS) return std::string(key);
  simdjson::dom::array path;
  if (ref.get_array().get(path) != simdjson::SUCCESS)
    throw Error("flake lock: an input reference is neither a string nor an array");
  std::string node_key(root_key);
  for (element step : path) {
    std::string_view name;
    if (step.get_string().get(name) != simdjson::SUCCESS)
      throw Error("flake lock: a \"follows\" path holds a non-string");
    object node, inputs;
    if (nodes[node_key].get_object().get(node) != simdjson::SUCCESS) return std::nullopt;
    if (node["inputs"].get_object().get(inputs) != simdjson::SUCCESS) return std::nullopt;
    element next;
    if (inputs[name].get(next) != simdjson::SUCCESS) return std::nullopt;
    auto k = resolve_input(nodes, root_key, next, depth + 1);
    if (!k) return std::nullopt;
    node_key = *k;
  }
  return node_key;
}

std::vector<FlakeInput> lock_inputs(element lock) {
  object top, nodes, root, inputs;
  if (lock.get_object().get(top) != simdjson::SUCCESS) throw Error("flake lock: not a JSON object");
  if (top["nodes"].get_object().get(nodes) != simdjson::SUCCESS)
    throw Error("flake lock: no \"nodes\" object");
  std::string root_key = string_field(top, "root").value_or("root");
  if (nodes[root_key].get_object().get(root) != simdjson::SUCCESS)
    throw Error(fmt::format("flake lock: root node \"{}\" missing", root_key));
  std::vector<FlakeInput> out;
  auto e = root["inputs"];
  if (e.error() == simdjson::NO_SUCH_FIELD) return out;  // a flake without inputs
  if (e.get_object().get(inputs) != simdjson::SUCCESS)
    throw Error("flake lock: the root node's \"inputs\" is not an object");
  for (auto field : inputs) {
    auto key = resolve_input(nodes, root_key, field.value, 0);
    if (!key) continue;  // follows a path that does not exist: nothing locked to report
    object node, locked;
    if (nodes[*key].get_object().get(node) != simdjson::SUCCESS) continue;
    if (node["locked"].get_object().get(locked) != simdjson::SUCCESS) continue;
    FlakeInput in;
    in.name = std::string(field.key);
    in.rev = string_field(locked, "rev");
    in.type = string_field(locked, "type").value_or("unknown");
    in.last_modified = integer_field(locked, "lastModified");
    out.push_back(std::move(in));
  }
  std::sort(out.begin(), out.end(),
            [](const FlakeInput& a, const FlakeInput& b) { return a.name < b.name; });
  return out;
}

}  // namespace

std::vector<FlakeInput> parse_flake_lock(std::string_view json) {
  simdjson::dom::parser parser;
  element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc))
    throw Error(fmt::format("flake lock: not JSON ({})", simdjson::error_message(err)));
  return lock_inputs(doc);
}

FlakeMetadata parse_flake_metadata(std::string_view json) {
  simdjson::dom::parser parser;
  element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc))
    throw Error(fmt::format("flake metadata: not JSON ({})", simdjson::error_message(err)));
  object top;
  if (doc.get_object().get(top) != simdjson::SUCCESS)
    throw Error("flake metadata: not a JSON object");
  FlakeMetadata m;
  m.revision = string_field(top, "revision");
  if (m.revision && m.revision->empty()) m.revision.reset();
  m.last_modified = integer_field(top, "lastModified");
  element locks;
  if (top["locks"].get(locks) == simdjson::SUCCESS && !locks.is_null()) {
    m.inputs = lock_inputs(locks);
  }
  return m;
}

}  // namespace nixmon::exporter
