#pragma once
// Counters of the whole pipeline, updated lock-free by readers, tracker and writer. Each is
// monotonic unless its comment says otherwise. One table, counter_table(), says for every scalar
// counter its key in `nod status`, its Prometheus series and what it means: the status answer,
// /metrics and the reference in docs/nod-protocol.md are all made from it.
#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ingest/log-record.hh"

namespace nixmon::nod {

struct Counters {
  using C = std::atomic<uint64_t>;
  C records;                                       // well-formed records handed to the tracker
  std::array<C, action_names.size()> by_action{};  // in Action order
  std::array<C, malformed_count> malformed{};      // by Malformed
  C utf8_repaired;                                 // lines with invalid UTF-8, repaired and parsed
  C plain_lines;            // `nod ingest`: stderr lines without "@nix " (not records); not
                            // in counter_table(), the daemon never reads such lines
  C duplicates;             // records of an activity another connection already reported
  C orphans;                // results/stops for ids never started (or long finished)
  C unknown_records;        // unknown actions and result types (kept raw)
  C failures_unattributed;  // builds' failed counter rose with no single build to blame
  C interrupted;            // activities still open when the last connection holding them closed
  C enqueued;               // events accepted by the queue
  C dropped;                // events dropped because the queue was full
  C committed;              // events committed to SQLite
  C batches;                // transactions committed
  C write_errors;           // failed transactions (their events are retried or counted here)
  C pruned_rows;            // rows removed by retention
  C connections_total;
  C connections_active;  // goes up and down
  C queries;             // query requests answered
  C bytes_read;
  C writers_rejected;  // connections that sent records from a uid not in --writers
  // Connections accepted while --max-connections were open: read and discarded, not closed
  // while fewer than --max-connections are so held (discarded-writers.hh says why).
  C connections_over_limit;
  C bytes_discarded;  // bytes read from refused and over-limit connections and dropped
  // Refused and over-limit connections closed after all, the oldest first, because as many as
  // --max-connections were already held (discarded-writers.cc says why).
  C discarded_closed;

  void add_malformed(Malformed m) {
    malformed[static_cast<size_t>(m)].fetch_add(1, std::memory_order_relaxed);
  }
};

struct CounterInfo {
  std::atomic<uint64_t> Counters::*member;
  std::string_view group;   // the object of `nod status` it sits in; "" = the top level
  std::string_view key;     // its key there
  std::string_view metric;  // its Prometheus series (no labels)
  bool gauge;               // goes up and down (else a counter)
  std::string_view help;    // HELP line and the reference's meaning, one sentence
};

// Every scalar counter, in the order `nod status` and /metrics show them. by_action and malformed
// are arrays with a label; their writers say so.
std::span<const CounterInfo> counter_table();

// The status groups, in order: "" first.
std::span<const std::string_view> counter_groups();

// The Markdown reference table of counter_table() (docs/nod-protocol.md holds a copy that a test
// keeps fresh).
std::string counter_reference_markdown();

}  // namespace nixmon::nod
