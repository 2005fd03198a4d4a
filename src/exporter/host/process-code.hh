#pragma once
// Which code running processes use, read from /proc through a HostRoot, and the systemd unit each
// process belongs to. Used by the restart collector to tell which units still run store paths
// that a switch replaced.
//
// /proc is read by its local path under the root without resolving links inside the root: the
// entries of /proc/<pid> are the kernel's own (exe is a magic link whose target is never
// followed), and a root may link its proc to the real /proc (the end-to-end test does), a link the
// operating system follows as any other. Everything else in the root is read as HostRoot reads it.
//
// Thread-safety: free functions without state; call them from any thread.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/host-root.hh"

namespace nixmon::exporter {

// The systemd unit a process belongs to, from the text of /proc/<pid>/cgroup, as systemd itself
// attributes a control group to a unit (systemctl status PID, systemd-cgls; systemd's
// src/basic/cgroup-util.c, cg_path_get_unit): in the unified hierarchy's line ("0::<path>", cgroup
// v2, or the "name=systemd" line of a legacy or hybrid host when the unified one is at its root),
// leading components that are slices are skipped ("system.slice", "user.slice",
// "user-1000.slice"); the next component is the unit when it is a unit name ("nginx.service",
// "session-3.scope", "user@1000.service", "init.scope"). Whatever lies below it (a delegated
// subtree: a user manager's own units, a container's cgroups) belongs to that unit as the system
// manager sees it. nullopt when the process is in no unit: the root cgroup, a cgroup systemd does
// not manage ("/docker/<id>"), a path outside this cgroup namespace ("/../x").
std::optional<std::string> unit_of_cgroup(std::string_view proc_pid_cgroup);

// Whether `name` is a systemd unit name that can own processes' control group: systemd's
// characters ([A-Za-z0-9:_.\\-], one '@' for templates) and a unit type suffix other than .slice.
bool is_unit_name(std::string_view name);

// The store path names ("<hash>-<name>") of the files in /proc/<pid>/maps text: file-backed
// mappings only (the pathname column), " (deleted)" stripped, each once, in order of appearance.
// `host_path` maps what the kernel wrote (a path on this machine) to a host path.
std::vector<std::string> store_names_in_maps(
    std::string_view maps, const std::function<std::string(std::string_view)>& host_path);

// One process as /proc shows it.
struct ProcessCode {
  enum class State {
    inspected,  // exe and maps were read
    denied,     // exe or maps could not be read (EACCES/EPERM: another user's process without
                // ptrace read access): which code it runs is unknown
  };
  std::string pid;
  State state = State::inspected;
  std::optional<std::string> unit;  // from /proc/<pid>/cgroup; nullopt: in no unit
  // Store path names ("<hash>-<name>") of its executable and of its file-backed mappings.
  std::vector<std::string> store_names;
};

// Every process under /proc of the root. Kernel threads and zombies (no executable: readlink of
// exe fails with ENOENT) and processes that exit during the walk are left out: there is no code
// of theirs to restart. Throws SysError when /proc itself cannot be listed; nullopt when the root
// has no /proc.
std::optional<std::vector<ProcessCode>> read_process_code(const HostRoot& root);

// The root's directory as an absolute, normal path on this machine ("/" for the real host).
std::string physical_root(const HostRoot& root);

// A path as the kernel wrote it in /proc, as a host path: " (deleted)" stripped, and a path under
// the root's own directory `physical` (what a process started from a chroot store's files shows)
// taken as the host path below it.
std::string proc_host_path(std::string_view physical, std::string_view kernel_path);

}  // namespace nixmon::exporter
