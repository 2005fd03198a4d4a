"""What every end-to-end test needs: free loopback ports, temporary directories, real processes
started and always stopped, scrapes, golden files with an accept switch (NIXMON_ACCEPT=1).

Standard library only, so a clean Debian 12 machine needs nothing but python3.
"""
import contextlib
import difflib
import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

SOURCE_DIR = os.environ.get("NIXMON_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("NIXMON_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
ACCEPT = os.environ.get("NIXMON_ACCEPT") == "1"


def binary(name):
    """Path of a built program of ours."""
    for sub in ("src/exporter", "src/store-report", "src/nod", "src/nixmon", "src"):
        p = os.path.join(BUILD_DIR, sub, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{name} is not built under {BUILD_DIR}")


# The Nix let-binding every test store expression starts with: `mk NAME SCRIPT` is a derivation
# built by /bin/sh running SCRIPT (no nixpkgs: real Nix 2.8 builds it in a chroot store).
# `salt` makes every store path of one test's store its own. Nix's collector counts as a root any
# /nix/store/<hash>-… it finds in another process's environment, command line, maps or open files
# (LocalStore::findRuntimeRoots, NixOS/nix 2.8.0 src/libstore/gc.cc lines 348-431), whatever store
# that process works on: a test building the same derivation at the same time, as ctest -j does,
# would otherwise keep this test's paths alive behind its back.
NIX_MK = r"""  mk = name: script: derivation {
    inherit name;
    salt = builtins.getEnv "NIXMON_TEST_STORE_SALT";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
  };
"""


def collector_samples(port, collector):
    """One scrape's samples of a collector: its nixos_<collector>_* series and its success."""
    return {k: v for k, v in samples(scrape(port)).items()
            if k.startswith(f"nixos_{collector}_")
            or k.startswith(f'nixos_exporter_collector_success{{collector="{collector}"')}


def labels_of(sample_map, metric):
    """The labels of the first sample of `metric` as a dict, None when there is none."""
    for k in sample_map:
        if k.startswith(metric + "{"):
            return dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', k))
    return None


def wait_for_collector(predicate, port, collector, timeout=30.0, what="condition"):
    """Scrapes until predicate(collector_samples) holds; returns those samples."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = collector_samples(port, collector)
        if predicate(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last scrape:\n" +
                         "\n".join(f"{k} {v}" for k, v in sorted((last or {}).items())))


def help_flags(text):
    """The long flags of a CLI11 --help text's option column, in both layouts: CLI11 2.1's
    (Debian: "  -d,--days TEXT", "  --when-full TEXT:{auto,drop,wait}=auto") and 2.7's (nixpkgs:
    "  -h,     --help", "          --collector.x, --no-collector.x{false}"). Descriptions are
    indented deeper and never read, so flags they mention do not count."""
    flags = set()
    for line in text.splitlines():
        m = re.match(r" {2,10}(-.*)$", line)
        rest = m.group(1) if m else ""
        while (t := re.match(r"(-{1,2}[A-Za-z][\w.-]*)(\{[^}]*\})?,?\s*", rest)):
            if t.group(1).startswith("--"):
                flags.add(t.group(1))
            rest = rest[t.end():]
    return flags


def help_subcommands(text):
    """The subcommand names of a CLI11 --help text ("Subcommands:" in 2.1, "SUBCOMMANDS:" in 2.7)."""
    parts = re.split(r"^subcommands:$", text, flags=re.M | re.I)
    return re.findall(r"^  ([a-z][a-z-]*) {2,}", parts[1], re.M) if len(parts) > 1 else []


def fixture(*parts):
    return os.path.join(SOURCE_DIR, "tests", "fixtures", *parts)


def free_port():
    """A port the kernel says is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc=None, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Process:
    """A child process that is stopped (SIGTERM, then SIGKILL) when the block ends, whatever
    happened. Its stderr and stdout go to a log file in `workdir`, shown when a test fails."""

    def __init__(self, argv, workdir, name=None, env=None, port=None, preexec_fn=None):
        self.argv = [str(a) for a in argv]
        self.name = name or os.path.basename(self.argv[0])
        self.log_path = os.path.join(workdir, f"{self.name}-{time.monotonic_ns()}.log")
        self.env = env
        self.port = port
        self.preexec_fn = preexec_fn
        self.proc = None
        self.returncode = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self._log = open(self.log_path, "wb")
        env = dict(os.environ)
        env.update(self.env or {})
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL, preexec_fn=self.preexec_fn)
        if self.port:
            try:
                wait_for_port(self.port, self.proc)
            except Exception:
                self.stop()
                raise RuntimeError(f"{self.name} did not start:\n{self.log()}")
        return self

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        self.proc = None
        self._log.close()
        return self.returncode

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class SharedStackTestCase(unittest.TestCase):
    """A test class whose tests share what `_start()` starts once (processes, temp dirs), entered
    into `cls.stack` and stopped after the last test, or at once if starting failed half-way."""

    @classmethod
    def setUpClass(cls):
        cls.stack = contextlib.ExitStack()
        try:
            cls._start()
        except BaseException:
            cls.stack.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="nixmon-e2e-")
        return self.path

    def __exit__(self, *exc):
        for dirpath, dirnames, _ in os.walk(self.path):
            for d in dirnames:
                p = os.path.join(dirpath, d)
                if not os.path.islink(p):
                    os.chmod(p, 0o755)
        shutil.rmtree(self.path, ignore_errors=True)


def http_get(url, headers=None, timeout=10):
    """(status, headers, body bytes); never raises for HTTP error statuses."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def scrape(port, path="/metrics"):
    status, headers, body = http_get(f"http://127.0.0.1:{port}{path}")
    if status != 200:
        raise AssertionError(f"scrape answered {status}: {body[:500]!r}")
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return body.decode()


def samples(text):
    """{'name{labels}': value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        out[key] = float(value)
    return out


def mask(text, patterns, whole=()):
    """Replaces the value of each series matching one of `patterns` with <volatile>; for those
    matching `whole`, the labels too (build revisions, versions)."""
    out = []
    rx = [re.compile(p) for p in patterns]
    rx_whole = [re.compile(p) for p in whole]
    for line in text.splitlines():
        if line and not line.startswith("#"):
            if any(r.match(line) for r in rx_whole):
                line = re.split(r"[{ ]", line, 1)[0] + "{<volatile>} <volatile>"
            elif any(r.match(line) for r in rx):
                line = line.rsplit(" ", 1)[0] + " <volatile>"
        out.append(line)
    return "\n".join(out) + "\n"


# Golden files this process rewrote under NIXMON_ACCEPT=1; run.py exits with SKIPPED_EXIT when
# there are any, so that ctest reports the test skipped rather than passed.
ACCEPTED = []
SKIPPED_EXIT = 77  # SKIP_RETURN_CODE of every e2e test (tests/CMakeLists.txt)


def golden_diff(expected, actual, relative):
    """A unified diff from the golden text to the actual one, as `diff -u` prints it."""
    lines = difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                 f"a/{relative}", f"b/{relative}")
    return "".join(l if l.endswith("\n") else l + "\n\\ No newline at end of file\n" for l in lines)


def check_golden(testcase, relative, actual):
    """Compares `actual` with the golden file `relative` (from the source dir); a mismatch fails
    with a unified diff. With NIXMON_ACCEPT=1 a differing or missing file is rewritten, the diff
    printed, and the test reported skipped once it has run to its end (its other assertions still
    count): it compared nothing. An equal file passes as usual."""
    path = os.path.join(SOURCE_DIR, relative)
    expected = None
    if os.path.exists(path):
        with open(path) as f:
            expected = f.read()
    if expected == actual:
        return
    diff = golden_diff(expected or "", actual, relative)
    if ACCEPT:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(actual)
        what = "rewrote" if expected is not None else "created"
        print(f"NIXMON_ACCEPT=1 {what} {relative}; review the change before committing it:\n{diff}",
              flush=True)
        ACCEPTED.append(relative)
        testcase.addCleanup(testcase.skipTest, f"NIXMON_ACCEPT=1 {what} {relative}")
        return
    if expected is None:
        testcase.fail(f"golden file {relative} is missing; run with NIXMON_ACCEPT=1 to create it")
    testcase.fail(f"differs from {relative} (NIXMON_ACCEPT=1 rewrites it; review the diff):\n{diff}")


def copy_root(name, dest):
    """Copies a fixture root (symlinks kept) and pins every link's mtime."""
    shutil.copytree(fixture("roots", name), dest, symlinks=True)
    for dirpath, dirnames, filenames in os.walk(dest):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if os.path.islink(p):
                os.utime(p, (1700000000, 1700000000), follow_symlinks=False)
    return dest


def tool(name):
    """Path of a Debian-packaged tool the tests use, or a clear failure."""
    p = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
    if not p:
        raise FileNotFoundError(f"{name} is not installed: run scripts/setup.sh")
    return p


# Names the archived Go exporter used that promtool's linter dislikes; kept for drop-in compatibility
# (users' rules and dashboards query them).
GO_EXPORTER_NAMES = ("nixos_generation_count",)


def promtool_check_metrics(text, allowed=GO_EXPORTER_NAMES):
    """Runs the real `promtool check metrics`; returns its problems, less the lint notes about the
    Go nixos-exporter's names (which must not be renamed). A parse error is never excused."""
    r = subprocess.run([tool("promtool"), "check", "metrics"], input=text, capture_output=True, text=True)
    problems = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
    if r.returncode not in (0, 3):  # 3: lint problems only; anything else: it could not parse
        return problems or [f"promtool exited {r.returncode}"]
    return [l for l in problems if not any(l.startswith(n + " ") for n in allowed)]
