#pragma once
// A small YAML document tree for configuration files, built from libyaml's event parser.
//
// Why libyaml and not a hand-written subset: the files we read follow the Prometheus
// exporter-toolkit's format, which Go reads with a full YAML parser, so operators write comments,
// quoted and block scalars, flow sequences and `---` freely; a subset parser would reject valid
// files or, worse, misread them. libyaml is the reference C implementation, event based (no
// recursion inside it), and continuously fuzzed upstream. What it does not limit we do here:
// nesting depth, document count, and aliases (refused: they only serve to expand one node into
// many).
//
// Thread-safety: parse_yaml is re-entrant; a YamlNode is a plain value.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nixmon {

struct YamlNode {
  enum class Kind { null, scalar, sequence, mapping };
  Kind kind = Kind::null;
  std::string value;            // scalar text (quotes removed, escapes resolved)
  bool quoted = false;          // a quoted scalar is always a string: "true" is not a bool
  std::vector<YamlNode> items;  // sequence
  // A mapping, in file order, keys unique: values[i] is under keys[i]. (Two vectors, not one of
  // pairs: std::pair cannot hold the still-incomplete YamlNode, std::vector can.)
  std::vector<std::string> keys;
  std::vector<YamlNode> values;
  std::size_t line = 0;  // 1-based position of the node's start, for messages
  std::size_t column = 0;

  bool is_null() const { return kind == Kind::null; }
  // The value under `key` of a mapping, or nullptr.
  const YamlNode* find(std::string_view key) const;
  // "line 3, column 5"
  std::string where() const;
  // "a mapping", "a string", ... for messages
  std::string_view kind_name() const;
};

constexpr std::size_t yaml_max_depth = 32;

// Parses one YAML document. Throws Error ("line L, column C: <problem>") on malformed YAML, more
// than one document, an alias, a non-scalar mapping key, a duplicate key, or nesting deeper than
// yaml_max_depth. An empty text (or one with only comments) is a null node.
YamlNode parse_yaml(std::string_view text);

}  // namespace nixmon
