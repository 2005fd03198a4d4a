#include "exporter/store/store-db.hh"

#include <algorithm>
#include <charconv>
#include <set>

namespace nixmon::exporter {

namespace {

// Nix store path hashes are 32 characters of Nix's base-32.
constexpr std::size_t hash_len = StorePath::hash_len;

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// "/nix/store/<hash>-name/sub" -> "<hash>"; empty when it is no store path.
std::string_view hash_part(std::string_view path) {
  auto entry = store_entry_of(path, nix_store_dir);
  if (!entry || entry->size() < hash_len + 2 || (*entry)[hash_len] != '-') return {};
  return entry->substr(0, hash_len);
}

void require_columns(sqlite::Database& db, std::string_view table,
                     std::initializer_list<std::string_view> columns) {
  std::set<std::string, std::less<>> have;
  auto st = db.prepare("PRAGMA table_info(" + std::string(table) + ")");
  while (st.step()) have.insert(st.column_text(1));
  if (have.empty()) {
    throw Error(
        fmt::format("the Nix store database '{}' has no table {}: not a schema this "
                    "exporter knows",
                    db.path(), table));
  }
  for (auto c : columns) {
    if (!have.count(c)) {
      throw Error(
          fmt::format("the Nix store database '{}' has no column {}.{}: not a schema this "
                      "exporter knows",
                      db.path(), table, c));
    }
  }
}

// Edges (from, to) as compressed adjacency: the targets of `from` are
// targets[offset[from]..offset[from + 1]). A counting sort: two passes, no per-node vectors.
void compress(std::size_t nodes, const std::vector<std::pair<std::uint32_t, std::uint32_t>>& edges,
              std::vector<std::uint32_t>& offset, std::vector<std::uint32_t>& targets) {
  offset.assign(nodes + 1, 0);
  for (auto& e : edges) ++offset[e.first + 1];
  for (std::size_t i = 0; i < nodes; ++i) offset[i + 1] += offset[i];
  targets.resize(edges.size());
  std::vector<std::uint32_t> fill(offset.begin(), offset.end() - 1);
  for (auto& e : edges) targets[fill[e.first]++] = e.second;
}

}  // namespace

void check_store_schema(const HostRoot& root) {
  auto schema_text = root.read_file(store_schema_file, 64);
  if (!schema_text) {
    throw Error(fmt::format("no Nix store database: '{}' does not exist",
                            root.local(store_schema_file).string()));
  }
  auto digits = trim(*schema_text);
  std::int64_t version = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
  if (ec != std::errc() || end != digits.data() + digits.size() || version != known_store_schema) {
    throw Error(
        fmt::format("the Nix store database schema in '{}' is '{}'; this exporter knows "
                    "version {} only",
                    root.local(store_schema_file).string(), digits, known_store_schema));
  }
}

sqlite::Database open_store_db(const HostRoot& root, std::chrono::milliseconds busy_timeout) {
  check_store_schema(root);
  auto path = root.local(root.resolve(store_db_file));
  sqlite::Database db(path.string(), sqlite::Database::Mode::read_only);
  db.busy_timeout(static_cast<int>(busy_timeout.count()));
  require_columns(db, "ValidPaths",
                  {"id", "path", "registrationTime", "deriver", "narSize", "ultimate"});
  require_columns(db, "Refs", {"referrer", "reference"});
  require_columns(db, "DerivationOutputs", {"drv", "path"});
  return db;
}

bool StoreDbWatch::changed() {
  auto st = root_.stat(store_db_file);
  if (db_ && (!st || st->st_ino != ino_ || st->st_dev != dev_)) reset();
  if (!db_) {
    db_.emplace(open_store_db(root_, busy_timeout_));
    // The file open_store_db just opened; a later replacement shows as another inode.
    if (st) {
      ino_ = st->st_ino;
      dev_ = st->st_dev;
    }
  }
  version_ = db_->query_int("PRAGMA data_version");
  return !seen_ || version_ != seen_;
}

void StoreDbWatch::reset() {
  db_.reset();
  version_.reset();
  seen_.reset();
}

std::uint64_t StoreStats::registered_since(std::int64_t since) const {
  auto it = std::lower_bound(registration_times.begin(), registration_times.end(), since);
  return static_cast<std::uint64_t>(registration_times.end() - it);
}

StoreStats read_store_stats(sqlite::Database& db, StoreDbMark* mark) {
  StoreStats s;
  sqlite::Transaction txn(db, /*immediate=*/false);
  if (mark) *mark = read_store_db_mark(db);
  // One pass over the table: SQLite cannot use an index for narSize or the suffix test anyway.
  auto st = db.prepare(
      "SELECT registrationTime, narSize, path LIKE '%.drv', "
      "ultimate IS NOT NULL AND ultimate != 0 FROM ValidPaths");
  while (st.step()) {
    ++s.valid_paths;
    s.registration_times.push_back(st.column_int(0));
    s.nar_bytes += static_cast<std::uint64_t>(std::max<std::int64_t>(0, st.column_int(1)));
    s.derivations += st.column_int(2) != 0;
    s.built_locally += st.column_int(3) != 0;
  }
  txn.commit();
  std::sort(s.registration_times.begin(), s.registration_times.end());
  return s;
}

void add_to_store_stats(StoreStats& s, const StoreDelta& delta) {
  auto& times = s.registration_times;
  auto old_end = times.size();
  for (const auto& p : delta.paths) {
    ++s.valid_paths;
    times.push_back(p.registration_time);
    s.nar_bytes += p.nar_size;
    s.derivations += is_drv_like(p.path);
    s.built_locally += p.ultimate;
  }
  auto middle = times.begin() + static_cast<std::ptrdiff_t>(old_end);
  std::sort(middle, times.end());
  // New paths are mostly registered now, after every old one: then the merge is nothing.
  if (old_end > 0 && middle != times.end() && *middle < times[old_end - 1])
    std::inplace_merge(times.begin(), middle, times.end());
}

GcSettings read_gc_settings(const HostRoot& root) {
  GcSettings g;
  auto text = root.read_file("/etc/nix/nix.conf");
  if (!text) return g;
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    auto line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    auto key = trim(line.substr(0, eq));
    auto value = trim(line.substr(eq + 1));
    bool on = value == "true";
    if (!on && value != "false") continue;  // Nix would reject it; keep the default
    if (key == "keep-derivations" || key == "gc-keep-derivations") g.keep_derivations = on;
    if (key == "keep-outputs" || key == "gc-keep-outputs") g.keep_outputs = on;
  }
  return g;
}

void StoreGraph::add_path(std::string_view path, bool may_move) {
  if (chunks_.empty() ||
      (!may_move && chunks_.back().capacity() - chunks_.back().size() < path.size())) {
    chunks_.emplace_back().reserve(std::max(chunk_bytes, path.size()));
  }
  auto& chunk = chunks_.back();
  path_loc_.push_back(static_cast<std::uint64_t>(chunks_.size() - 1) << 32 | chunk.size());
  // Longer than any store path: kept whole up to 65535 bytes, no path Nix writes comes near.
  path = path.substr(0, 0xffff);
  path_len_.push_back(static_cast<std::uint16_t>(path.size()));
  chunk += path;
}

namespace {
std::uint64_t deriver_key(std::string_view drv) {
  return std::hash<std::string_view>{}(drv);
}
}  // namespace

void StoreGraph::expect_deriver(Index i, std::string_view drv) {
  missing_derivers_recent_.emplace_back(deriver_key(drv), i);
}

std::optional<StoreGraph::Index> StoreGraph::index_of_id(std::int64_t id) const {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) return std::nullopt;
  return static_cast<Index>(it - ids_.begin());
}

StoreGraph StoreGraph::read(sqlite::Database& db, bool with_outputs, StoreDbMark* mark) {
  StoreGraph g;
  sqlite::Transaction txn(db, /*immediate=*/false);
  if (mark) *mark = read_store_db_mark(db);

  std::vector<Index> id_to_index;
  std::vector<std::pair<Index, std::string>> derivers;  // resolved once every path is known
  {
    // The first chunk holds every path read now; it may move while no view into it exists.
    g.chunks_.emplace_back().reserve(chunk_bytes);
    auto st = db.prepare("SELECT id, path, narSize, deriver FROM ValidPaths ORDER BY id");
    while (st.step()) {
      auto id = st.column_int(0);
      if (id < 0) continue;
      Index index = static_cast<Index>(g.nar_size_.size());
      if (static_cast<std::size_t>(id) >= id_to_index.size()) id_to_index.resize(id + 1, none);
      id_to_index[id] = index;
      g.ids_.push_back(id);
      g.add_path(st.column_text(1), /*may_move=*/true);
      g.nar_size_.push_back(
          static_cast<std::uint64_t>(std::max<std::int64_t>(0, st.column_int(2))));
      g.total_nar_bytes_ += g.nar_size_.back();
      if (!st.is_null(3)) derivers.emplace_back(index, st.column_text(3));
    }
  }
  g.by_hash_.reserve(g.size());
  for (Index i = 0; i < g.size(); ++i) {
    auto h = hash_part(g.path(i));
    if (!h.empty()) g.by_hash_.emplace(h, i);
  }
  g.deriver_.assign(g.size(), none);
  for (auto& [index, drv] : derivers) {
    if (auto d = g.find(drv))
      g.deriver_[index] = *d;
    else
      g.missing_derivers_.emplace_back(deriver_key(drv), index);
  }
  std::sort(g.missing_derivers_.begin(), g.missing_derivers_.end());
  derivers.clear();
  derivers.shrink_to_fit();

  auto index_of = [&](std::int64_t id) {
    return id >= 0 && static_cast<std::size_t>(id) < id_to_index.size() ? id_to_index[id] : none;
  };

  // Compressed adjacency: count per referrer, then place. Refs rows naming no valid path (the
  // schema's foreign keys are not enforced by every writer) are skipped.
  {
    std::vector<std::pair<Index, Index>> edges;
    auto st = db.prepare("SELECT referrer, reference FROM Refs");
    while (st.step()) {
      Index from = index_of(st.column_int(0));
      Index to = index_of(st.column_int(1));
      if (from != none && to != none) edges.emplace_back(from, to);
    }
    compress(g.size(), edges, g.ref_offset_, g.refs_);
  }

  if (with_outputs) {
    std::vector<std::pair<Index, Index>> edges;
    auto st = db.prepare("SELECT drv, path FROM DerivationOutputs");
    while (st.step()) {
      Index drv = index_of(st.column_int(0));
      auto out = g.find(st.column_text(1));
      if (drv != none && out) edges.emplace_back(drv, *out);
    }
    compress(g.size(), edges, g.out_offset_, g.outs_);
  }
  txn.commit();
  return g;
}

std::vector<StoreGraph::Index> StoreGraph::append(sqlite::Database& db, const StoreDelta& delta) {
  if (has_outputs()) throw Error("a store graph read with derivation outputs cannot grow");
  Index first = static_cast<Index>(size());
  for (const auto& p : delta.paths) {
    if (!ids_.empty() && p.id <= ids_.back()) {
      throw Error(
          fmt::format("the store database's new path id {} is not above {}", p.id, ids_.back()));
    }
    Index index = static_cast<Index>(size());
    ids_.push_back(p.id);
    add_path(p.path, /*may_move=*/false);
    nar_size_.push_back(p.nar_size);
    total_nar_bytes_ += p.nar_size;
    deriver_.push_back(none);
    auto h = hash_part(path(index));
    if (!h.empty()) by_hash_.emplace(h, index);
  }
  // Derivers after every new path is known: a new output's deriver may be new too.
  for (Index i = first; i < size(); ++i) {
    const auto& drv = delta.paths[i - first].deriver;
    if (!drv) continue;
    if (auto d = find(*drv))
      deriver_[i] = *d;
    else
      expect_deriver(i, *drv);
  }

  // References of the new paths, grouped by referrer (the delta is not ordered by it).
  std::vector<std::pair<Index, Index>> edges;
  for (auto [from_id, to_id] : delta.refs) {
    auto from = index_of_id(from_id);
    auto to = index_of_id(to_id);
    if (from && to && *from >= first) edges.emplace_back(*from, *to);
  }
  std::stable_sort(edges.begin(), edges.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::size_t e = 0;
  for (Index i = first; i < size(); ++i) {
    for (; e < edges.size() && edges[e].first == i; ++e) refs_.push_back(edges[e].second);
    ref_offset_.push_back(static_cast<std::uint32_t>(refs_.size()));
  }

  // Old paths waiting for one of the new paths as their deriver.
  std::vector<Index> resolved;
  auto confirm = db.prepare("SELECT deriver FROM ValidPaths WHERE id = ?");
  auto try_resolve = [&](std::pair<std::uint64_t, Index>& waiting, Index drv) {
    if (waiting.second >= first || deriver_[waiting.second] != none) return;
    confirm.reset();
    confirm.bind(1, ids_[waiting.second]);
    if (confirm.step() && !confirm.is_null(0) && confirm.column_text(0) == path(drv)) {
      deriver_[waiting.second] = drv;
      resolved.push_back(waiting.second);
    }
  };
  for (Index i = first; i < size(); ++i) {
    auto key = deriver_key(path(i));
    auto range = std::equal_range(missing_derivers_.begin(), missing_derivers_.end(),
                                  std::pair<std::uint64_t, Index>(key, 0),
                                  [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto it = range.first; it != range.second; ++it) try_resolve(*it, i);
    for (auto& w : missing_derivers_recent_) {
      if (w.first == key) try_resolve(w, i);
    }
  }
  // Keep the unsorted tail short: merged into the sorted part once it has grown.
  if (missing_derivers_recent_.size() > 4096) {
    std::sort(missing_derivers_recent_.begin(), missing_derivers_recent_.end());
    auto middle = missing_derivers_.insert(
        missing_derivers_.end(), missing_derivers_recent_.begin(), missing_derivers_recent_.end());
    std::inplace_merge(missing_derivers_.begin(), middle, missing_derivers_.end());
    missing_derivers_recent_.clear();
  }
  std::sort(resolved.begin(), resolved.end());
  resolved.erase(std::unique(resolved.begin(), resolved.end()), resolved.end());
  return resolved;
}

std::span<const StoreGraph::Index> StoreGraph::outputs(Index i) const {
  if (out_offset_.empty()) return {};
  return {outs_.data() + out_offset_[i], outs_.data() + out_offset_[i + 1]};
}

std::optional<StoreGraph::Index> StoreGraph::find(std::string_view store_path) const {
  auto h = hash_part(store_path);
  if (h.empty()) return std::nullopt;
  auto it = by_hash_.find(h);
  if (it == by_hash_.end()) return std::nullopt;
  // The hash identifies the path; the name after it must match too, or it is another path.
  auto name_end = store_path.find('/', nix_store_dir.size() + 1);
  auto candidate = store_path.substr(0, name_end);
  if (path(it->second) != candidate) return std::nullopt;
  return it->second;
}

std::size_t StoreGraph::memory_bytes() const {
  std::size_t text = 0;
  for (const auto& c : chunks_) text += c.capacity();
  return text + path_loc_.capacity() * 8 + path_len_.capacity() * 2 + ids_.capacity() * 8 +
         nar_size_.capacity() * 8 + deriver_.capacity() * 4 +
         (missing_derivers_.capacity() + missing_derivers_recent_.capacity()) *
             sizeof(std::pair<std::uint64_t, Index>) +
         ref_offset_.capacity() * 4 + refs_.capacity() * 4 + out_offset_.capacity() * 4 +
         outs_.capacity() * 4 +
         by_hash_.size() * (sizeof(std::string_view) + sizeof(Index) + 2 * sizeof(void*)) +
         by_hash_.bucket_count() * sizeof(void*);
}

std::vector<std::uint8_t> mark_live(const StoreGraph& graph,
                                    std::span<const StoreGraph::Index> roots, GcSettings settings) {
  std::vector<std::uint8_t> live(graph.size(), 0);
  extend_live(graph, roots, settings, live);
  return live;
}

Closure extend_live(const StoreGraph& graph, std::span<const StoreGraph::Index> starts,
                    GcSettings settings, std::vector<std::uint8_t>& live) {
  live.resize(graph.size(), 0);
  Closure added;
  std::vector<StoreGraph::Index> stack;
  auto visit = [&](StoreGraph::Index i) {
    if (!live[i]) {
      live[i] = 1;
      ++added.paths;
      added.nar_bytes += graph.nar_size(i);
      stack.push_back(i);
    }
  };
  for (auto r : starts) visit(r);
  while (!stack.empty()) {
    auto i = stack.back();
    stack.pop_back();
    for (auto r : graph.references(i)) visit(r);
    if (settings.keep_derivations) {
      if (auto d = graph.deriver(i)) visit(*d);
    }
    if (settings.keep_outputs) {
      for (auto o : graph.outputs(i)) visit(o);
    }
  }
  return added;
}

Closure closure_of(const StoreGraph& graph, StoreGraph::Index start) {
  std::vector<std::uint8_t> seen(graph.size(), 0);
  std::vector<StoreGraph::Index> stack{start};
  seen[start] = 1;
  Closure c;
  while (!stack.empty()) {
    auto i = stack.back();
    stack.pop_back();
    ++c.paths;
    c.nar_bytes += graph.nar_size(i);
    for (auto r : graph.references(i)) {
      if (!seen[r]) {
        seen[r] = 1;
        stack.push_back(r);
      }
    }
  }
  return c;
}

std::optional<std::vector<std::string>> read_closure_paths(sqlite::Database& db,
                                                           std::string_view store_path) {
  // Nix's schema (NixOS/nix src/libstore/schema.sql): ValidPaths.path is unique (line 3), so
  // indexed, and Refs has "primary key (referrer, reference)" (line 16, 2.8 to 2.35), whose index
  // SQLite uses for each step of the walk (EXPLAIN QUERY PLAN: "SEARCH Refs USING COVERING INDEX
  // sqlite_autoindex_Refs_1 (referrer=?)"). IndexReferrer on Refs(referrer) (line 21, up to 2.34)
  // is the same lookup; 2.35 drops it as redundant (local-store.cc 638). The reference's
  // ValidPaths row is a primary-key lookup. The join with ValidPaths inside the recursion drops
  // references to ids that are no valid path (foreign keys are not enforced by every writer)
  // before they are followed. UNION, not UNION ALL: a path already in the closure is not walked
  // again, so cycles (self-references) end.
  sqlite::Transaction txn(db, /*immediate=*/false);
  auto start = db.prepare("SELECT id FROM ValidPaths WHERE path = ?");
  start.bind(1, store_path);
  if (!start.step()) return std::nullopt;
  auto id = start.column_int(0);
  auto st = db.prepare(
      "WITH RECURSIVE closure(id) AS ("
      " SELECT ?"
      " UNION"
      " SELECT Refs.reference FROM Refs"
      " JOIN closure ON Refs.referrer = closure.id"
      " JOIN ValidPaths AS v ON v.id = Refs.reference"
      ") SELECT ValidPaths.path FROM closure JOIN ValidPaths ON ValidPaths.id = closure.id");
  st.bind(1, id);
  std::vector<std::string> paths;
  while (st.step()) paths.push_back(st.column_text(0));
  txn.commit();
  return paths;
}

}  // namespace nixmon::exporter
