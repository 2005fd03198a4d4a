#include "exporter/store/gc-tracker.hh"

#include <algorithm>

namespace nixmon::exporter {

void GcTracker::reset() {
  graph_.reset();
  live_.clear();
  live_total_ = {};
  marked_from_.clear();
  ownership_.reset();
}

GcAnalysis GcTracker::update(sqlite::Database& db, bool db_changed, const GcInputs& inputs) {
  const GcSettings settings = inputs.settings;
  std::optional<std::string_view> reload;   // why the whole graph is read again
  std::vector<StoreGraph::Index> resolved;  // old paths whose deriver just became valid
  if (!graph_) {
    reload = analysis_reason::first;
  } else if (settings.keep_outputs != graph_->has_outputs()) {
    reload = analysis_reason::settings_changed;
  } else if (db_changed) {
    if (settings.keep_outputs) {
      reload = analysis_reason::keep_outputs;
    } else if (incremental_in_a_row_ >= max_incremental_runs) {
      reload = analysis_reason::periodic;
    } else {
      auto delta = read_store_delta(db, mark_, /*with_refs=*/true);
      if (delta.full_reason) {
        reload = delta.full_reason;
      } else {
        resolved = graph_->append(db, delta);
        mark_ = delta.mark;
      }
    }
  }
  if (reload) {
    graph_.reset();  // free the old graph before reading the new one: halves the peak
    graph_ = std::make_unique<StoreGraph>(StoreGraph::read(db, settings.keep_outputs, &mark_));
    ++graph_reads_;
  }
  const StoreGraph& graph = *graph_;

  GcAnalysis a;
  auto roots = gc_root_paths(graph, inputs, a);
  // Only valid paths: Nix skips a root whose path is not valid, so it kept nothing alive and its
  // going (a builder's /proc entry naming the output it builds) takes nothing away. Indices stay
  // the same while the graph is only appended to; a graph read again marks everything anyway.
  std::vector<StoreGraph::Index> marked_from = roots;
  std::sort(marked_from.begin(), marked_from.end());
  marked_from.erase(std::unique(marked_from.begin(), marked_from.end()), marked_from.end());

  std::optional<std::string_view> remark = reload;  // why every path is marked again
  if (!remark && (settings.keep_derivations != settings_.keep_derivations))
    remark = analysis_reason::settings_changed;
  // A root that went (or names another path now) may have been all that kept some paths alive.
  // (A path valid then and not now was deleted: the graph was read again.)
  if (!remark && !std::includes(marked_from.begin(), marked_from.end(), marked_from_.begin(),
                                marked_from_.end()))
    remark = analysis_reason::roots_removed;

  std::string_view reason;  // why this analysis went the way it went
  if (remark) {
    live_ = mark_live(graph, roots, settings);
    live_total_ = {};
    for (StoreGraph::Index i = 0; i < graph.size(); ++i) {
      if (live_[i]) {
        ++live_total_.paths;
        live_total_.nar_bytes += graph.nar_size(i);
      }
    }
    reason = *remark;
    runs_.count(false, reason);
    incremental_in_a_row_ = 0;
  } else {
    // Where to mark from: roots not yet live (new, or their path just became valid), and with
    // keep-derivations the new deriver of a live path.
    std::vector<StoreGraph::Index> starts;
    live_.resize(graph.size(), 0);
    for (auto r : roots) {
      if (!live_[r]) starts.push_back(r);
    }
    if (settings.keep_derivations) {
      for (auto i : resolved) {
        if (live_[i]) starts.push_back(*graph.deriver(i));
      }
    }
    auto added = extend_live(graph, starts, settings, live_);
    live_total_.paths += added.paths;
    live_total_.nar_bytes += added.nar_bytes;
    reason = db_changed ? analysis_reason::added : analysis_reason::inputs_changed;
    runs_.count(true, reason);
    ++incremental_in_a_row_;
  }
  settings_ = settings;
  marked_from_ = std::move(marked_from);
  finish_gc_analysis(graph, inputs, live_total_, a);

  auto own_roots = ownership_roots(inputs);
  std::optional<std::string_view> own_full;  // why the ownership is computed in full
  if (remark) {
    own_full = reason;
  } else if (!ownership_) {  // not after a reset (that reads the graph again), but never guess
    own_full = analysis_reason::first;
  } else {
    own_full = extend_root_ownership(graph, own_roots, settings, resolved, *ownership_);
  }
  if (own_full) {
    ownership_.reset();  // free the old owners before computing the new ones
    ownership_ = root_ownership_state(graph, own_roots, settings);
  }
  ownership_runs_.count(!own_full, own_full.value_or(reason));
  a.ownership = summarise(*ownership_);
  a.runs = runs_;
  a.ownership_runs = ownership_runs_;
  return a;
}

}  // namespace nixmon::exporter
