"""What the rules and dashboards tests share: reading our rule files and dashboards without a YAML
library (standard library only), pulling metric names out of PromQL, and finding which metrics this
project's programs export.
"""
import glob
import json
import os
import re

import harness as h

RULES_DIR = os.path.join(h.SOURCE_DIR, "rules")
DASHBOARDS_DIR = os.path.join(h.SOURCE_DIR, "dashboards")

SEVERITIES = ("critical", "warning", "info")


def rule_files():
    return sorted(glob.glob(os.path.join(RULES_DIR, "*.yml")))


def dashboard_files():
    return sorted(glob.glob(os.path.join(DASHBOARDS_DIR, "*.json")))


def _unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return json.loads(value)
    return value


def alerts_in(path):
    """[{alert, expr, for, labels, annotations}] of a rule file written in this project's layout:
    `expr:` on one line or as a `|` block, labels and annotations one per line. promtool checks the
    YAML itself; the tests compare the count found here with promtool's."""
    alerts = []
    with open(path) as f:
        lines = f.read().splitlines()
    i = 0
    section = None
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)- alert:\s*(\S+)\s*$", line)
        if m:
            alerts.append({"alert": m.group(2), "labels": {}, "annotations": {}, "for": None})
            section = None
            i += 1
            continue
        if alerts:
            cur = alerts[-1]
            m = re.match(r"^(\s*)expr:\s*(.*)$", line)
            if m:
                if m.group(2).strip() == "|":
                    indent = None
                    body = []
                    i += 1
                    while i < len(lines) and (not lines[i].strip() or indent is None or lines[i].startswith(indent)):
                        if indent is None:
                            indent = re.match(r"^(\s*)", lines[i]).group(1)
                            if len(indent) <= len(m.group(1)):
                                break
                        body.append(lines[i][len(indent):])
                        i += 1
                    cur["expr"] = "\n".join(body).strip()
                    continue
                cur["expr"] = _unquote(m.group(2))
            elif re.match(r"^\s*for:\s*", line):
                cur["for"] = line.split(":", 1)[1].strip()
            elif re.match(r"^\s*labels:\s*$", line):
                section = "labels"
            elif re.match(r"^\s*annotations:\s*$", line):
                section = "annotations"
            elif section and re.match(r"^\s+[a-z_]+:\s", line):
                k, v = line.strip().split(":", 1)
                cur[section][k] = _unquote(v)
            elif re.match(r"^\s*- (alert|record):", line) or not line.strip():
                section = None
        i += 1
    return alerts


def template_queries(text):
    """The PromQL inside an annotation's `query` calls (backquoted printf formats), with the printf
    verbs replaced by an empty string literal."""
    return [re.sub(r"%[qsdv]", '""', q) for q in re.findall(r"\bprintf\s+`([^`]*)`", text)]


KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "offset", "inf", "nan", "atan2"}


def metric_names(expr):
    """Names of the metrics a PromQL expression reads. Strings, label matchers, ranges and grouping
    clauses are removed first; what remains that is not a function call, keyword or number is a
    metric name. Grafana's variables ($instance, $__rate_interval) are expected to be expanded."""
    s = re.sub(r'"(\\.|[^"\\])*"', '""', expr)
    s = re.sub(r"'(\\.|[^'\\])*'", "''", s)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![0-9.a-zA-Z_:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", s):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in KEYWORDS:
            continue
        if re.fullmatch(r"[0-9.]+[eE][+-]?[0-9]+", word):
            continue
        names.add(word)
    return names


def names_in_sources():
    """Every string literal in src/ that looks like a metric name: what this project's programs can
    export. A name built at run time from pieces would be missed, which fails loudly rather than
    silently (the test then names it)."""
    found = set()
    for path in glob.glob(os.path.join(h.SOURCE_DIR, "src", "**", "*.*"), recursive=True):
        if not path.endswith((".cc", ".hh", ".h", ".cpp")):
            continue
        with open(path, errors="replace") as f:
            found.update(re.findall(r'"((?:nixos|nod|nixmon)_[a-z0-9_]+)"', f.read()))
    return found


def exported_by_us(name, known):
    """Whether `name` (possibly a histogram's _bucket/_sum/_count or a counter's _total) is one of
    the names in `known`."""
    if name in known:
        return True
    for suffix in ("_bucket", "_sum", "_count", "_total", "_created"):
        if name.endswith(suffix) and name[: -len(suffix)] in known:
            return True
    return False


def names_in_exposition(text):
    """Metric names in a Prometheus text exposition."""
    return {re.split(r"[{ ]", line, 1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def fixture_exposition(name):
    """A text exposition of an exporter that cannot run here (tests/fixtures/expositions/)."""
    with open(h.fixture("expositions", name)) as f:
        return f.read()


def node_exporter_scrape():
    """One scrape of Debian's real node_exporter on a free loopback port (default collectors)."""
    with h.TempDir() as tmp:
        port = h.free_port()
        with h.Process([h.tool("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{port}",
                        f"--collector.textfile.directory={tmp}"], tmp, port=port):
            return h.scrape(port)
