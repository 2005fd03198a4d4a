// The generated references of docs/nixos-exporter.md: the flag tables, from the CLI11 app the
// exporter declares, and the metric table, from the HELP and TYPE lines and label names of the
// golden scrapes (tests/e2e/golden/exporter-nixos-basic.prom, then the collector goldens for the
// series the basic root does not show). Stale tables fail here; NIXMON_ACCEPT=1 rewrites them.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "exporter/collector.hh"
#include "exporter/options.hh"
#include "exporter/scraper.hh"
#include "support/test-support.hh"

using namespace nixmon;
using namespace nixmon::exporter;
namespace fs = std::filesystem;

namespace {

// Markdown for text in a table cell: '|' ends the cell, '*' emphasises, '<' opens HTML.
std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|' || c == '*' || c == '<') out += '\\';
    out += c;
  }
  return out;
}

std::string code_list(const std::vector<std::string>& names, std::string_view sep) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : std::string(sep)) + "`" + n + "`";
  return out;
}

// One row per option whose first long name starts with `prefix` and none of `excluded`, in the
// order --help shows them, but for the collector switches (the collectors table lists them).
// Negatable flags show both spellings; a flag's default is "off" unless its help ends in "(default:
// on)" (then moved to the default column).
std::string flag_table(const CLI::App& app, std::string_view prefix,
                       const std::vector<std::string_view>& excluded) {
  std::string out = "| flag | default | meaning |\n|---|---|---|\n";
  for (const CLI::Option* opt : app.get_options()) {
    std::vector<std::string> names, negations;
    const auto& fnames = opt->get_fnames();
    for (const auto& l : opt->get_lnames()) {
      bool negation =
          std::find(fnames.begin(), fnames.end(), l) != fnames.end() && l.rfind("no-", 0) == 0;
      (negation ? negations : names).push_back("--" + l);
    }
    if (names.empty() || names.front() == "--help") continue;
    auto table = collector_table();
    if (std::any_of(table.begin(), table.end(), [&](const CollectorEntry& c) {
          return names.front() == "--collector." + std::string(c.name);
        }))
      continue;
    if (names.front().compare(2, prefix.size(), prefix) != 0) continue;
    if (std::any_of(excluded.begin(), excluded.end(),
                    [&](std::string_view x) { return names.front().compare(2, x.size(), x) == 0; }))
      continue;
    std::string help = opt->get_description();
    std::string def = opt->get_default_str();
    if (opt->get_type_name().empty() && names.front() != "--version") {  // a flag: no value
      def = "off";
      for (std::string_view on_off : {"on", "off"}) {
        std::string suffix = fmt::format(" (default: {})", on_off);
        if (help.size() > suffix.size() &&
            help.compare(help.size() - suffix.size(), suffix.size(), suffix) == 0) {
          help.resize(help.size() - suffix.size());
          def = on_off;
        }
      }
    } else if (!def.empty()) {
      def = "`" + def + "`";
    }
    std::string flags = code_list(names, ", ");
    if (!negations.empty()) flags += " / " + code_list(negations, ", ");
    out += fmt::format("| {} | {} | {} |\n", flags, def, cell(help));
  }
  return out;
}

struct Family {
  std::string type, help;
  std::set<std::string> labels;
};

bool label_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// The families of a scrape in exposition format, in order of appearance.
void read_families(const std::string& text, std::vector<std::string>& order,
                   std::map<std::string, Family>& families) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      auto sp = line.find(' ', 7);
      std::string name = line.substr(7, sp - 7);
      std::string text = sp == std::string::npos ? "" : line.substr(sp + 1);
      if (!families.count(name)) order.push_back(name);
      auto& f = families[name];
      if (line[2] == 'T') {
        f.type = text;
      } else {
        // The exposition format escapes backslash and newline in HELP.
        std::string help;
        for (std::size_t i = 0; i < text.size(); ++i) {
          if (text[i] == '\\' && i + 1 < text.size()) {
            ++i;
            help += text[i] == 'n' ? ' ' : text[i];
          } else {
            help += text[i];
          }
        }
        f.help = help;
      }
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    auto brace = line.find('{');
    auto space = line.find(' ');
    if (brace == std::string::npos || brace > space) continue;
    std::string name = line.substr(0, brace);
    // Label names: each one before a '=' at the start of the set or after '",'.
    std::size_t i = brace + 1;
    while (i < line.size() && line[i] != '}') {
      auto eq = line.find('=', i);
      if (eq == std::string::npos) break;
      // The e2e golden masks volatile label sets as a whole: no names there.
      if (label_name(line.substr(i, eq - i))) families[name].labels.insert(line.substr(i, eq - i));
      std::size_t j = eq + 2;  // after ="
      while (j < line.size() && line[j] != '"') j += line[j] == '\\' ? 2 : 1;
      i = j + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
  }
}

}  // namespace

TEST(Reference, FlagTablesInTheDocsAreFresh) {
  CLI::App app;
  ExporterOptions options;
  add_exporter_flags(app, options);
  app.set_version_flag("--version", std::string("x"));  // as main.cc declares it
  std::string doc = "docs/nixos-exporter.md";
  // The collector switches are one row here; the collectors table lists them.
  std::string general = flag_table(app, "", {"flake.", "channel."});
  std::string switches =
      "| `--collector.<name>` / `--no-collector.<name>` | see [Collectors](#collectors) | switch a "
      "collector on or off |\n";
  auto header_end = general.find('\n', general.find('\n') + 1) + 1;
  general.insert(header_end, switches);
  test::expect_golden_section(doc, "flags", general);
  test::expect_golden_section(doc, "flake-flags", flag_table(app, "flake.", {}));
  test::expect_golden_section(doc, "channel-flags", flag_table(app, "channel.", {}));
}

TEST(Reference, MetricTableInTheDocsIsFresh) {
  std::vector<std::string> order;
  std::map<std::string, Family> families;
  read_families(test::read_text(test::source_dir() / "tests/e2e/golden/exporter-nixos-basic.prom"),
                order, families);
  // Its build info line is masked there (version, compiler): the labels from the code.
  read_families(render(build_info_metrics()), order, families);
  // The collector goldens in the table's order: what the basic scrape's root does not show.
  std::vector<fs::path> goldens;
  for (const auto& e : fs::directory_iterator(test::source_dir() / "tests/exporter/golden"))
    goldens.push_back(e.path());
  std::sort(goldens.begin(), goldens.end());
  for (const auto& c : collector_table()) {
    for (const auto& g : goldens)
      if (g.filename().string().rfind(std::string(c.name) + "-", 0) == 0)
        read_families(test::read_text(g), order, families);
  }
  // The flake and channel collectors' series have tables of their own, in their sections.
  constexpr std::string_view own_tables[] = {"nixos_flake_", "nixos_channel_"};
  auto table = [&](std::string_view prefix) {
    std::string out = "| metric | type | labels | help |\n|---|---|---|---|\n";
    for (const auto& name : order) {
      bool own = std::any_of(std::begin(own_tables), std::end(own_tables),
                             [&](std::string_view p) { return name.rfind(p, 0) == 0; });
      if (prefix.empty() ? own : name.rfind(prefix, 0) != 0) continue;
      const Family& f = families[name];
      std::vector<std::string> labels(f.labels.begin(), f.labels.end());
      out += fmt::format("| `{}` | {} | {} | {} |\n", name, f.type, code_list(labels, ", "),
                         cell(f.help));
    }
    return out;
  };
  test::expect_golden_section("docs/nixos-exporter.md", "metrics", table(""));
  test::expect_golden_section("docs/nixos-exporter.md", "flake-metrics", table("nixos_flake_"));
  test::expect_golden_section("docs/nixos-exporter.md", "channel-metrics", table("nixos_channel_"));
}
