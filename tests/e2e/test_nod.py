"""End-to-end tests of `nod daemon` and `nod ingest` with streams captured at test time from the
real Nix on this machine (Debian's Nix 2.8: --log-format internal-json), replayed live and into
the daemon's socket over concurrent connections. Exact rows are asserted (times aside)."""
import contextlib
import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import threading
import time
import unittest
import uuid

from harness import Process, TempDir, binary, tool

NOD = None
BUILDS_NIX = r"""
{ nonce }:
let
  sh = name: script: derivation {
    inherit name; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" script ];
  };
in rec {
  a = sh "a-${nonce}" "echo building a; echo line2; echo hi > $out";
  b = sh "b-${nonce}" "echo b uses ${a}; echo x > $out";
  bad = sh "bad-${nonce}" "echo failing; exit 3";
  dep = sh "dep-${nonce}" "echo ${bad} > $out";
}
"""


def nod(*args, **kw):
    return subprocess.run([NOD, *map(str, args)], capture_output=True, text=True, timeout=120, **kw)


def query(sock_path, request):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(sock_path)
        s.sendall(b"NOD-QUERY 2\n" + json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


def status(sock_path):
    answer = query(sock_path, {"request": "status"})
    assert answer["ok"], answer
    return answer["result"]


def wait_for(predicate, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_settled(sock_path, timeout=60):
    """Until every writer connection is gone, nothing is in flight and all is committed."""
    def settled():
        s = status(sock_path)
        q = s["queue"]
        return (s["connections"]["active"] <= 1 and s["in_flight"] == 0 and q["depth"] == 0
                and s["writer"]["committed"] == q["enqueued"]) and s
    return wait_for(settled, timeout, "the daemon to settle")


def rows(db, nonce=None):
    """The recorded rows that do not depend on time, as sorted tuples per table."""
    con = sqlite3.connect(db)
    try:
        out = {
            "builds": con.execute(
                "SELECT name, machine, outcome, phases, log_lines, exit_code, drv_path FROM builds"
            ).fetchall(),
            "failures": con.execute(
                "SELECT kind, name, exit_code, machine, drv_path FROM failures").fetchall(),
            "substitutions": con.execute(
                "SELECT name, substituter, outcome, download_bytes, nar_bytes, store_path "
                "FROM substitutions").fetchall(),
            "cache_queries": con.execute(
                "SELECT store_path, cache, outcome, hit FROM cache_queries").fetchall(),
            "activities": con.execute(
                "SELECT type, text, fields, outcome FROM activities").fetchall(),
            "copies": con.execute("SELECT store_path FROM copies").fetchall(),
            "unknown_records": con.execute("SELECT reason FROM unknown_records").fetchall(),
        }
        for k in out:
            out[k] = sorted(out[k], key=repr)
        return out
    finally:
        con.close()


def aggregates_equal_recount(testcase, db):
    con = sqlite3.connect(db)
    try:
        stored = con.execute(
            "SELECT day, outcome, key, count, total_ms, max_ms, log_lines FROM daily_stats "
            "WHERE kind = 'build' ORDER BY 1, 2, 3").fetchall()
        recount = con.execute(
            "SELECT strftime('%Y-%m-%d', start_ms / 1000, 'unixepoch'), outcome, machine, "
            "count(*), sum(duration_ms), max(duration_ms), sum(log_lines) FROM builds "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3").fetchall()
        testcase.assertEqual(stored, recount)
        for kind, table in (("substitution", "substitutions"), ("activity", "activities"),
                            ("cache-query", "cache_queries"), ("failure", "failures")):
            n_agg = con.execute("SELECT coalesce(sum(count), 0) FROM daily_stats WHERE kind = ?",
                                (kind,)).fetchone()[0]
            n_rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            testcase.assertEqual(n_agg, n_rows, kind)
        testcase.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
    finally:
        con.close()


def records_of(path):
    """The records of a captured stderr, as json-log-path would send them (no prefix)."""
    with open(path, "rb") as f:
        return [l[5:] for l in f.read().splitlines(keepends=True) if l.startswith(b"@nix ")]


class NodWithRealNix(unittest.TestCase):
    maxDiff = None
    """Streams are made once per run, live through `nod ingest`, and kept for replays."""

    @classmethod
    def setUpClass(cls):
        global NOD
        NOD = binary("nod")
        cls.nix_build = tool("nix-build")
        cls.nix_store = tool("nix-store")
        cls.nix = tool("nix")
        cls._tmp = TempDir()
        cls.dir = cls._tmp.__enter__()
        cls.nonce = "nod" + uuid.uuid4().hex[:12]
        cls.expr = os.path.join(cls.dir, "builds.nix")
        with open(cls.expr, "w") as f:
            f.write(BUILDS_NIX)
        cls.live_db = os.path.join(cls.dir, "live.db")
        common = ["--argstr", "nonce", cls.nonce, "--no-out-link", "--log-format", "internal-json",
                  "-v", "--option", "substituters", "''"]
        cls.captures = {}
        # Live: Nix's stderr goes through `tee` (the capture, for replays) into `nod ingest`.
        cls.live("success", [cls.nix_build, cls.expr, "-A", "a", "-A", "b", *common])
        cls.live("failure", [cls.nix_build, cls.expr, "-A", "dep", *common])
        # Substitution from a local file:// binary cache: copy b's output there, delete it,
        # fetch it back.
        out = subprocess.run([cls.nix_build, cls.expr, "-A", "b", "--argstr", "nonce", cls.nonce,
                              "--no-out-link", "--option", "substituters", ""],
                             capture_output=True, text=True, check=True).stdout.strip()
        cls.b_out = out
        cls.cache = "file://" + os.path.join(cls.dir, "cache")
        subprocess.run([cls.nix, "--extra-experimental-features", "nix-command", "copy", "--to",
                        cls.cache, out], check=True, capture_output=True)
        subprocess.run([cls.nix_store, "--delete", out], check=True, capture_output=True)
        cls.live("substitution", [cls.nix_store, "-r", out, "--option", "substituters",
                                  cls.cache, "--option", "require-sigs", "false",
                                  "--log-format", "internal-json", "-v"])

    @classmethod
    def live(cls, name, argv):
        capture = os.path.join(cls.dir, f"{name}.log")
        cmd = " ".join(f"'{a}'" if a != "''" else a for a in argv)
        script = f"{cmd} 2>&1 >/dev/null | tee '{capture}' | '{NOD}' --db '{cls.live_db}' ingest -"
        r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"live ingest of {name} failed: {r.stderr}")
        cls.captures[name] = capture

    @classmethod
    def tearDownClass(cls):
        cls._tmp.__exit__(None, None, None)

    def drv(self, name):
        return [r[6] for r in rows(self.live_db)["builds"] if r[0] == f"{name}-{self.nonce}"][0]

    def test_live_ingest_records_the_exact_rows(self):
        r = rows(self.live_db)
        n = self.nonce
        builds = [b[:6] for b in r["builds"]]
        self.assertEqual(sorted(builds), sorted([
            (f"a-{n}", "local", "success", "", 2, None),
            (f"b-{n}", "local", "success", "", 1, None),
            (f"bad-{n}", "local", "failed", "", 1, 3),
        ]))
        for b in r["builds"]:
            self.assertTrue(b[6].startswith("/nix/store/") and b[6].endswith(f"-{b[0]}.drv"), b)
        self.assertEqual([f[:4] for f in r["failures"]], [
            ("builder", f"bad-{n}", 3, ""),
            ("dependency", f"dep-{n}", None, ""),
        ])
        self.assertEqual(r["substitutions"], [
            (f"b-{n}", self.cache, "success", None, None, self.b_out)])
        self.assertEqual(r["cache_queries"], [(self.b_out, self.cache, "success", 1)])
        self.assertEqual(r["copies"], [])
        self.assertEqual(r["unknown_records"], [])
        # realise, builds, copyPaths and the "querying info" activities of three runs.
        types = sorted(a[0] for a in r["activities"])
        self.assertEqual(types.count(102), 3)
        self.assertEqual(types.count(104), 3)
        self.assertEqual(types.count(103), 3)
        aggregates_equal_recount(self, self.live_db)
        con = sqlite3.connect(self.live_db)
        self.assertEqual(con.execute("PRAGMA journal_mode").fetchone()[0], "wal")
        self.assertEqual(con.execute("PRAGMA user_version").fetchone()[0], 4)
        start, end, duration = con.execute(
            "SELECT start_ms, end_ms, duration_ms FROM builds WHERE name = ?",
            (f"a-{n}",)).fetchone()
        con.close()
        self.assertLessEqual(start, end)
        # The duration is the span's (monotonic clock, ms): wall and monotonic stamps are taken
        # together, so they differ only by truncation to ms (and slewing, far below a ms here).
        # Not `>= 0`: nod clamps durations at 0, so that could not fail.
        self.assertLessEqual(abs((end - start) - duration), 2, (start, end, duration))
        self.assertLess(abs(start / 1000 - time.time()), 600)  # stamped on arrival, now

    def test_replaying_a_capture_gives_the_same_rows_as_live(self):
        db = os.path.join(self.dir, "replay.db")
        for name in ("success", "failure", "substitution"):
            r = nod("--db", db, "ingest", self.captures[name])
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(rows(db), rows(self.live_db))
        aggregates_equal_recount(self, db)

    @contextlib.contextmanager
    def daemon(self, d):
        """A daemon writing d/nod.db, running for the block; yields its socket."""
        sock = os.path.join(d, "nod.sock")
        with Process([NOD, "daemon", "--socket", sock, "--db", os.path.join(d, "nod.db")], d,
                     name="nod"):
            wait_for(lambda: os.path.exists(sock) and stat.S_ISSOCK(os.stat(sock).st_mode),
                     what="the socket")
            yield sock

    def writers_accepted(self, sock, n):
        """Until the daemon has accepted n writer connections (not merely queued them)."""
        wait_for(lambda: (lambda c: c["total"] - c["queries"] >= n)(status(sock)["connections"]),
                 60, f"{n} writers to be accepted")

    def relayed_twice_by_two_processes(self, order):
        """Each capture as a nix-daemon worker and its `nix` client send it to json-log-path: the
        worker's records carry its own pid in their ids' high half, the client relays the same
        ids (prefixed "@nix ", as --log-format internal-json writes them). Every sender is a
        process of its own, so the daemon sees each one's pid."""
        with TempDir() as d:
            with self.daemon(d) as sock:
                self.assertEqual(stat.S_IMODE(os.stat(sock).st_mode), 0o666)
                names = ("success", "failure", "substitution")
                workers = [Sender(sock, self.captures[n], high_half="self", name=f"worker-{n}")
                           for n in names]
                self.writers_accepted(sock, len(workers))
                clients = [Sender(sock, self.captures[n], high_half=w.pid, prefix=b"@nix ",
                                  name=f"client-{n}") for n, w in zip(names, workers)]
                self.writers_accepted(sock, len(workers) + len(clients))
                # One capture after the other, as they were made live: the substitution's cache
                # query would otherwise be answered by the success capture's build of the same
                # name. The worker and its client are what run at the same time.
                read = 0
                for w, c in zip(workers, clients):
                    if order == "client first":
                        # The client's copies are handled before the worker's own first line.
                        c.send()
                        c.sent()
                        wait_for(lambda: status(sock)["records"] >= read + c.records, 60,
                                 "the client's copies")
                        w.send()
                    else:
                        w.send()
                        c.send()
                        c.sent()
                    w.sent()
                    # Nobody hangs up before every record was read: a copy read after its writer
                    # has gone is taken for the relaying connection's own (docs/nod-schema.md).
                    read += w.records + c.records
                    wait_for(lambda: status(sock)["records"] >= read, 60, "every record")
                for s in workers + clients:
                    s.hang_up()
                st = wait_settled(sock)
                self.assertGreater(st["duplicates"], 0)
                self.assertEqual(st["interrupted"], 0)
                self.assertEqual(st["queue"]["dropped"], 0)
                self.assertEqual(sum(st["malformed"].values()), 0)
                self.assertEqual(st["connections"]["total"], 6 + st["connections"]["queries"])
            self.assertEqual(rows(os.path.join(d, "nod.db")), rows(self.live_db))
            aggregates_equal_recount(self, os.path.join(d, "nod.db"))

    def test_a_worker_and_its_client_sending_together_give_the_same_rows(self):
        self.relayed_twice_by_two_processes("together")

    def test_a_client_relaying_before_its_workers_first_line_is_handled_gives_the_same_rows(self):
        # The worker was accepted first (Nix connects when it creates its JSON logger), but the
        # client's copy is read first: the worker's id space must be known from its accept on.
        self.relayed_twice_by_two_processes("client first")

    def reference_rows(self, d, name, times=1):
        """The rows of the capture `name` ingested alone, each `times` times."""
        ref = os.path.join(d, "ref.db")
        r = nod("--db", ref, "--socket", os.path.join(d, "none.sock"), "ingest",
                self.captures[name])
        self.assertEqual(r.returncode, 0, r.stderr)
        return {k: sorted(v * times, key=repr) for k, v in rows(ref).items()}

    def test_two_relays_of_the_same_remote_ids_are_two_sets_of_activities(self):
        # Two `--store ssh-ng://` clients relaying remote daemons that had the same pid there
        # (the capture's Nix, no writer here): the same ids, two different activities each.
        with TempDir() as d:
            with self.daemon(d) as sock:
                relays = [Sender(sock, self.captures["success"], name=f"relay-{i}")
                          for i in range(2)]
                self.writers_accepted(sock, 2)
                for r in relays:
                    r.send()
                for r in relays:
                    r.sent()
                    r.hang_up()
                st = wait_settled(sock)
                self.assertEqual(st["duplicates"], 0)
                self.assertEqual(st["interrupted"], 0)
            self.assertEqual(rows(os.path.join(d, "nod.db")), self.reference_rows(d, "success", times=2))

    def test_a_gone_writers_ids_relayed_after_it_hung_up_count_once(self):
        # A worker sends its activities and hangs up; its client's copies of them, carrying the
        # worker's pid, are read only afterwards (another connection, another thread): for a
        # grace period they are still the worker's, so they count once. (That a pid's ids are a
        # new process's after the grace period is a unit test: it needs the clock.)
        with TempDir() as d:
            with self.daemon(d) as sock:
                worker = Sender(sock, self.captures["success"], high_half="self", name="worker")
                worker.send()
                worker.sent()
                worker.hang_up()
                self.writers_accepted(sock, 1)
                wait_settled(sock)
                client = Sender(sock, self.captures["success"], high_half=worker.pid,
                                name="client")
                client.send()
                client.sent()
                client.hang_up()
                self.writers_accepted(sock, 2)
                st = wait_settled(sock)
                self.assertGreater(st["duplicates"], 0)
            self.assertEqual(rows(os.path.join(d, "nod.db")), self.reference_rows(d, "success"))


# A json-log-path writer in a process of its own (the daemon keys activities by the peer's pid):
# connects, says so, sends the capture's records (ids' high half rewritten when asked) one write
# each, as Nix does, when told to on stdin, then waits for stdin to close before hanging up.
SENDER = r"""
import os, re, socket, sys
sock, capture, high, prefix = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].encode()
high = os.getpid() if high == "self" else int(high)
def rewrite(m):
    value = int(m.group(2))
    if high < 0 or value == 0:  # parent 0: no parent
        return m.group(0)
    return m.group(1) + str((high << 32) | (value & 0xffffffff)).encode()
with open(capture, "rb") as f:
    records = [prefix + re.sub(rb'("(?:id|parent)":)(\d+)', rewrite, l[5:])
               for l in f.read().splitlines(keepends=True) if l.startswith(b"@nix ")]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
print(len(records), flush=True)
sys.stdin.readline()
for r in records:
    s.sendall(r)
print("sent", flush=True)
sys.stdin.read()
s.close()
"""


class Sender:
    """One SENDER process. high_half: None (ids as captured), "self" (its own pid), or a pid."""

    def __init__(self, sock, capture, high_half=None, prefix=b"", name="sender"):
        high = -1 if high_half is None else high_half
        self.name = name
        self.proc = subprocess.Popen(
            ["python3", "-c", SENDER, sock, capture, str(high), prefix.decode()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pid = self.proc.pid
        self.records = int(self.proc.stdout.readline())  # connected

    def send(self):
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def sent(self):
        if self.proc.stdout.readline() != b"sent\n":
            raise AssertionError(f"{self.name} did not send its records")

    def hang_up(self):
        self.proc.stdin.close()
        if self.proc.wait(60) != 0:
            raise AssertionError(f"{self.name} failed")
        self.proc.stdout.close()


def synthetic_builds(start_id, count, log_lines=3):
    """Records of `count` complete builds (start, log lines, stop), as json-log-path sends."""
    out = []
    for i in range(start_id, start_id + count):
        drv = f"/nix/store/{i:032d}-synthetic-{i}.drv"
        out.append(json.dumps({"action": "start", "fields": [drv, "", 1, 1], "id": i, "level": 3,
                               "text": f"building '{drv}'", "type": 105}).encode() + b"\n")
        for k in range(log_lines):
            out.append(json.dumps({"action": "result", "fields": [f"line {k}"], "id": i,
                                   "type": 101}).encode() + b"\n")
        out.append(json.dumps({"action": "stop", "id": i}).encode() + b"\n")
    return out


class NodDaemonRobustness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        global NOD
        NOD = binary("nod")

    def start(self, d, *extra, sock=None):
        sock = sock or os.path.join(d, "nod.sock")
        p = Process([NOD, "daemon", "--socket", sock, "--db", os.path.join(d, "nod.db"), *extra],
                    d, name="nod")
        p.start()
        def up():
            try:  # a dead socket of a killed daemon may still be there for a moment
                return stat.S_ISSOCK(os.lstat(sock).st_mode) and status(sock)
            except OSError:
                return False

        try:
            wait_for(up, what="the daemon")
        except Exception:
            p.stop()
            raise AssertionError(p.log())
        return p, sock

    def test_kill_9_in_the_middle_loses_nothing_committed(self):
        with TempDir() as d:
            db = os.path.join(d, "nod.db")
            p, sock = self.start(d)
            data = b"".join(synthetic_builds(1, 150000))
            stop = threading.Event()

            def send():
                try:
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                        s.connect(sock)
                        for off in range(0, len(data), 65536):
                            if stop.is_set():
                                return
                            s.sendall(data[off:off + 65536])
                            time.sleep(0.01)  # slow enough to be killed half-way
                except OSError:
                    pass  # the daemon was killed under us: expected

            t = threading.Thread(target=send)
            t.start()
            committed = wait_for(lambda: (lambda c: c if c >= 20000 else 0)(
                status(sock)["writer"]["committed"]), 120, "commits")
            p.proc.send_signal(signal.SIGKILL)
            p.stop()
            stop.set()
            t.join()
            con = sqlite3.connect(db)
            n = con.execute("SELECT count(*) FROM builds").fetchone()[0]
            con.close()
            self.assertGreaterEqual(n, committed)  # every commit it reported is there
            self.assertLess(n, 150000)  # and it really was killed mid-stream
            aggregates_equal_recount(self, db)
            # It starts again on the same database (and the dead socket) and goes on.
            p2, sock = self.start(d)
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(sock)
                    s.sendall(b"".join(synthetic_builds(10_000_000, 10)))
                wait_settled(sock)
            finally:
                p2.stop()
            con = sqlite3.connect(db)
            self.assertEqual(con.execute(
                "SELECT count(*) FROM builds WHERE activity_id >= 10000000").fetchone()[0], 10)
            con.close()
            aggregates_equal_recount(self, db)

    def test_stale_file_garbage_huge_line_and_bad_utf8_are_counted(self):
        with TempDir() as d:
            sock = os.path.join(d, "nod.sock")
            # What Nix leaves when it found no socket: a regular file of appended records.
            with open(sock, "wb") as f:
                f.write(b''.join(synthetic_builds(1, 2)))
            p, sock = self.start(d, sock=sock)
            try:
                self.assertTrue(stat.S_ISSOCK(os.lstat(sock).st_mode))
                self.assertEqual(status(sock)["stale_files_replaced"], 1)
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(sock)
                    s.sendall(os.urandom(4096).replace(b"\n", b"x") + b"\n")  # garbage
                    s.sendall(b'{"action":"result","fields":["' + b"x" * (10 * 1024 * 1024)
                              + b'"],"id":1,"type":101}\n')  # a 10 MB line
                    s.sendall(b'{"action":"start","fields":["/nix/store/'
                              + b"u" * 32 + b'-utf8.drv","",1,1],"id":5,"level":3,'
                              b'"text":"bad \xff\xfe bytes","type":105}\n')
                    s.sendall(b'{"action":"stop","id":5}\n')
                    s.sendall(b"".join(synthetic_builds(100, 3)))
                # A client that only sends garbage, without a newline, and hangs up.
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(sock)
                    s.sendall(b"\x00\x01garbage")
                # "Settled" alone can be seen before the daemon has accepted that last client (it
                # may still be in the listen backlog): wait for its line to be counted first.
                wait_for(lambda: status(sock)["malformed"]["not-json"] >= 2, 60,
                         "the hung-up client's garbage to be counted")
                st = wait_settled(sock)
                self.assertTrue(p.alive())
                self.assertEqual(st["malformed"]["not-json"], 2)
                self.assertEqual(st["malformed"]["line-too-long"], 1)
                self.assertEqual(st["utf8_repaired"], 1)
                self.assertEqual(st["orphans"], 0)
            finally:
                p.stop()
            con = sqlite3.connect(os.path.join(d, "nod.db"))
            names = sorted(r[0] for r in con.execute("SELECT name FROM builds"))
            con.close()
            self.assertEqual(names, ["synthetic-100", "synthetic-101", "synthetic-102", "utf8"])

    def test_query_protocol_errors_and_status_command(self):
        with TempDir() as d:
            p, sock = self.start(d)
            try:
                bad = query(sock, {"request": "no-such-thing"})
                self.assertFalse(bad["ok"])
                self.assertIn("unknown request 'no-such-thing'", bad["error"])
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(sock)
                    s.sendall(b"NOD-QUERY 99\n")
                    answer = json.loads(s.makefile().readline())
                self.assertFalse(answer["ok"])
                self.assertIn("NOD-QUERY 2", answer["error"])
                # A CLI of the protocol before the daemon answered with data (it expected
                # rendered text): one clear error line naming both versions and the way out.
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(sock)
                    s.sendall(b'NOD-QUERY 1\n{"request":"query","command":"summary","output":"table"}\n')
                    f = s.makefile()
                    answer = json.loads(f.readline())
                    self.assertEqual(f.readline(), "")  # and the connection is closed
                self.assertFalse(answer["ok"])
                self.assertIn("unsupported query protocol '1'", answer["error"])
                self.assertIn("this daemon speaks NOD-QUERY 2", answer["error"])
                self.assertIn("different versions", answer["error"])
                # A replay of a newer `nod ingest`: neither taken as records nor kept open.
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(30)
                    s.connect(sock)
                    s.sendall(b"NOD-REPLAY 2\n" + synthetic_builds(1, 1)[0])
                    self.assertEqual(s.recv(100), b"")
                st = status(sock)
                self.assertEqual(st["records"], 0)
                self.assertEqual(sum(st["malformed"].values()), 0)
                r = nod("status", env={**os.environ, "NOD_SOCKET": sock})
                self.assertEqual(r.returncode, 0, r.stderr)
                st = json.loads(r.stdout)["result"]
                self.assertEqual(st["schema_version"], 4)
                self.assertEqual(st["queue"]["capacity"], 65536)
                # A second daemon on the same socket refuses, and the first keeps it.
                r = nod("daemon", "--socket", sock, "--db", os.path.join(d, "other.db"))
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("another process is listening", r.stderr)
                self.assertTrue(status(sock))
            finally:
                p.stop()
            self.assertEqual(p.returncode, 0)
            self.assertFalse(os.path.exists(sock))  # removed at a clean shutdown

    def test_newer_schema_is_refused_with_a_clear_message(self):
        with TempDir() as d:
            db = os.path.join(d, "nod.db")
            con = sqlite3.connect(db)
            con.execute("PRAGMA user_version = 7")
            con.execute("CREATE TABLE builds (x)")
            con.close()
            r = nod("daemon", "--socket", os.path.join(d, "s"), "--db", db)
            self.assertEqual(r.returncode, 1)
            self.assertIn("schema version 7, newer than this nod understands (4)", r.stderr)
            r = nod("--db", db, "ingest", "/dev/null")
            self.assertEqual(r.returncode, 1)
            self.assertIn("newer than this nod", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(d, "s")))

    def test_full_queue_drops_and_counts_instead_of_blocking(self):
        with TempDir() as d:
            db = os.path.join(d, "nod.db")
            p, sock = self.start(d, "--queue-size", "1")
            try:
                # Hold SQLite's write lock: the writer cannot commit, the queue (1) fills.
                con = sqlite3.connect(db, timeout=0, isolation_level=None)
                con.execute("BEGIN IMMEDIATE")
                t0 = time.monotonic()
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(sock)
                    s.sendall(b"".join(synthetic_builds(1, 2000)))
                wait_for(lambda: status(sock)["records"] == 2000 * 5, 60, "all records read")
                st = status(sock)
                self.assertGreater(st["queue"]["dropped"], 0)
                con.execute("ROLLBACK")
                con.close()
                st = wait_settled(sock)
                self.assertEqual(st["writer"]["committed"] + st["queue"]["dropped"], 2000)
            finally:
                p.stop()
            self.assertIn("queue full: dropped", p.log())


class DocumentedFlags(unittest.TestCase):
    """docs/nod.md, nod's reference, names every flag that nod and its subcommands show in --help."""

    def test_every_flag_of_help_is_documented(self):
        import harness
        import re
        with open(os.path.join(harness.SOURCE_DIR, "docs", "nod.md")) as f:
            doc = f.read()
        top = subprocess.run([binary("nod"), "--help"], capture_output=True, text=True, timeout=30,
                             check=True).stdout
        subcommands = harness.help_subcommands(top)
        self.assertIn("daemon", subcommands)
        missing = []
        for sub in [None] + subcommands:
            args = [binary("nod")] + ([sub] if sub else []) + ["--help"]
            text = subprocess.run(args, capture_output=True, text=True, timeout=30, check=True).stdout
            if sub:
                self.assertRegex(doc, rf"`nod {sub}\b", f"nod {sub} is not documented in docs/nod.md")
            shown = harness.help_flags(text)
            for flag in shown - {"--help"}:
                if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w.-])", doc):
                    missing.append(f"{sub or 'nod'} {flag}")
        self.assertEqual(sorted(set(missing)), [], "flags of --help not in docs/nod.md")


if __name__ == "__main__":
    unittest.main()
