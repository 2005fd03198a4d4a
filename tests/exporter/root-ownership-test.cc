// Which root alone keeps which path alive: the dominator computation on small hand-made graphs and
// on random ones against brute force (delete a node or a root, look at what is still reachable),
// then the store-level answer on the nixos-basic store database against mark_live, the gc
// collector's bounded series and nixmon-store-report's `roots` output.
#include "exporter/store/root-ownership.hh"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/error.hh"
#include "common/sqlite.hh"
#include "exporter/collectors/collectors.hh"
#include "exporter/store/gc-analysis.hh"
#include "exporter/store/root-report.hh"
#include "support/test-support.hh"

using namespace nixmon;
using namespace nixmon::exporter;
using dominators::Node;
namespace fs = std::filesystem;

namespace {

using Adjacency = std::vector<std::vector<Node>>;

dominators::Successors successors_of(const Adjacency& g) {
  return [&g](Node v, std::vector<Node>& out) { out.insert(out.end(), g[v].begin(), g[v].end()); };
}

std::vector<bool> reachable(const Adjacency& g, std::span<const Node> from, Node removed) {
  std::vector<bool> seen(g.size(), false);
  std::vector<Node> stack;
  for (Node s : from) {
    if (s != removed && !seen[s]) {
      seen[s] = true;
      stack.push_back(s);
    }
  }
  while (!stack.empty()) {
    Node v = stack.back();
    stack.pop_back();
    for (Node w : g[v]) {
      if (w != removed && !seen[w]) {
        seen[w] = true;
        stack.push_back(w);
      }
    }
  }
  return seen;
}

Adjacency random_graph(std::mt19937& rng, Node nodes, double edge_chance) {
  Adjacency g(nodes);
  std::uniform_real_distribution<double> coin(0, 1);
  for (Node v = 0; v < nodes; ++v) {
    for (Node w = 0; w < nodes; ++w) {
      if (coin(rng) < edge_chance) g[v].push_back(w);  // self-loops and back edges included
    }
  }
  return g;
}

std::vector<Node> owners(Node paths, const std::vector<std::vector<Node>>& roots,
                         const Adjacency& g) {
  return dominators::exclusive_owners(paths, roots, successors_of(g));
}

constexpr Node shared = dominators::owner_shared;
constexpr Node dead = dominators::owner_dead;

}  // namespace

TEST(Dominators, LengauerTarjansOwnExample) {
  // The example graph of Lengauer and Tarjan's 1979 paper: R=0, A..L = 1..12.
  enum : Node { R, A, B, C, D, E, F, G, H, I, J, K, L };
  Adjacency g(13);
  g[R] = {A, B, C};
  g[A] = {D};
  g[B] = {A, D, E};
  g[C] = {F, G};
  g[D] = {L};
  g[E] = {H};
  g[F] = {I};
  g[G] = {I, J};
  g[H] = {E, K};
  g[I] = {K};
  g[J] = {I};
  g[K] = {I, R};
  g[L] = {H};
  auto idom = dominators::immediate_dominators(13, R, successors_of(g));
  std::vector<Node> want = {R, R, R, R, R, R, C, C, R, R, G, R, D};
  EXPECT_EQ(idom, want);
}

TEST(Dominators, UnreachableNodesHaveNone) {
  Adjacency g = {{1}, {1}, {0}};  // 2 points in, nothing points to it
  auto idom = dominators::immediate_dominators(3, 0, successors_of(g));
  EXPECT_EQ(idom, (std::vector<Node>{0, 0, dominators::none}));
}

TEST(Dominators, AgreeWithBruteForceOnRandomGraphs) {
  // d strictly dominates v when removing d makes v unreachable; the immediate dominator chain
  // must list exactly those nodes.
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    Node n = 2 + rng() % 14;
    Adjacency g = random_graph(rng, n, 0.05 + 0.3 * (round % 5) / 4.0);
    auto idom = dominators::immediate_dominators(n, 0, successors_of(g));
    std::vector<Node> entry{0};
    auto all = reachable(g, entry, dominators::none);
    for (Node v = 0; v < n; ++v) {
      ASSERT_EQ(idom[v] == dominators::none, !all[v]) << "round " << round << " node " << v;
      if (!all[v] || v == 0) continue;
      std::set<Node> brute;
      for (Node d = 0; d < n; ++d) {
        if (d != v && (d == 0 || !reachable(g, entry, d)[v])) brute.insert(d);
      }
      std::set<Node> chain;
      for (Node x = idom[v]; chain.insert(x).second && x != 0; x = idom[x]) {
      }
      ASSERT_EQ(chain, brute) << "round " << round << " node " << v;
    }
  }
}

TEST(Dominators, ALongChainNeedsNoDeepStack) {
  const Node n = 200000;
  Adjacency g(n);
  for (Node v = 0; v + 1 < n; ++v) g[v] = {v + 1, v};  // with self-references, as Nix records
  auto idom = dominators::immediate_dominators(n, 0, successors_of(g));
  EXPECT_EQ(idom[n - 1], n - 2);
  EXPECT_EQ(idom[1], 0u);
}

TEST(RootOwnership, ADiamondBelowOneRootIsAllItsOwn) {
  // 0 -> 1, 2 -> 3 -> 4
  Adjacency g = {{1, 2}, {3}, {3}, {4}, {}};
  EXPECT_EQ(owners(5, {{0}}, g), (std::vector<Node>{0, 0, 0, 0, 0}));
}

TEST(RootOwnership, SharedDependenciesBelongToNoRoot) {
  // root 0 -> app 0 -> lib 2; root 1 -> tool 1 -> lib 2 -> libc 3; 4 is rooted by nothing.
  Adjacency g = {{2}, {2}, {3}, {}, {3}};
  EXPECT_EQ(owners(5, {{0}, {1}}, g), (std::vector<Node>{0, 1, shared, shared, dead}));
}

TEST(RootOwnership, ADiamondAcrossTwoRootsIsSharedBelowTheJoin) {
  // root 0 -> 0 -> 2, root 1 -> 1 -> 2; 2 -> 3, 2 -> 4 -> 3
  Adjacency g = {{2}, {2}, {3, 4}, {}, {3}};
  EXPECT_EQ(owners(5, {{0}, {1}}, g), (std::vector<Node>{0, 1, shared, shared, shared}));
}

TEST(RootOwnership, ARootWhoseTargetAnotherRootReachesOwnsNothing) {
  // A result link to a package that a system generation also contains.
  Adjacency g = {{1}, {2}, {}};
  auto o = owners(3, {{0}, {1}}, g);
  EXPECT_EQ(o, (std::vector<Node>{0, shared, shared}));
  EXPECT_EQ(std::count(o.begin(), o.end(), Node(1)), 0);
  // Two roots naming the same path: each alone frees nothing.
  EXPECT_EQ(owners(3, {{0}, {0}}, g), (std::vector<Node>{shared, shared, shared}));
}

TEST(RootOwnership, SelfReferencesAndCyclesDoNotConfuseIt) {
  // Every path references itself (as Nix records it); 1 <-> 2 form a cycle.
  Adjacency g = {{0, 1}, {1, 2}, {2, 1, 3}, {3}};
  EXPECT_EQ(owners(4, {{0}}, g), (std::vector<Node>{0, 0, 0, 0}));
  // A second root enters the cycle at 2: the whole cycle and below is shared, 0 stays root 0's.
  EXPECT_EQ(owners(4, {{0}, {2}}, g), (std::vector<Node>{0, shared, shared, shared}));
}

TEST(RootOwnership, ARootNamingSeveralPathsOwnsTheirJointClosure) {
  // A /proc entry naming paths 0 and 1 (both reach 2); another root names 3.
  Adjacency g = {{2}, {2}, {}, {}};
  EXPECT_EQ(owners(4, {{0, 1}, {3}}, g), (std::vector<Node>{0, 0, 0, 1}));
}

TEST(RootOwnership, AgreesWithDeletingTheRootOnRandomGraphs) {
  // Brute force: path p belongs to root r when p is reachable from r's paths and from no other
  // root's; shared when reachable from two or more; dead when from none.
  std::mt19937 rng(11);
  for (int round = 0; round < 300; ++round) {
    Node n = 1 + rng() % 20;
    Adjacency g = random_graph(rng, n, 0.02 + 0.2 * (round % 4) / 3.0);
    std::vector<std::vector<Node>> roots(rng() % 5);
    for (auto& r : roots) {
      for (int k = 0, m = 1 + rng() % 2; k < m; ++k) r.push_back(rng() % n);
    }
    auto o = owners(n, roots, g);
    std::vector<int> reached_by(n, 0);
    std::vector<Node> last(n, dead);
    for (Node r = 0; r < roots.size(); ++r) {
      auto seen = reachable(g, roots[r], dominators::none);
      for (Node p = 0; p < n; ++p) {
        if (seen[p]) {
          ++reached_by[p];
          last[p] = r;
        }
      }
    }
    for (Node p = 0; p < n; ++p) {
      Node want = reached_by[p] == 0 ? dead : reached_by[p] == 1 ? last[p] : shared;
      ASSERT_EQ(o[p], want) << "round " << round << " path " << p;
    }
  }
}

namespace {

void link(const fs::path& at, const std::string& target) {
  fs::create_directories(at.parent_path());
  fs::create_symlink(target, at);
}

// nixos-basic (three system generations) with a real Nix store database holding
// tests/fixtures/store-db/nixos-basic.sql, and the roots a NixOS host has besides its profile.
struct OwnershipHost {
  test::TempDir tmp;
  fs::path root = tmp.path() / "root";
  OwnershipHost() {
    test::copy_tree(test::fixture_root("nixos-basic"), root);
    test::make_empty_nix_store(root);
    sqlite::Database db((root / "nix/var/nix/db/db.sqlite").string(),
                        sqlite::Database::Mode::read_write);
    db.exec(test::read_text(test::source_dir() / "tests/fixtures/store-db/nixos-basic.sql"));
    link(root / "nix/var/nix/gcroots/current-system", "/run/current-system");
    link(root / "nix/var/nix/gcroots/booted-system", "/run/booted-system");
    link(root / "home/alice/result", "/nix/store/n6y1rl97ag4c9lzd80kd0v6cfdi02nvj-systemd-256.1");
    link(root / "nix/var/nix/gcroots/auto/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         (root / "home/alice/result").string());
  }
  StoreGraph graph(bool outputs = true) const {
    auto db = open_store_db(HostRoot(root), std::chrono::milliseconds(100));
    return StoreGraph::read(db, outputs);
  }
};

const RootShare& share(const RootOwnership& o, std::string_view link) {
  for (const auto& r : o.roots) {
    if (r.link == link) return r;
  }
  throw std::logic_error("no root " + std::string(link));
}

}  // namespace

TEST(RootOwnership, OnTheFixtureStoreEachGenerationOwnsWhatDeletingItFrees) {
  OwnershipHost host;
  auto graph = host.graph();
  auto inputs = read_gc_inputs(HostRoot(host.root), false);
  for (GcSettings settings : {GcSettings{true, false}, GcSettings{false, false},
                              GcSettings{true, true}, GcSettings{false, true}}) {
    auto o = analyse_root_ownership(graph, inputs.roots, settings);
    // Against mark_live: each root's exclusive bytes are what its absence leaves unreachable.
    auto live_bytes = [&](std::string_view without) {
      std::vector<StoreGraph::Index> roots;
      for (const auto& r : inputs.roots) {
        if (r.link == without) continue;
        if (auto i = graph.find(r.store_path)) roots.push_back(*i);
      }
      auto live = mark_live(graph, roots, settings);
      std::uint64_t bytes = 0;
      for (StoreGraph::Index i = 0; i < graph.size(); ++i) bytes += live[i] ? graph.nar_size(i) : 0;
      return bytes;
    };
    std::uint64_t all = live_bytes(""), exclusive = 0;
    for (const auto& r : o.roots) {
      EXPECT_EQ(r.exclusive_nar_bytes, all - live_bytes(r.link)) << r.link;
      exclusive += r.exclusive_nar_bytes;
    }
    EXPECT_EQ(exclusive + o.shared_nar_bytes, all);
  }

  auto o = analyse_root_ownership(graph, inputs.roots, {true, false});
  // Generation 1 alone holds its system, its system-path and (keep-derivations) its .drv; 2 and 3
  // are also held by /run/booted-system and /run/current-system; the result link's systemd is in
  // generation 3. nix.package (both its paths) is in every generation's system-path, and the gaming
  // specialisation and its .drv come with generation 3's system: shared, none of them owned.
  const auto& gen1 = share(o, "/nix/var/nix/profiles/system-1-link");
  EXPECT_EQ(gen1.generation, 1u);
  EXPECT_EQ(gen1.exclusive_paths, 3u);
  EXPECT_EQ(gen1.exclusive_nar_bytes, 1000u + 1600u + 600u);
  EXPECT_EQ(share(o, "/nix/var/nix/profiles/system-2-link").exclusive_nar_bytes, 0u);
  EXPECT_EQ(share(o, "/run/booted-system").exclusive_nar_bytes, 0u);
  EXPECT_FALSE(share(o, "/run/booted-system").generation);
  EXPECT_EQ(share(o, "/home/alice/result").exclusive_nar_bytes, 0u);
  EXPECT_EQ(o.roots.front().link, "/nix/var/nix/profiles/system-1-link");  // largest first
  EXPECT_EQ(o.roots.size(), 6u);  // three generations, current, booted, result

  // Without the booted-system root, generation 2 owns its system, system-path and .drv.
  fs::remove(host.root / "nix/var/nix/gcroots/booted-system");
  inputs = read_gc_inputs(HostRoot(host.root), false);
  o = analyse_root_ownership(graph, inputs.roots, {true, false});
  EXPECT_EQ(share(o, "/nix/var/nix/profiles/system-2-link").exclusive_nar_bytes,
            1300u + 1100u + 600u);
}

// A path a running Nix process holds (its temproots file, locked) is not freed by deleting the one
// link root that also reaches it: generation 1's system, held by a build, is no longer its own.
TEST(RootOwnership, TemporaryRootsAreRootsToo) {
  OwnershipHost host;
  auto graph = host.graph();
  fs::path temproots = host.root / "nix/var/nix/temproots";
  fs::create_directories(temproots);
  std::string held = fs::read_symlink(host.root / "nix/var/nix/profiles/system-1-link").string();
  std::ofstream(temproots / "4242", std::ios::binary) << held << '\0';
  test::HeldLock live(temproots / "4242");
  auto inputs = read_gc_inputs(HostRoot(host.root), false);
  ASSERT_EQ(inputs.temp_roots.paths, std::vector<std::string>{held});
  auto o = analyse_root_ownership(graph, ownership_roots(inputs), {true, false});
  // Without the temporary root, generation 1 owns its system, system-path and .drv (3200 bytes);
  // with it, both reach them: shared, owned by neither.
  EXPECT_EQ(share(o, "/nix/var/nix/profiles/system-1-link").exclusive_nar_bytes, 0u);
  EXPECT_EQ(share(o, "/nix/var/nix/temproots").exclusive_nar_bytes, 0u);
  EXPECT_EQ(share(o, "/nix/var/nix/temproots").source, RootSource::runtime);
  auto without = analyse_root_ownership(graph, inputs.roots, {true, false});
  EXPECT_EQ(o.shared_nar_bytes, without.shared_nar_bytes + 3200u);
}

TEST(RootOwnership, BoundedSeriesKeepEveryGenerationTheTopRootsAndSumTheRest) {
  RootOwnership o;
  auto add = [&](std::string link, std::uint64_t bytes, std::optional<std::uint64_t> gen) {
    RootShare r;
    r.link = std::move(link);
    r.generation = gen;
    r.exclusive_nar_bytes = bytes;
    o.roots.push_back(r);
  };
  // Already sorted, as analyse_root_ownership returns them.
  add("/nix/var/nix/profiles/system-2-link", 900, 2);
  add("/home/a/result", 800, std::nullopt);
  add("/home/b/result", 700, std::nullopt);
  add("/nix/var/nix/profiles/system-10-link", 600, 10);
  add("/home/c/result", 500, std::nullopt);
  add("/home/d/result", 0, std::nullopt);
  auto s = bounded_series(o, 2);
  ASSERT_EQ(s.generations.size(), 2u);
  EXPECT_EQ(*s.generations[0]->generation, 2u);
  EXPECT_EQ(*s.generations[1]->generation, 10u);
  ASSERT_EQ(s.top.size(), 2u);
  EXPECT_EQ(s.top[0]->link, "/home/a/result");
  EXPECT_EQ(s.top[1]->link, "/home/b/result");
  EXPECT_EQ(s.other_roots, 2u);
  EXPECT_EQ(s.other_nar_bytes, 500u);
  auto none = bounded_series(o, 0);
  EXPECT_TRUE(none.top.empty());
  EXPECT_EQ(none.other_roots, 4u);
  EXPECT_EQ(none.other_nar_bytes, 2000u);
}

namespace {

std::string collect_gc_ready(const CollectorContext& ctx, const GcConfig& config = {}) {
  auto c = make_gc_collector(ctx, config);
  for (int i = 0; i < 3000; ++i) {  // a deadline against a hang, not a timing assertion
    MetricSet m;
    c->collect(m);
    std::string text = render(m);
    if (text.find("\nnixos_gc_analysis_ready 1\n") != std::string::npos) return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("the gc analysis never answered");
}

std::vector<std::string> lines_of(const std::string& text, std::string_view prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(prefix)) out.push_back(line);
  }
  return out;
}

}  // namespace

TEST(RootOwnership, TheGcCollectorExportsTheTopRootsAndSumsTheRest) {
  OwnershipHost host;
  {
    sqlite::Database db((host.root / "nix/var/nix/db/db.sqlite").string(),
                        sqlite::Database::Mode::read_write);
    db.exec(
        "INSERT INTO ValidPaths (path, hash, registrationTime, narSize) VALUES "
        "('/nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-extra', 'sha256:0', 1700086000, 500);");
  }
  link(host.root / "nix/var/nix/gcroots/hello",
       "/nix/store/sbd9lzhnmhnxpif0g0vz8lwp1nd9av89-hello-2.12");
  link(host.root / "nix/var/nix/gcroots/extra",
       "/nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-extra");
  fs::remove(host.root / "nix/var/nix/gcroots/booted-system");

  CollectorContext ctx;
  ctx.root = HostRoot(host.root);
  GcConfig config;
  config.roots_top = 1;
  std::string text = collect_gc_ready(ctx, config);
  // hello and its .drv (keep-derivations) are the one top root; extra, result and current-system
  // are summed; generation 2 now owns its system since /run/booted-system is no root.
  EXPECT_EQ(lines_of(text, "nixos_gc_root_exclusive_nar_bytes{"),
            (std::vector<std::string>{
                "nixos_gc_root_exclusive_nar_bytes{root=\"/nix/var/nix/gcroots/hello\"} 7900",
                "nixos_gc_root_exclusive_nar_bytes{root=\"other\"} 500"}))
      << text;
  EXPECT_EQ(
      lines_of(text, "nixos_gc_generation_exclusive_nar_bytes{"),
      (std::vector<std::string>{"nixos_gc_generation_exclusive_nar_bytes{generation=\"1\"} 3200",
                                "nixos_gc_generation_exclusive_nar_bytes{generation=\"2\"} 3000",
                                "nixos_gc_generation_exclusive_nar_bytes{generation=\"3\"} 0"}))
      << text;

  config.roots_top = 0;
  text = collect_gc_ready(ctx, config);
  EXPECT_EQ(lines_of(text, "nixos_gc_root_exclusive_nar_bytes{"),
            (std::vector<std::string>{"nixos_gc_root_exclusive_nar_bytes{root=\"other\"} 8400"}));
}

// Temporary roots files this exporter may not open (root's, 0600: the NixOS module's dynamic user
// without CAP_DAC_READ_SEARCH) hide which entries a running build holds: the temporary-root and
// invalid-entry figures are unknown and left out, never exported as 0 or as reclaimable.
TEST(RootOwnership, UnreadableTemporaryRootsLeaveTheirFiguresOut) {
  OwnershipHost host;
  fs::path temproots = host.root / "nix/var/nix/temproots";
  fs::create_directories(temproots);
  fs::path file = temproots / "4242";
  std::ofstream(file, std::ios::binary)
      << "/nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-held" << '\0';
  std::ofstream(host.root / "nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-held.lock");
  CollectorContext ctx;
  ctx.root = HostRoot(host.root);
  std::string readable = collect_gc_ready(ctx);
  EXPECT_NE(readable.find("\nnixos_gc_temp_roots 0\n"), std::string::npos) << readable;  // stale
  EXPECT_NE(readable.find("\nnixos_gc_reclaimable_invalid_entries 1\n"), std::string::npos);

  fs::permissions(
      file, ::geteuid() == 0 ? fs::perms::owner_read | fs::perms::owner_write : fs::perms::none,
      fs::perm_options::replace);
  std::string text = test::run_unprivileged(host.root, [&] { return collect_gc_ready(ctx); });
  EXPECT_NE(text.find("\nnixos_gc_roots_unreadable{source=\"temporary\"} 1\n"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("nixos_gc_temp_roots"), std::string::npos) << text;
  EXPECT_EQ(text.find("nixos_gc_reclaimable_invalid"), std::string::npos) << text;
  EXPECT_NE(text.find("\nnixos_gc_reclaimable_paths "), std::string::npos) << text;
}

// Regression: the store directory was scanned again only when its stamp changed, so a tmp-
// directory whose builder died (the lock goes, the name stays) was counted as held forever.
TEST(RootOwnership, AReleasedBuildDirectoryBecomesReclaimableWithoutAStoreChange) {
  OwnershipHost host;
  fs::path tmp_dir = host.root / "nix/store/tmp-77-0";
  fs::create_directories(tmp_dir);
  CollectorContext ctx;
  ctx.root = HostRoot(host.root);
  GcConfig config;
  config.check_interval = std::chrono::milliseconds(10);
  auto invalid = [](const std::string& text) {
    return lines_of(text, "nixos_gc_reclaimable_invalid_entries ");
  };
  std::optional<test::HeldLock> build(std::in_place, tmp_dir);
  auto c = make_gc_collector(ctx, config);
  std::string text;
  for (int i = 0; i < 500 && text.find("\nnixos_gc_analysis_ready 1\n") == std::string::npos; ++i) {
    MetricSet m;
    c->collect(m);
    text = render(m);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(invalid(text), std::vector<std::string>{"nixos_gc_reclaimable_invalid_entries 0"});
  build.reset();  // the builder is gone; nothing in the store directory changed
  for (int i = 0; i < 500 && invalid(text) !=
                                 std::vector<std::string>{"nixos_gc_reclaimable_invalid_entries 1"};
       ++i) {  // a deadline against a hang, not a timing assertion
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    MetricSet m;
    c->collect(m);
    text = render(m);
  }
  EXPECT_EQ(invalid(text), std::vector<std::string>{"nixos_gc_reclaimable_invalid_entries 1"})
      << text;
}

TEST(RootOwnership, TheTopFlagIsCheckedAndReachesTheConfig) {
  GcFlags flags;
  EXPECT_EQ(make_gc_config(flags).roots_top, 10u);
  flags.roots_top = 3;
  EXPECT_EQ(make_gc_config(flags).roots_top, 3u);
  flags.roots_top = -1;
  EXPECT_THROW(make_gc_config(flags), UsageError);
}

TEST(RootOwnership, TheReportListsEveryRootLargestFirst) {
  RootOwnership o;
  o.roots.push_back({"/nix/var/nix/profiles/system-1-link", RootSource::profiles, 1, 3, 3200});
  o.roots.push_back({"/home/alice/result \"x\"", RootSource::gcroots_auto, std::nullopt, 0, 0});
  o.shared_paths = 15;
  o.shared_nar_bytes = 71700;
  GcAnalysis gc;
  gc.live_paths = 18;
  gc.live_nar_bytes = 74900;
  gc.reclaimable_paths = 2;
  gc.reclaimable_nar_bytes = 7900;
  EXPECT_EQ(root_report_table(o, gc),
            "  EXCLUSIVE     PATHS  SOURCE        ROOT\n"
            "    3.1 KiB         3  profiles      /nix/var/nix/profiles/system-1-link (system "
            "generation 1)\n"
            "        0 B         0  gcroots_auto  /home/alice/result \"x\"\n"
            "\n"
            "2 roots. Exclusive: what deleting that one root and running nix-store --gc would free "
            "(NAR bytes).\n"
            "shared by two or more roots: 70.0 KiB in 15 paths\n"
            "live: 73.1 KiB in 18 paths; reclaimable now: 7.7 KiB in 2 paths\n"
            "runtime roots (paths used by running processes) were not counted (--runtime-roots)\n");
  EXPECT_EQ(root_report_json(o, gc),
            "{\"roots\":[{\"root\":\"/nix/var/nix/profiles/system-1-link\",\"source\":"
            "\"profiles\",\"generation\":1,\"exclusive_paths\":3,\"exclusive_nar_bytes\":3200},"
            "{\"root\":\"/home/alice/result \\\"x\\\"\",\"source\":\"gcroots_auto\",\"generation\":"
            "null,\"exclusive_paths\":0,\"exclusive_nar_bytes\":0}],\"shared_paths\":15,"
            "\"shared_nar_bytes\":71700,\"live_paths\":18,\"live_nar_bytes\":74900,"
            "\"reclaimable_paths\":2,\"reclaimable_nar_bytes\":7900,\"runtime_roots\":false}\n");
  EXPECT_EQ(human_bytes(1023), "1023 B");
  EXPECT_EQ(human_bytes(1024 * 1024 - 1), "1.0 MiB");
  EXPECT_EQ(human_bytes(std::uint64_t(5) << 30), "5.0 GiB");
}
