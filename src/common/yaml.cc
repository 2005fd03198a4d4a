#include "common/yaml.hh"

#include <yaml.h>

#include <memory>

#include "common/error.hh"

namespace nixmon {

const YamlNode* YamlNode::find(std::string_view key) const {
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (keys[i] == key) return &values[i];
  return nullptr;
}

std::string YamlNode::where() const {
  return fmt::format("line {}, column {}", line, column);
}

std::string_view YamlNode::kind_name() const {
  switch (kind) {
    case Kind::null:
      return "empty";
    case Kind::scalar:
      return "a single value";
    case Kind::sequence:
      return "a list";
    case Kind::mapping:
      return "a mapping";
  }
  return "?";
}

namespace {

struct Parser {
  yaml_parser_t p;
  Parser() {
    if (!yaml_parser_initialize(&p))
      throw Error("cannot initialise the YAML parser (out of memory)");
  }
  ~Parser() { yaml_parser_delete(&p); }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;
};

struct Event {
  yaml_event_t e;
  bool live = false;
  ~Event() { reset(); }
  void reset() {
    if (live) yaml_event_delete(&e);
    live = false;
  }
};

Error at(const yaml_mark_t& m, std::string_view what) {
  return Error(fmt::format("line {}, column {}: {}", m.line + 1, m.column + 1, what));
}

// A plain (unquoted) scalar that YAML 1.1 reads as null.
bool plain_null(std::string_view v) {
  return v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL";
}

}  // namespace

YamlNode parse_yaml(std::string_view text) {
  Parser parser;
  yaml_parser_set_input_string(&parser.p, reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  yaml_parser_set_encoding(&parser.p, YAML_UTF8_ENCODING);

  YamlNode root;
  bool have_document = false;
  bool root_set = false;
  // Open containers, innermost last. For a mapping, `pending_key` holds the key whose value comes
  // next; `expect_key` says whether the next node is a key.
  struct Frame {
    YamlNode* node;
    bool expect_key = true;
    std::string pending_key;
  };
  std::vector<Frame> stack;

  // Places a finished or opened node where it belongs; returns its address in the tree.
  auto place = [&](YamlNode&& n, const yaml_mark_t& mark) -> YamlNode* {
    if (stack.empty()) {
      if (root_set) throw at(mark, "more than one value at the top level");
      root = std::move(n);
      root_set = true;
      return &root;
    }
    Frame& f = stack.back();
    if (f.node->kind == YamlNode::Kind::sequence) {
      f.node->items.push_back(std::move(n));
      return &f.node->items.back();
    }
    if (f.expect_key) {
      if (n.kind != YamlNode::Kind::scalar && n.kind != YamlNode::Kind::null)
        throw at(mark, "a mapping key must be a single value");
      for (const auto& k : f.node->keys)
        if (k == n.value) throw at(mark, fmt::format("duplicate key '{}'", n.value));
      f.pending_key = std::move(n.value);
      f.expect_key = false;
      return nullptr;
    }
    f.node->keys.push_back(std::move(f.pending_key));
    f.node->values.push_back(std::move(n));
    f.expect_key = true;
    return &f.node->values.back();
  };

  for (;;) {
    Event ev;
    if (!yaml_parser_parse(&parser.p, &ev.e)) {
      std::string problem = parser.p.problem ? parser.p.problem : "malformed YAML";
      if (parser.p.context) problem = std::string(parser.p.context) + ": " + problem;
      throw at(parser.p.problem_mark, problem);
    }
    ev.live = true;
    const yaml_mark_t& mark = ev.e.start_mark;
    auto node_at = [&](YamlNode::Kind kind) {
      YamlNode n;
      n.kind = kind;
      n.line = mark.line + 1;
      n.column = mark.column + 1;
      return n;
    };
    switch (ev.e.type) {
      case YAML_STREAM_START_EVENT:
      case YAML_NO_EVENT:
        break;
      case YAML_STREAM_END_EVENT:
        return root;
      case YAML_DOCUMENT_START_EVENT:
        if (have_document) throw at(mark, "only one YAML document is allowed");
        have_document = true;
        break;
      case YAML_DOCUMENT_END_EVENT:
        break;
      case YAML_ALIAS_EVENT:
        throw at(mark, "YAML aliases (*name) are not supported here");
      case YAML_SCALAR_EVENT: {
        std::string_view v(reinterpret_cast<const char*>(ev.e.data.scalar.value),
                           ev.e.data.scalar.length);
        bool quoted = ev.e.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        YamlNode n =
            node_at(!quoted && plain_null(v) ? YamlNode::Kind::null : YamlNode::Kind::scalar);
        n.value = std::string(v);
        n.quoted = quoted;
        place(std::move(n), mark);
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        if (stack.size() >= yaml_max_depth)
          throw at(mark, fmt::format("nested deeper than {} levels", yaml_max_depth));
        bool seq = ev.e.type == YAML_SEQUENCE_START_EVENT;
        YamlNode* placed =
            place(node_at(seq ? YamlNode::Kind::sequence : YamlNode::Kind::mapping), mark);
        if (!placed) throw at(mark, "a mapping key must be a single value");
        stack.push_back({placed, true, {}});
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        // libyaml guarantees balanced events; a mapping never ends between a key and its value.
        if (!stack.empty()) stack.pop_back();
        break;
    }
  }
}

}  // namespace nixmon
