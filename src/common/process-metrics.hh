#pragma once
// The exporter's own process, as client_golang's process collector reports it (prometheus/
// process_collector.go and process_collector_procfsenabled.go, v1.24; values as prometheus/procfs
// v0.21 computes them): the same names, HELP texts and units, so the dashboards and alerts written
// for Go exporters work unchanged.
//
//   process_cpu_seconds_total         utime + stime of /proc/self/stat, in seconds
//   process_resident_memory_bytes     rss pages of /proc/self/stat times the page size
//   process_virtual_memory_bytes      vsize of /proc/self/stat
//   process_virtual_memory_max_bytes  the soft RLIMIT_AS (unlimited: 2^64-1, as procfs reads it)
//   process_open_fds                  entries of /proc/self/fd
//   process_max_fds                   the soft RLIMIT_NOFILE
//   process_start_time_seconds        btime of /proc/stat + starttime of /proc/self/stat
//
// Go's process_network_{receive,transmit}_bytes_total are left out: they are read from
// /proc/<pid>/net/netstat, which counts the whole network namespace, not the process.
//
// Always the real /proc of this process, never below --path.root (that is the host being
// reported on, not the exporter). A value that cannot be read is left out (as the Go collector
// leaves it out when it is not told to report errors).
//
// Thread-safety: may be called from several threads at once.
#include "common/exposition.hh"

namespace nixmon {

void add_process_metrics(MetricSet& out);

}  // namespace nixmon
