#!/usr/bin/env python3
"""Writes nixmon's Grafana dashboards (dashboards/*.json) from the compact descriptions below.

The JSON files are committed: import them by hand (Dashboards > New > Import) or let the NixOS
module provision the directory. Edit this file, run it, and review the diff; a test fails when the
JSON and this file disagree. Standard library only.

Every dashboard has two variables: `datasource` (any Prometheus data source, so the same JSON
works imported or provisioned) and `instance`: the host part of the exporters' `instance` label,
so one choice selects nixos-exporter, node_exporter and nod of that host, whatever their ports.
Every query selects with INSTANCE below.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# The host part of `instance` ("web1:9971" -> "web1", "[::1]:9100" -> "[::1]") followed by any port.
INSTANCE = 'instance=~"$instance(:[0-9]+)?"'
DS = {"type": "prometheus", "uid": "${datasource}"}
IGNORED_FS = 'fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|autofs|fuse.*"'
IDLE = 'mode="idle"'
NOT_LO = 'device!="lo"'
UNINSPECTABLE = 'state="uninspectable"'
HIT = 'result="hit"'
HIT_OR_MISS = 'result=~"hit|miss"'
FAILED = 'outcome="failed"'
# cAdvisor names each cgroup by its path (`id`); systemd services live under /system.slice.
SERVICES = 'id=~"/system[.]slice/.+[.]service"'
# prometheus-pve-exporter's `id`: node/<name>, qemu/<vmid>, lxc/<vmid>, storage/<node>/<storage>.
PVE_NODES = 'id=~"node/.+"'
PVE_GUESTS = 'id=~"(qemu|lxc)/.+"'
PVE_STORAGE = 'id=~"storage/.+"'


def sel(extra=""):
    """A label selector with the instance matcher and more matchers."""
    return "{" + INSTANCE + (", " + extra if extra else "") + "}"


def q(expr, legend="", instant=False, table=False):
    t = {"datasource": DS, "expr": expr, "refId": "", "legendFormat": legend, "range": not instant,
         "instant": instant}
    if table:
        t["format"] = "table"
        t["instant"] = True
        t["range"] = False
    return t


def _panel(kind, title, description, targets, w, h, unit=None, extra=None):
    for i, t in enumerate(targets):
        t["refId"] = chr(ord("A") + i)
    p = {"type": kind, "title": title, "description": description, "datasource": DS,
         "targets": targets, "gridPos": {"w": w, "h": h},
         "fieldConfig": {"defaults": {}, "overrides": []}, "options": {}}
    if unit:
        p["fieldConfig"]["defaults"]["unit"] = unit
    if extra:
        for k, v in extra.items():
            if isinstance(v, dict) and isinstance(p.get(k), dict):
                p[k].update(v)
            else:
                p[k] = v
    return p


def stat(title, description, targets, unit=None, w=4, h=4, thresholds=None, mappings=None):
    defaults = {}
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
        defaults["color"] = {"mode": "thresholds"}
    if mappings:
        defaults["mappings"] = mappings
    return _panel("stat", title, description, targets, w, h, unit, {
        "fieldConfig": {"defaults": {**defaults, **({"unit": unit} if unit else {})}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value", "graphMode": "none", "textMode": "auto"}})


def timeseries(title, description, targets, unit=None, w=12, h=8, stack=False):
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
              "spanNulls": False}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    return _panel("timeseries", title, description, targets, w, h, unit, {
        "fieldConfig": {"defaults": {"custom": custom, **({"unit": unit} if unit else {})}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                               "calcs": ["lastNotNull", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}}})


def table(title, description, targets, w=24, h=8, hide=(), rename=None, mappings=None, unit_by_column=None):
    """An instant table; several queries are merged into one row per label set."""
    transformations = []
    if len(targets) > 1:
        transformations.append({"id": "merge", "options": {}})
    transformations.append({"id": "organize", "options": {
        "excludeByName": {k: True for k in ("Time", "__name__", *hide)},
        "renameByName": rename or {}, "indexByName": {}}})
    overrides = []
    for column, unit in (unit_by_column or {}).items():
        overrides.append({"matcher": {"id": "byName", "options": column},
                          "properties": [{"id": "unit", "value": unit}]})
    for column, m in (mappings or {}).items():
        overrides.append({"matcher": {"id": "byName", "options": column},
                          "properties": [{"id": "mappings", "value": m},
                                         {"id": "custom.cellOptions", "value": {"type": "color-text"}}]})
    return _panel("table", title, description, targets, w, h, None, {
        "transformations": transformations,
        "fieldConfig": {"defaults": {"custom": {"align": "auto", "filterable": True}}, "overrides": overrides},
        "options": {"showHeader": True, "cellHeight": "sm"}})


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {"w": 24, "h": 1}}


def value_map(pairs):
    """[(value, text, color)] -> a Grafana value mapping."""
    return [{"type": "value", "options": {str(v): {"text": text, "color": color, "index": i}}}
            for i, (v, text, color) in enumerate(pairs)]


YES_BAD = value_map([(0, "no", "green"), (1, "yes", "red")])
ON_OFF = value_map([(0, "off", "text"), (1, "on", "text")])
REBOOT = value_map([(0, "unchanged", "green"), (1, "changed: reboot", "orange")])
SUCCESS = value_map([(0, "failing", "red"), (1, "ok", "green")])
UP_DOWN = value_map([(0, "down", "red"), (1, "up", "green")])
GREEN_RED = [{"color": "green", "value": None}, {"color": "red", "value": 1}]


def layout(panels):
    """Places panels left to right, wrapping at 24 columns; ids in order."""
    x = y = row_h = 0
    for i, p in enumerate(panels, 1):
        p["id"] = i
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if p["type"] == "row" or x + w > 24:
            x, y = 0, y + row_h
            row_h = 0
        p["gridPos"].update({"x": x, "y": y})
        x += w
        row_h = max(row_h, h)
        if p["type"] == "row":
            x, y, row_h = 0, y + 1, 0
    return panels


def dashboard(uid, title, description, panels, hosts_from="nixos_exporter_build_info"):
    """`hosts_from`: the metric whose `instance` values the host variable offers."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["nixmon", "nixos"],
        "editable": True,
        "graphTooltip": 1,
        "refresh": "1m",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "links": [{"title": "nixmon", "type": "dashboards", "tags": ["nixmon"], "asDropdown": True,
                   "includeVars": True, "keepTime": True}],
        "annotations": {"list": []},
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []},
            {"name": "instance", "label": "Host", "type": "query", "datasource": DS,
             "definition": f"label_values({hosts_from}, instance)",
             "query": {"query": f"label_values({hosts_from}, instance)",
                       "refId": "PrometheusVariableQueryEditor-VariableQuery"},
             # The host part of instance; Grafana takes the first capture group as the value.
             "regex": "/^(\\[[^\\]]*\\]|[^:]+)/",
             "multi": True, "includeAll": True, "allValue": ".*",
             "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
             "hide": 0, "refresh": 2, "sort": 1, "options": []},
        ]},
        "panels": layout(panels),
    }


# --- fleet overview ---------------------------------------------------------------------------

def fleet():
    return dashboard("nixmon-fleet", "NixOS fleet overview",
                     "Every host: what it runs, whether it drifted, needs a reboot (and why), when it was last deployed.", [
        row("Fleet"),
        stat("Hosts", "Hosts whose nixos-exporter Prometheus scrapes.",
             [q(f"count(count by (instance) (nixos_exporter_build_info{sel()}))", instant=True)]),
        stat("Targets down", "Scrape targets of the selected hosts (nixos-exporter, node_exporter, nod) that are down: what they measure is unknown meanwhile.",
             [q(f"sum(1 - up{sel()})", instant=True)], thresholds=GREEN_RED),
        stat("Revisions deployed", "Distinct configuration revisions the selected hosts run; more than one in a fleet is drift (alert NixOSFleetDrift). Hosts that record no configurationRevision count as \"unknown\".",
             [q(f"count(count by (configuration_rev) (nixos_system_info{sel()}))", instant=True)],
             thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 2}]),
        stat("Need a reboot", "Hosts where a part only a reboot applies (kernel, initrd, modules, kernel params, systemd) differs between booted and current system. Hosts whose reasons are unknown are not counted: see the table below.",
             [q(f"sum(max by (instance) (nixos_reboot_required{sel()}))", instant=True)],
             thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}]),
        stat("Behind the flake", "Hosts running an older revision than their flake's latest (flake collector; absent while the remote revision is unknown).",
             [q(f"sum(nixos_flake_revision_behind{sel()})", instant=True)],
             thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}]),
        stat("Failing collectors", "nixos-exporter collectors that failed at the last scrape; their metrics are absent (unknown), not zero.",
             [q(f"sum(1 - nixos_exporter_collector_success{sel()})", instant=True)], thresholds=GREEN_RED),
        row("Hosts"),
        table("Hosts", "One row per host: NixOS version, revisions, generations, time since the current generation was made (the last deploy), whether a reboot or a pending boot default waits.", [
            q(f"nixos_system_info{sel()}", table=True),
            q(f"nixos_current_generation{sel()}", table=True),
            q(f"nixos_booted_generation{sel()}", table=True),
            q(f"nixos_generation_age_seconds{sel()}", table=True),
            q(f"max by (instance, job) (nixos_reboot_required{sel()})", table=True),
            q(f"nixos_boot_pending{sel()}", table=True),
        ], h=9, hide=("system", "Value #A"), rename={"Value #B": "generation", "Value #C": "booted", "Value #D": "since last deploy",
                                                     "Value #E": "reboot needed", "Value #F": "boot pending"},
            unit_by_column={"since last deploy": "s"},
            mappings={"reboot needed": YES_BAD, "boot pending": YES_BAD}),
        table("Reboot needed, and why", "What differs between the booted and the current system of each host. A host missing here could not be compared: its reboot collector failed or a system lacks the file.",
              [q(f"nixos_reboot_required{sel()}", table=True)], w=12, h=9, rename={"Value": "state"},
              mappings={"state": REBOOT}),
        table("Hosts per revision (drift)", "How many hosts of each fleet (scrape job) run each configuration revision.",
              [q(f"count by (job, configuration_rev) (nixos_system_info{sel()})", table=True)], w=12, h=9,
              rename={"Value": "hosts"}),
        table("Flake", "The flake collector's view: the running revision against the flake's latest, and whether the host is behind.", [
            q(f"nixos_flake_info{sel()}", table=True),
            q(f"nixos_flake_revision_behind{sel()}", table=True),
        ], h=7, hide=("Value #A",), rename={"Value #B": "behind"}, mappings={"behind": YES_BAD}),
        table("Channels", "The channel collector's view on channel-based hosts: each root channel's URL, the nixpkgs revision and version it is at, how old that release is (empty: its version carries no date), whether upstream is at another revision (empty: unknown), and when the channels were last updated.", [
            q(f"nixos_channel_info{sel()}", table=True),
            q(f"nixos_channel_age_seconds{sel()}", table=True),
            q(f"nixos_channel_behind{sel()}", table=True),
            q(f"time() - nixos_channel_updated_timestamp_seconds{sel()}", table=True),
        ], h=7, hide=("Value #A",), rename={"Value #B": "release age", "Value #C": "behind", "Value #D": "since the last update"},
            unit_by_column={"release age": "s", "since the last update": "s"}, mappings={"behind": YES_BAD}),
        table("Rollbacks and automatic upgrades", "The generation the system profile points to against the newest one (below it after nixos-rebuild --rollback: alert NixOSRolledBack), whether system.autoUpgrade's timer is enabled, and how long ago it last fired (empty: never, or the timer is not Persistent=; alert NixOSAutoUpgradeNotRunning).", [
            q(f"nixos_profile_generation{sel()}", table=True),
            q(f"nixos_newest_generation{sel()}", table=True),
            q(f"nixos_newest_generation{sel()} > bool nixos_profile_generation{sel()}", table=True),
            q(f"nixos_autoupgrade_enabled{sel()}", table=True),
            q(f"time() - nixos_autoupgrade_last_trigger_timestamp_seconds{sel()}", table=True),
        ], h=7, rename={"Value #A": "profile generation", "Value #B": "newest", "Value #C": "rolled back",
                        "Value #D": "auto-upgrade", "Value #E": "since the upgrade timer fired"},
            unit_by_column={"since the upgrade timer fired": "s"},
            mappings={"rolled back": YES_BAD, "auto-upgrade": ON_OFF}),
        table("Nix and nixpkgs", "The Nix implementation (nix, lix, determinate) and version each host's system uses (alert NixVersionVulnerable), the age of its nixpkgs commit (the date in its NixOS version; empty for channel builds, whose version has none; alert NixOSNixpkgsStale), and its boot entries that name files that are gone (alert NixOSBootEntryUnbootable).", [
            q(f"nixos_nix_info{sel()}", table=True),
            q(f"nixos_nixpkgs_age_seconds{sel()}", table=True),
            q(f"sum by (instance, job) (nixos_boot_entries_unbootable{sel()})", table=True),
        ], h=7, hide=("Value #A",), rename={"Value #B": "nixpkgs age", "Value #C": "unbootable boot entries"},
            unit_by_column={"nixpkgs age": "s"}),
        row("History"),
        timeseries("Generation per host", "The current generation number of each host: a step is a deploy.",
                   [q(f"nixos_current_generation{sel()}", "{{instance}}")], unit="none", w=8),
        timeseries("Since last deploy", "Age of each host's current generation.",
                   [q(f"nixos_generation_age_seconds{sel()}", "{{instance}}")], unit="s", w=8),
        timeseries("Flake input age", "How old each locked input of the flake is (nixpkgs above 30 days: alert NixpkgsInputStale).",
                   [q(f"nixos_flake_input_age_seconds{sel()}", "{{instance}} {{input}}")], unit="s", w=8),
        timeseries("Since the last successful flake check", "How old the remote flake revision each host compares against is.",
                   [q(f"time() - nixos_flake_last_check_success_timestamp_seconds{sel()}", "{{instance}}")], unit="s", w=12),
        timeseries("Flake checks", "Runs of nix flake metadata by this host, by result (success, failed, timeout, bad_output, error).",
                   [q(f"sum by (instance, result) (increase(nixos_flake_remote_checks_total{sel()}[$__rate_interval]))", "{{instance}} {{result}}")],
                   unit="none", w=12),
        timeseries("Channel release age", "How old the nixpkgs release each root channel is at (channel collector; from the date in its version).",
                   [q(f"nixos_channel_age_seconds{sel()}", "{{instance}} {{name}}")], unit="s", w=12),
        timeseries("Channel upstream checks", "Fetches of each channel's <URL>/git-revision by this host, by result (success, http_error, failed, bad_output, unsupported); with NATS sharing one host of a fleet fetches per interval.",
                   [q(f"sum by (instance, result) (increase(nixos_channel_upstream_checks_total{sel()}[$__rate_interval]))", "{{instance}} {{result}}")],
                   unit="none", w=12),
    ])


# --- one host -----------------------------------------------------------------------------------

def host():
    return dashboard("nixmon-host", "NixOS host",
                     "One NixOS host: generations, reboot reasons, /boot, the exporter's collectors, and the machine from node_exporter.", [
        row("NixOS"),
        stat("Generation", "Generation of the running system (absent after nixos-rebuild test: no generation).",
             [q(f"nixos_current_generation{sel()}", "{{instance}}", instant=True)], unit="none"),
        stat("Booted", "Generation the host booted.",
             [q(f"nixos_booted_generation{sel()}", "{{instance}}", instant=True)], unit="none"),
        stat("Next boot", "Generation the system profile points to: the default at the next boot.",
             [q(f"nixos_profile_generation{sel()}", "{{instance}}", instant=True)], unit="none"),
        stat("Generations", "System generations kept (each keeps its closure alive).",
             [q(f"nixos_generation_count{sel()}", "{{instance}}", instant=True)], unit="none"),
        stat("Since last deploy", "Age of the current generation.",
             [q(f"nixos_generation_age_seconds{sel()}", "{{instance}}", instant=True)], unit="s"),
        stat("Booted differs", "Booted and current system differ (the Go nixos-exporter's nixos_config_mismatch): see the reasons.",
             [q(f"nixos_config_mismatch{sel()}", "{{instance}}", instant=True)], mappings=YES_BAD),
        table("System", "What the running system records about itself.",
              [q(f"nixos_system_info{sel()}", table=True)], w=14, h=6, hide=("Value",)),
        table("Reboot reasons", "Each part only a reboot applies: changed since boot or not.",
              [q(f"nixos_reboot_required{sel()}", table=True)], w=10, h=6, rename={"Value": "state"},
              mappings={"state": REBOOT}),
        timeseries("/boot", "Space on the filesystem holding /boot, against what one more generation with a new kernel and initrd adds (alert NixOSBootNextGenerationWontFit).", [
            q(f"nixos_boot_filesystem_size_bytes{sel()}", "{{instance}} size"),
            q(f"nixos_boot_filesystem_avail_bytes{sel()}", "{{instance}} available"),
            q(f"nixos_boot_generation_bytes{sel()}", "{{instance}} one generation"),
        ], unit="bytes", w=12),
        timeseries("Boot loader entries", "Entries NixOS wrote to the boot loader.",
                   [q(f"nixos_boot_entries{sel()}", "{{instance}} {{loader}}")], unit="none", w=6),
        timeseries("System closures", "NAR bytes of the current and the booted system's closures: an upgrade's growth.",
                   [q(f"nixos_system_closure_nar_bytes{sel()}", "{{instance}} {{system}}")], unit="bytes", w=6),
        stat("nixpkgs age", "Age of the running system's nixpkgs commit, from the date in its NixOS version (empty for channel builds, whose version has none; alert NixOSNixpkgsStale above 30 days).",
             [q(f"nixos_nixpkgs_age_seconds{sel()}", "{{instance}}", instant=True)], unit="s"),
        table("Nix", "The Nix implementation and version of the running system, from the package its sw/bin/nix links to (alert NixVersionVulnerable).",
              [q(f"nixos_nix_info{sel()}", table=True)], w=8, h=4, hide=("Value",)),
        timeseries("Boot entries that cannot boot", "Boot loader entries whose kernel, initrd or system init is gone (garbage-collected): choosing them fails (alert NixOSBootEntryUnbootable).",
                   [q(f"nixos_boot_entries_missing_files{sel()}", "{{instance}} {{loader}} {{kind}}")], unit="none", w=12),
        table("Restart debt", "Units whose processes still run store paths outside the current system's closure: code a switch replaced, until the unit is restarted (restart collector; alert NixOSRestartPending). \"(none)\": processes in no unit.",
              [q(f"nixos_restart_pending_processes{sel()}", table=True)], w=16, h=6, rename={"Value": "processes"}),
        stat("Processes not inspected", "Processes whose /proc exe or maps the exporter could not read (it lacks CAP_SYS_PTRACE): whether they run old code is unknown.",
             [q(f"nixos_restart_processes{sel(UNINSPECTABLE)}", "{{instance}}", instant=True)], unit="none", w=8, h=6,
             thresholds=GREEN_RED),
        row("Machine (node_exporter)"),
        timeseries("CPU busy", "Share of CPU time not idle, all CPUs.",
                   [q(f"100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{sel(IDLE)}[$__rate_interval])))", "{{instance}}")],
                   unit="percent", w=8),
        timeseries("Memory used", "100 - MemAvailable / MemTotal.",
                   [q(f"100 * (1 - node_memory_MemAvailable_bytes{sel()} / node_memory_MemTotal_bytes{sel()})", "{{instance}}")],
                   unit="percent", w=8),
        timeseries("Load", "1-minute load average.", [q(f"node_load1{sel()}", "{{instance}}")], unit="none", w=8),
        timeseries("Filesystems used", "Used share of each real filesystem (what non-root users can still write counts as free).",
                   [q(f"100 * (1 - node_filesystem_avail_bytes{sel(IGNORED_FS)} / node_filesystem_size_bytes{sel(IGNORED_FS)})", "{{instance}} {{mountpoint}}")],
                   unit="percent", w=12),
        timeseries("Network", "Bytes per second received and sent per interface.", [
            q(f"rate(node_network_receive_bytes_total{sel(NOT_LO)}[$__rate_interval])", "{{instance}} {{device}} in"),
            q(f"-rate(node_network_transmit_bytes_total{sel(NOT_LO)}[$__rate_interval])", "{{instance}} {{device}} out"),
        ], unit="Bps", w=12),
        row("systemd services (cAdvisor)"),
        timeseries("Service CPU", "CPUs busy per systemd service, the ten busiest: each unit is a cgroup, which cAdvisor reports as /system.slice/<unit>.service (services.nixmon.exporters.cadvisor).",
                   [q(f"topk(10, sum by (instance, id) (rate(container_cpu_usage_seconds_total{sel(SERVICES)}[$__rate_interval])))", "{{instance}} {{id}}")],
                   unit="short", w=12),
        timeseries("Service memory", "Working set per systemd service, the ten largest: what the kernel cannot simply reclaim, and what a memory limit (MemoryMax=) is held against.",
                   [q(f"topk(10, container_memory_working_set_bytes{sel(SERVICES)})", "{{instance}} {{id}}")],
                   unit="bytes", w=12),
        table("Memory limits", "Working set of each service that has a memory limit (MemoryMax=), percent of that limit; services without one are not listed (alert ServiceNearMemoryLimit).",
              [q(f"100 * container_memory_working_set_bytes{sel(SERVICES)} / (container_spec_memory_limit_bytes{sel(SERVICES)} > 0)", table=True)],
              w=8, h=8, rename={"Value": "% of limit"}, unit_by_column={"% of limit": "percent"}),
        timeseries("CPU throttled", "Share of scheduler periods in which a service with a CPU quota (CPUQuota=) was throttled (alert ServiceCPUThrottled).",
                   [q(f"100 * rate(container_cpu_cfs_throttled_periods_total{sel(SERVICES)}[$__rate_interval]) / (rate(container_cpu_cfs_periods_total{sel(SERVICES)}[$__rate_interval]) > 0)", "{{instance}} {{id}}")],
                   unit="percent", w=8),
        table("Restarts", "How often each service's cgroup was created anew in the dashboard's time range, the ten most (alert ServiceRestarting).",
              [q(f"topk(10, changes(container_start_time_seconds{sel(SERVICES)}[$__range]))", table=True)],
              w=8, h=8, rename={"Value": "restarts"}),
        row("nixos-exporter"),
        table("Collectors", "Whether each collector succeeded at the last scrape; a failing one's metrics are absent.",
              [q(f"nixos_exporter_collector_success{sel()}", table=True)], w=8, h=8, rename={"Value": "state"},
              mappings={"state": SUCCESS}),
        timeseries("Collector time", "How long each collector took per scrape.",
                   [q(f"nixos_exporter_collector_duration_seconds{sel()}", "{{instance}} {{collector}}")], unit="s", w=16),
    ])


# --- store and garbage collection -------------------------------------------------------------

def store():
    return dashboard("nixmon-store", "Nix store and garbage collection",
                     "The Nix store as its database records it, its filesystem, and what garbage collection would free.", [
        row("Now"),
        stat("Store (NAR)", "Sum of the NAR sizes of all valid paths: not disk usage (hard links and compression make that smaller).",
             [q(f"nixos_store_nar_bytes{sel()}", "{{instance}}", instant=True)], unit="bytes"),
        stat("Valid paths", "Paths registered in the store database.",
             [q(f"nixos_store_valid_paths{sel()}", "{{instance}}", instant=True)], unit="none"),
        stat("Derivations", ".drv files in the store.",
             [q(f"nixos_store_derivations{sel()}", "{{instance}}", instant=True)], unit="none"),
        stat("Garbage", "NAR bytes of the paths reachable from no GC root: what nix-collect-garbage would free.",
             [q(f"nixos_gc_reclaimable_nar_bytes{sel()}", "{{instance}}", instant=True)], unit="bytes"),
        stat("Garbage paths", "Paths reachable from no GC root.",
             [q(f"nixos_gc_reclaimable_paths{sel()}", "{{instance}}", instant=True)], unit="none"),
        stat("Store filesystem used", "Used share of the filesystem holding /nix/store.",
             [q(f"100 * (1 - nixos_store_filesystem_avail_bytes{sel()} / nixos_store_filesystem_size_bytes{sel()})", "{{instance}}", instant=True)],
             unit="percent", thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 80}, {"color": "red", "value": 90}]),
        row("Size"),
        timeseries("Store and garbage", "All valid paths, those reachable from GC roots (live), and the rest (garbage), in NAR bytes.", [
            q(f"nixos_store_nar_bytes{sel()}", "{{instance}} store"),
            q(f"nixos_gc_live_nar_bytes{sel()}", "{{instance}} live"),
            q(f"nixos_gc_reclaimable_nar_bytes{sel()}", "{{instance}} garbage"),
        ], unit="bytes"),
        timeseries("Store filesystem", "Size of the filesystem holding /nix/store and what unprivileged users can still write.", [
            q(f"nixos_store_filesystem_size_bytes{sel()}", "{{instance}} size"),
            q(f"nixos_store_filesystem_avail_bytes{sel()}", "{{instance}} available"),
        ], unit="bytes"),
        timeseries("Free inodes", "Share of the store filesystem's inodes still free (absent on filesystems without an inode table, such as btrfs).",
                   [q(f"100 * nixos_store_filesystem_files_free{sel()} / nixos_store_filesystem_files{sel()}", "{{instance}}")],
                   unit="percent", w=8),
        timeseries("Store churn", "Valid paths registered within the last 24 hours and 7 days.",
                   [q(f"nixos_store_registered_paths{sel()}", "{{instance}} {{window}}")], unit="none", w=8),
        timeseries("Built here or fetched", "Valid paths built on this machine, and the rest (substituted, copied, added).", [
            q(f"nixos_store_built_paths{sel()}", "{{instance}} built here"),
            q(f"nixos_store_valid_paths{sel()} - nixos_store_built_paths{sel()}", "{{instance}} fetched or added"),
        ], unit="none", w=8),
        row("Garbage collection"),
        timeseries("GC roots", "GC roots pointing to valid paths, by where Nix finds them.",
                   [q(f"nixos_gc_roots{sel()}", "{{instance}} {{source}}")], unit="none", w=8),
        timeseries("System closures", "Paths in the closures of the current and the booted system.",
                   [q(f"nixos_system_closure_paths{sel()}", "{{instance}} {{system}}")], unit="none", w=8),
        table("GC settings", "What the analysis followed: keep-derivations, keep-outputs, runtime roots.",
              [q(f"nixos_gc_settings_info{sel()}", table=True)], w=8, h=8, hide=("Value",)),
        timeseries("Invalid store entries", "Disk bytes of the store directory's entries that are not valid paths and that nix-store --gc deletes too: lock files and partial outputs of failed or interrupted builds, stray files (not NAR: they have none).",
                   [q(f"nixos_gc_reclaimable_invalid_disk_bytes{sel()}", "{{instance}}")], unit="bytes", w=8),
        timeseries("Analysis age", "Seconds since the store and gc figures were computed (they are recomputed when the database or the roots change).", [
            q(f"nixos_store_analysis_age_seconds{sel()}", "{{instance}} store"),
            q(f"nixos_gc_analysis_age_seconds{sel()}", "{{instance}} gc"),
        ], unit="s"),
        timeseries("Analysis time", "How long computing the figures took, off the scrape path.", [
            q(f"nixos_store_analysis_duration_seconds{sel()}", "{{instance}} store"),
            q(f"nixos_gc_analysis_duration_seconds{sel()}", "{{instance}} gc"),
        ], unit="s"),
        row("What each root alone keeps"),
        table("Generations: bytes only each one keeps", "Per system generation, the NAR bytes no other GC root reaches: what deleting that generation and running nix-store --gc would free. 0 when another root (such as /run/current-system) holds the same system.",
              [q(f"nixos_gc_generation_exclusive_nar_bytes{sel()}", table=True)], w=8, h=10, hide=("job",),
              rename={"Value": "only it keeps"}, unit_by_column={"only it keeps": "bytes"}),
        table("Largest other roots", "The largest GC roots besides system generations (result links, other profiles, gcroots) by the NAR bytes only they keep alive; root=\"other\" sums the rest (--collector.gc.roots.top).",
              [q(f"sort_desc(nixos_gc_root_exclusive_nar_bytes{sel()})", table=True)], w=8, h=10, hide=("job",),
              rename={"Value": "only it keeps"}, unit_by_column={"only it keeps": "bytes"}),
        timeseries("Kept by one root or shared", "Live NAR bytes held by a single generation, by a single other root, and by two or more roots (which deleting any one root does not free).", [
            q(f"sum by (instance) (nixos_gc_generation_exclusive_nar_bytes{sel()})", "{{instance}} one generation"),
            q(f"sum by (instance) (nixos_gc_root_exclusive_nar_bytes{sel()})", "{{instance}} one other root"),
            q(f"nixos_gc_shared_nar_bytes{sel()}", "{{instance}} shared"),
        ], unit="bytes", w=8, h=10, stack=True),
    ])


# --- builds and substitutions (nod) -----------------------------------------------------------

def or_zero_if(expr, known):
    """`expr`, or 0 where `known` has data: a count with no failed series is 0 only when nod
    reported builds at all (unknown stays "No data")."""
    return f"({expr}) or (0 * {known})"


def builds():
    total = f"sum(increase(nod_builds_total{sel()}[$__range]))"
    failed = f"sum(increase(nod_builds_total{sel(FAILED)}[$__range]))"
    return dashboard("nixmon-builds", "Nix builds and substituters",
                     "Builds, substitutions and binary cache queries from nod's metrics (never per derivation: `nod` on the host has those).", [
        row("Over the selected time range"),
        stat("Builds", "Builds recorded by nod, all outcomes.", [q(total, instant=True)], unit="none"),
        stat("Failed builds", "Builds that failed (0 only where nod recorded builds at all).",
             [q(or_zero_if(failed, f"{total}"), instant=True)], unit="none", thresholds=GREEN_RED),
        stat("Failed share", "Failed builds / all builds.",
             [q(f"{failed} / {total} or (0 * {total})", instant=True)], unit="percentunit",
             thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 0.05}, {"color": "red", "value": 0.2}]),
        stat("Substitutions", "Store paths fetched from substituters.",
             [q(f"sum(increase(nod_substitutions_total{sel()}[$__range]))", instant=True)], unit="none"),
        stat("Cache hit ratio", "Binary cache queries answered with a hit, among those answered hit or miss (unknown answers left out).",
             [q(f"sum(increase(nod_cache_queries_total{sel(HIT)}[$__range])) / sum(increase(nod_cache_queries_total{sel(HIT_OR_MISS)}[$__range]))", instant=True)],
             unit="percentunit"),
        stat("Dropped records", "Completed activities nod dropped because its write queue was full (alert NodDroppingRecords).",
             [q(f"sum(increase(nod_events_dropped_total{sel()}[$__range]))", instant=True)], unit="none", thresholds=GREEN_RED),
        row("Builds"),
        timeseries("Builds by outcome", "Builds per interval, by outcome.",
                   [q(f"sum by (instance, outcome) (increase(nod_builds_total{sel()}[$__rate_interval]))", "{{instance}} {{outcome}}")], unit="none", w=8),
        timeseries("Build time", "Median and 90th percentile of build durations, by builder machine (from nod's histogram).", [
            q(f"histogram_quantile(0.5, sum by (instance, machine, le) (increase(nod_build_duration_seconds_bucket{sel()}[$__rate_interval])))", "{{instance}} {{machine}} median"),
            q(f"histogram_quantile(0.9, sum by (instance, machine, le) (increase(nod_build_duration_seconds_bucket{sel()}[$__rate_interval])))", "{{instance}} {{machine}} p90"),
        ], unit="s", w=8),
        timeseries("Failures by kind", "Failures the stream reported: builder, dependency, remote, hash mismatch.",
                   [q(f"sum by (instance, kind) (increase(nod_failures_total{sel()}[$__rate_interval]))", "{{instance}} {{kind}}")], unit="none", w=8),
        row("Substituters and caches"),
        timeseries("Substitutions", "Substitutions per interval, by substituter and outcome.",
                   [q(f"sum by (instance, substituter, outcome) (increase(nod_substitutions_total{sel()}[$__rate_interval]))", "{{instance}} {{substituter}} {{outcome}}")], unit="none", w=8),
        timeseries("Substitution time", "Median substitution duration, by substituter.",
                   [q(f"histogram_quantile(0.5, sum by (instance, substituter, le) (increase(nod_substitution_duration_seconds_bucket{sel()}[$__rate_interval])))", "{{instance}} {{substituter}}")], unit="s", w=8),
        timeseries("Downloaded", "Bytes per second downloaded and NAR bytes per second unpacked, by substituter (where the stream reports them).", [
            q(f"sum by (instance, substituter) (rate(nod_substitution_downloaded_bytes_total{sel()}[$__rate_interval]))", "{{instance}} {{substituter}} downloaded"),
            q(f"sum by (instance, substituter) (rate(nod_substitution_nar_bytes_total{sel()}[$__rate_interval]))", "{{instance}} {{substituter}} NAR"),
        ], unit="Bps", w=8),
        timeseries("Transfers", "Bytes per second of file transfers (binary cache downloads, fetchers) and store copies.",
                   [q(f"sum by (instance, kind) (rate(nod_transferred_bytes_total{sel()}[$__rate_interval]))", "{{instance}} {{kind}}")],
                   unit="Bps", w=8),
        timeseries("Cache hit ratio", "Per binary cache: hits among the queries answered hit or miss (alert NixSubstituterHitRatioDropped).",
                   [q(f"sum by (instance, cache) (increase(nod_cache_queries_total{sel(HIT)}[$__rate_interval])) / sum by (instance, cache) (increase(nod_cache_queries_total{sel(HIT_OR_MISS)}[$__rate_interval]))", "{{instance}} {{cache}}")],
                   unit="percentunit", w=8),
        timeseries("Cache queries", "Binary cache queries per interval, by cache and result.",
                   [q(f"sum by (instance, cache, result) (increase(nod_cache_queries_total{sel()}[$__rate_interval]))", "{{instance}} {{cache}} {{result}}")], unit="none", w=8),
        row("nod"),
        timeseries("Activities", "Activities recorded per interval, by kind and outcome.",
                   [q(f"sum by (instance, kind, outcome) (increase(nod_activities_total{sel()}[$__rate_interval]))", "{{instance}} {{kind}} {{outcome}}")], unit="none", w=8),
        timeseries("Pipeline", "Records received, events committed to the database and events dropped, per second.", [
            q(f"sum by (instance) (rate(nod_records_total{sel()}[$__rate_interval]))", "{{instance}} records"),
            q(f"sum by (instance) (rate(nod_events_committed_total{sel()}[$__rate_interval]))", "{{instance}} committed"),
            q(f"sum by (instance) (rate(nod_events_dropped_total{sel()}[$__rate_interval]))", "{{instance}} dropped"),
        ], unit="ops", w=8),
        timeseries("Problems", "Malformed lines by reason, duplicate records, failed database writes, per interval.", [
            q(f"sum by (instance, reason) (increase(nod_malformed_records_total{sel()}[$__rate_interval]))", "{{instance}} malformed {{reason}}"),
            q(f"sum by (instance) (increase(nod_duplicate_records_total{sel()}[$__rate_interval]))", "{{instance}} duplicates"),
            q(f"sum by (instance) (increase(nod_write_errors_total{sel()}[$__rate_interval]))", "{{instance}} write errors"),
        ], unit="none", w=8),
    ])


# --- Proxmox VE --------------------------------------------------------------------------------

def proxmox():
    return dashboard("nixmon-proxmox", "Proxmox VE",
                     "Proxmox VE nodes, guests and storage from prometheus-pve-exporter (services.nixmon.proxmox); the host is the node the exporter asked.", [
        row("Nodes"),
        table("Nodes", "Each node as the cluster reports it (alert ProxmoxNodeDown).",
              [q(f"pve_up{sel(PVE_NODES)}", table=True)], w=8, h=8, rename={"Value": "state"},
              mappings={"state": UP_DOWN}),
        timeseries("Node CPU", "CPU utilisation of each node.",
                   [q(f"100 * pve_cpu_usage_ratio{sel(PVE_NODES)}", "{{instance}} {{id}}")], unit="percent", w=8),
        timeseries("Node memory", "Used memory of each node, percent of its memory.",
                   [q(f"100 * pve_memory_usage_bytes{sel(PVE_NODES)} / pve_memory_size_bytes{sel(PVE_NODES)}", "{{instance}} {{id}}")],
                   unit="percent", w=8),
        row("Guests"),
        table("Guests", "Every VM (qemu) and container (lxc), running or not (alert ProxmoxGuestDown for those that start at boot).",
              [q(f"pve_up{sel(PVE_GUESTS)} * on (instance, id) group_left (name, node, type) pve_guest_info{sel()}", table=True)],
              w=24, h=8, rename={"Value": "state"}, mappings={"state": UP_DOWN}),
        timeseries("Guest CPU", "CPU utilisation of each guest.",
                   [q(f"100 * pve_cpu_usage_ratio{sel(PVE_GUESTS)}", "{{instance}} {{id}}")], unit="percent", w=12),
        timeseries("Guest memory", "Memory each guest uses.",
                   [q(f"pve_memory_usage_bytes{sel(PVE_GUESTS)}", "{{instance}} {{id}}")], unit="bytes", w=12),
        row("Storage"),
        timeseries("Storage used", "Used share of each storage of known size (alert ProxmoxStorageNearlyFull).",
                   [q(f"100 * pve_disk_usage_bytes{sel(PVE_STORAGE)} / (pve_disk_size_bytes{sel(PVE_STORAGE)} > 0)", "{{instance}} {{id}}")],
                   unit="percent", w=16),
        table("Storage state", "Whether each storage is active (alert ProxmoxStorageUnavailable).",
              [q(f"pve_up{sel(PVE_STORAGE)}", table=True)], w=8, h=8, rename={"Value": "state"},
              mappings={"state": UP_DOWN}),
    ], hosts_from="pve_up")


DASHBOARDS = {
    "fleet-overview.json": fleet,
    "nixos-host.json": host,
    "store-gc.json": store,
    "builds-substituters.json": builds,
    "proxmox.json": proxmox,
}


def render():
    return {name: json.dumps(make(), indent=2, ensure_ascii=False) + "\n" for name, make in DASHBOARDS.items()}


def main(argv):
    out = argv[0] if argv else HERE
    for name, text in render().items():
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
        print(os.path.join(out, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
