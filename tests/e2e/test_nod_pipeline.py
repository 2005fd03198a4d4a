"""End-to-end tests of nod's pipeline around the tracker: which stderr lines are records (real
Nix 2.8 under IN_SYSTEMD=1), `nod ingest` through a running daemon, writers that are never
closed (refused by --writers, over --max-connections), startup that leaves nothing behind, the
read-only fallback as a user who cannot write the database's directory, and exit statuses."""
import json
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import time
import unittest
import uuid

import harness as h
import test_nod as tn
from test_nod import status, synthetic_builds, wait_for, wait_settled

FIXTURE = h.fixture("nix-logs", "build-success.log")  # real Nix 2.8 stderr, two builds


def nod(*args, env=None, **kw):
    e = dict(os.environ)
    e.pop("NOD_SOCKET", None)
    e.pop("NOD_DB", None)
    e.update(env or {})
    return subprocess.run([h.binary("nod"), *map(str, args)], capture_output=True, text=True,
                          timeout=120, env=e, **kw)


def build_names(db):
    con = sqlite3.connect(db)
    try:
        return sorted(r[0] for r in con.execute("SELECT name FROM builds"))
    finally:
        con.close()


class Daemon(h.Process):
    """A nod daemon on d/nod.sock that answers a status query when the block starts."""

    def __init__(self, d, *extra, db=None):
        self.sock = os.path.join(d, "nod.sock")
        self.db = db or os.path.join(d, "nod.db")
        super().__init__([h.binary("nod"), "daemon", "--socket", self.sock, "--db", self.db,
                          *extra], d, name="nod")

    def start(self):
        super().start()

        def up():
            try:
                return os.path.exists(self.sock) and status(self.sock)
            except OSError:
                return False
        try:
            wait_for(up, 60, "the daemon")
        except Exception:
            self.stop()
            raise AssertionError(self.log())
        return self


def still_open(s, seconds=0.5):
    """True when the peer has not closed `s` (nothing to read, no EOF) within `seconds`."""
    s.settimeout(seconds)
    try:
        return s.recv(1) != b""
    except socket.timeout:
        return True
    except OSError:
        return False


class NodUsage(unittest.TestCase):
    def test_every_usage_error_exits_2(self):
        with h.TempDir() as d:
            db = os.path.join(d, "nod.db")
            for argv in (["--frobnicate"], ["daemon", "--queue-size", "0"],
                         ["daemon", "--max-line-bytes", "10"], ["daemon", "--no-such-flag"],
                         ["ingest", "a", "b"], ["ingest", "--when-full", "never"],
                         ["status", "extra"], ["-d", "0"], ["--output", "xml"],
                         ["--limit", "5"], ["--sort", "count"], ["clean", "--bogus"],
                         ["regressions", "--alpha", "x"], ["rebuild", "--what"]):
                r = nod("--db", db, "--socket", os.path.join(d, "none.sock"), *argv)
                self.assertEqual(r.returncode, 2, f"{argv}: {r.stderr}")
                self.assertNotEqual(r.stderr.strip(), "", argv)
            self.assertEqual(nod("--help").returncode, 0)
            self.assertEqual(nod("ingest", "--help").returncode, 0)
            self.assertEqual(nod("--version").returncode, 0)
            self.assertFalse(os.path.exists(db))


class NodIngest(unittest.TestCase):
    def test_input_without_a_record_is_an_error_and_leaves_no_database(self):
        with h.TempDir() as d:
            db = os.path.join(d, "nod.db")
            plain = os.path.join(d, "plain.log")
            with open(plain, "w") as f:
                f.write("these derivations will be built:\n  /nix/store/x-a.drv\nbuilding...\n")
            for source in (plain, "/dev/null"):
                r = nod("--db", db, "--socket", os.path.join(d, "none.sock"), "ingest", source)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("no Nix log record in", r.stderr)
                self.assertIn("--log-format internal-json", r.stderr)
                self.assertFalse(os.path.exists(db))
            r = nod("--db", db, "--socket", os.path.join(d, "none.sock"), "ingest", "-",
                    input="just text\n")
            self.assertEqual(r.returncode, 1)
            self.assertIn("no Nix log record in standard input (1 other lines)", r.stderr)

    def test_lix_streams_are_recorded(self):
        # Streams shaped after Lix 2.95's source (the fixtures' headers cite the lines): "<3>@nix"
        # under IN_SYSTEMD=1, the build's stop before the counters that end it.
        fixtures = os.path.join(h.SOURCE_DIR, "tests", "fixtures", "nix-logs", "from-source")
        with h.TempDir() as d:
            db = os.path.join(d, "nod.db")
            for name in ("lix-2.95-build-success-systemd.log", "lix-2.95-build-failure.log"):
                r = nod("--db", db, "--socket", os.path.join(d, "none.sock"), "ingest",
                        os.path.join(fixtures, name))
                self.assertEqual(r.returncode, 0, r.stderr)
            con = sqlite3.connect(db)
            rows = con.execute("SELECT name, outcome, failure_kind, exit_code, phases FROM builds "
                               "ORDER BY name").fetchall()
            con.close()
            self.assertEqual(rows, [
                ("bad", "failed", "builder", 1, "buildPhase"),
                ("hello-2.12", "success", None, None,
                 "unpackPhase,configurePhase,buildPhase,installPhase"),
            ])

    def test_real_nix_under_systemd_prefixes_records_with_a_priority_and_they_count(self):
        # Nix 2.8 (like Lix, and Nix before 2.28) writes its JSON records through the plain
        # logger, which puts the syslog priority "<3>" in front when IN_SYSTEMD=1.
        with h.TempDir() as d:
            nonce = "sd" + uuid.uuid4().hex[:12]
            expr = os.path.join(d, "builds.nix")
            with open(expr, "w") as f:
                f.write(tn.BUILDS_NIX)
            capture = os.path.join(d, "systemd.log")
            with open(capture, "wb") as f:
                subprocess.run([h.tool("nix-build"), expr, "-A", "a", "--argstr", "nonce", nonce,
                                "--no-out-link", "--log-format", "internal-json", "-v",
                                "--option", "substituters", ""],
                               stdout=subprocess.DEVNULL, stderr=f, check=True, timeout=300,
                               env={**os.environ, "IN_SYSTEMD": "1"})
            with open(capture, "rb") as f:
                lines = f.read().splitlines()
            self.assertTrue(lines and all(not l.startswith(b"@nix ") for l in lines))
            self.assertGreater(sum(l.startswith(b"<3>@nix {") for l in lines), 5)
            db = os.path.join(d, "nod.db")
            r = nod("--db", db, "--socket", os.path.join(d, "none.sock"), "ingest", capture)
            self.assertEqual(r.returncode, 0, r.stderr)
            con = sqlite3.connect(db)
            self.assertEqual(con.execute("SELECT name, outcome, log_lines FROM builds").fetchall(),
                             [(f"a-{nonce}", "success", 2)])
            con.close()

    def test_through_a_running_daemon_which_counts_exports_and_writes_them(self):
        with h.TempDir() as d:
            port = h.free_port()
            with Daemon(d, "--metrics.listen", f"127.0.0.1:{port}") as p:
                env = {"NOD_SOCKET": p.sock, "NOD_DB": p.db}
                r = nod("ingest", FIXTURE, env=env)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(f"sending the records to the daemon on {p.sock}", r.stderr)
                st = wait_settled(p.sock)
                records = st["records"]
                self.assertGreater(records, 10)
                self.assertEqual(sum(st["malformed"].values()), 0)  # plain lines stayed home
                self.assertEqual(st["writer"]["committed"], st["queue"]["enqueued"])
                text = h.scrape(port)
                self.assertIn('nod_builds_total{machine="local",outcome="success"} 2', text)
                # Without --db / NOD_DB the records still go where the daemon writes.
                elsewhere = os.path.join(d, "elsewhere")
                os.mkdir(elsewhere)
                with open(FIXTURE) as f:
                    r = nod("--socket", p.sock, "ingest", "-", input=f.read(), cwd=elsewhere)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("sending the records to the daemon", r.stderr)
                self.assertEqual(os.listdir(elsewhere), [])  # no ./nod.db beside the daemon's
                # The same activities again: the daemon's de-duplication sees them. `nod ingest`
                # returns once it sent them, maybe before the daemon read them all: wait for that.
                wait_for(lambda: status(p.sock)["records"] == 2 * records, 60,
                         "the second ingest's records to be read")
                st = wait_settled(p.sock)
                self.assertGreater(st["duplicates"], 0)
                self.assertEqual(st["records"], 2 * records)
                # Another database named on purpose: written here, not by the daemon.
                other = os.path.join(d, "other.db")
                r = nod("--socket", p.sock, "--db", other, "ingest", FIXTURE)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(f"writes {p.db}, not {other}; writing {other} itself", r.stderr)
                self.assertEqual(len(build_names(other)), 2)
            self.assertEqual(len(build_names(p.db)), 2)  # the fixture's two builds, once
            # No daemon: written directly, and said so.
            r = nod("ingest", FIXTURE, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"no daemon answers on {p.sock}", r.stderr)
            self.assertIn(f"writing the database {p.db} itself", r.stderr)
            self.assertEqual(len(build_names(p.db)), 4)


class NodRebuildUnderADaemon(unittest.TestCase):
    def test_rebuild_and_upgrade_run_beside_a_daemon_of_this_version(self):
        with h.TempDir() as d:
            db = os.path.join(d, "nod.db")
            self.assertEqual(nod("--db", db, "--socket", os.path.join(d, "x"), "ingest",
                                 FIXTURE).returncode, 0)
            with Daemon(d, db=db) as p:
                for command in ("rebuild", "upgrade"):
                    r = nod("--db", db, "--socket", p.sock, command)
                    self.assertEqual(r.returncode, 0, f"{command}: {r.stderr}")
                    self.assertNotIn("older than", r.stderr)
                self.assertTrue(p.alive())


class NodWritersAreNeverClosed(unittest.TestCase):
    """Nix disables its JSON logger for good after one failed write: nod must not close."""

    BURST = b"".join(synthetic_builds(1, 2000))  # ~1 MB, far beyond the socket's buffers

    def test_a_refused_writer_stays_open_and_its_writes_succeed(self):
        with h.TempDir() as d:
            port = h.free_port()
            with Daemon(d, "--writers", "nobody", "--metrics.listen", f"127.0.0.1:{port}") as p:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(p.sock)  # as root: not one of --writers
                    for _ in range(3):
                        s.sendall(self.BURST)  # raises (EPIPE, ECONNRESET) if nod closed it
                    wait_for(lambda: status(p.sock)["connections"]["bytes_discarded"]
                             >= 2 * len(self.BURST), 60, "the discarded bytes")
                    self.assertTrue(still_open(s))
                    st = status(p.sock)
                    self.assertEqual(st["connections"]["writers_rejected"], 1)
                    self.assertEqual(st["connections"]["discarding"], 1)
                    self.assertEqual(st["records"], 0)
                    text = h.scrape(port)
                    self.assertIn("nod_writers_rejected_total 1\n", text)
                    discarded = h.samples(text)["nod_discarded_bytes_total"]
                    self.assertGreaterEqual(discarded, 2 * len(self.BURST))
                # It hung up: the daemon lets go of it.
                wait_for(lambda: status(p.sock)["connections"]["discarding"] == 0, 60,
                         "the hang-up")
            self.assertIn("refusing log records from pid", p.log())

    def test_nod_ingest_does_not_send_records_a_daemon_would_refuse(self):
        with h.TempDir() as d:
            with Daemon(d, "--writers", "nobody") as p:
                self.assertEqual(status(p.sock)["writer_uids"], [pwd.getpwnam("nobody").pw_uid])
                r = nod("--socket", p.sock, "ingest", FIXTURE)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("takes records only from the users of its --writers, and uid 0",
                              r.stderr)
                self.assertEqual(status(p.sock)["connections"]["writers_rejected"], 0)

    def test_a_connection_over_the_limit_stays_open_and_its_writes_succeed(self):
        with h.TempDir() as d:
            port = h.free_port()
            with Daemon(d, "--max-connections", "2", "--metrics.listen",
                        f"127.0.0.1:{port}") as p:
                a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                a2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                def open_connections():
                    return h.samples(h.scrape(port))["nod_connections"]
                try:
                    # One at a time, each once the slot before it is taken (and the start-up
                    # status query's slot is free again).
                    for n, s in enumerate((a, a2)):
                        wait_for(lambda: open_connections() == n, 60, f"{n} connections")
                        s.connect(p.sock)
                        s.sendall(synthetic_builds(1, 1)[0])  # a writer, holding its slot
                    wait_for(lambda: open_connections() == 2, 60, "two writers")
                    b.connect(p.sock)  # the third: over the limit
                    for _ in range(3):
                        b.sendall(self.BURST)
                    self.assertTrue(still_open(b))
                    # A query over the limit is told so, not left waiting.
                    answer = tn.query(p.sock, {"request": "status"})
                    self.assertFalse(answer["ok"])
                    self.assertIn("--max-connections", answer["error"])
                    a2.close()  # a slot for the status queries
                    wait_for(lambda: open_connections() == 1, 60, "a free slot")
                    st = wait_for(lambda: (lambda s: s if s["connections"]["bytes_discarded"]
                                           >= 2 * len(self.BURST) else None)(status(p.sock)),
                                  60, "the discarded bytes")
                    self.assertEqual(st["connections"]["over_limit"], 2)  # b and the query
                    self.assertTrue(still_open(b))
                    b.sendall(self.BURST)
                    samples = h.samples(h.scrape(port))
                    self.assertEqual(samples["nod_connections_over_limit_total"], 2)
                    a.sendall(b"".join(synthetic_builds(10, 3)))  # the first writer goes on
                    wait_for(lambda: status(p.sock)["records"] >= 3 * 5 + 1, 60, "a's records")
                finally:
                    for s in (a, a2, b):
                        s.close()
            self.assertIn("over the limit of 2", p.log())

    def test_held_connections_are_bounded_and_the_oldest_closed(self):
        """Regression: held connections grew until RLIMIT_NOFILE, then accept() failed (EMFILE)
        and queries could not open the database."""
        with h.TempDir() as d:
            port = h.free_port()
            with Daemon(d, "--max-connections", "2", "--metrics.listen",
                        f"127.0.0.1:{port}") as p:
                def samples():
                    return h.samples(h.scrape(port))
                a, a2 = (socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2))
                over = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(5)]
                try:
                    for n, s in enumerate((a, a2)):
                        wait_for(lambda: samples()["nod_connections"] == n, 60, f"{n} connections")
                        s.connect(p.sock)
                        s.sendall(synthetic_builds(1, 1)[0])  # a writer, holding its slot
                    wait_for(lambda: samples()["nod_connections"] == 2, 60, "two writers")
                    for i, s in enumerate(over):  # 5 over the limit; 2 (the limit) are held
                        s.connect(p.sock)
                        s.sendall(synthetic_builds(100 + i, 1)[0])
                    wait_for(lambda: samples()["nod_discarded_connections_closed_total"] == 3, 60,
                             "the three oldest closed")
                    self.assertEqual([still_open(s) for s in over],
                                     [False, False, False, True, True])
                    a2.close()  # a slot for a new writer, then for the queries
                    wait_for(lambda: samples()["nod_connections"] == 1, 60, "a free slot")
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as w:
                        w.connect(p.sock)
                        w.sendall(b"".join(synthetic_builds(200, 2)))
                    def status_with_records():
                        try:
                            st = status(p.sock)
                        except AssertionError:  # w's thread still had the slot
                            return None
                        return st if st["records"] >= 2 * 5 else None
                    st = wait_for(status_with_records, 60, "the new writer's records")
                    # More than 3 when a status query above was over the limit: it was held (the
                    # oldest going) until it was answered.
                    closed = st["connections"]["discarded_closed"]
                    self.assertGreaterEqual(closed, 3)
                    self.assertLessEqual(st["connections"]["discarding"], 2)
                    self.assertGreaterEqual(st["connections"]["over_limit"], 5)
                    self.assertEqual(samples()["nod_discarded_connections_closed_total"], closed)
                    names = wait_for(lambda: (lambda n: n if any("synthetic-201" in x for x in n)
                                                        else None)(build_names(p.db)),
                                     60, "the new writer's builds in the database")
                    self.assertTrue(any("synthetic-200" in x for x in names), names)
                finally:
                    for s in (a, a2, *over):
                        s.close()
            self.assertIn("discarded connection(s) closed so far", p.log())


class NodIngestOverTheLimit(unittest.TestCase):
    """Regression: a replay accepted over --max-connections was discarded as if it were Nix,
    and `nod ingest` reported success."""

    def test_an_ingest_the_daemon_has_no_room_for_fails_and_records_nothing(self):
        # --max-connections 1: nod ingest's own status query is over the limit; 2: its status
        # query takes the last slot and its replay connection is over the limit.
        for limit, said in ((1, "the daemon says: the daemon has --max-connections connections "
                                "open; try again later"),
                            (2, "did not take the records (the daemon says: the daemon has "
                                "--max-connections connections open: it recorded none of these "
                                "records; try again later); none were recorded")):
            with self.subTest(limit=limit), h.TempDir() as d:
                port = h.free_port()
                with Daemon(d, "--max-connections", limit, "--metrics.listen",
                            f"127.0.0.1:{port}") as p:
                    def samples():
                        return h.samples(h.scrape(port))
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as a:
                        wait_for(lambda: samples()["nod_connections"] == 0, 60, "a free slot")
                        a.connect(p.sock)  # holds one slot, sending nothing
                        wait_for(lambda: samples()["nod_connections"] == 1, 60, "a held slot")
                        r = nod("--socket", p.sock, "ingest", FIXTURE)
                        self.assertEqual(r.returncode, 1, r.stderr)
                        self.assertIn(said, r.stderr)
                        self.assertEqual(samples()["nod_connections_over_limit_total"], 1)
                    # Every status query takes a slot, and a closed connection leaves the
                    # count a moment later: ask only once the metrics say all slots are free.
                    def no_connections(what):
                        wait_for(lambda: samples()["nod_connections"] == 0, 60, what)
                    no_connections("the hang-up")
                    self.assertEqual(status(p.sock)["records"], 0)
                    self.assertEqual(build_names(p.db), [])
                    if limit == 1:
                        continue  # nod ingest needs two: its status query and its replay
                    # With room, the same replay goes through.
                    no_connections("the status query's hang-up")
                    r = nod("--socket", p.sock, "ingest", FIXTURE)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    no_connections("the ingest's hang-up")
                    wait_settled(p.sock)
                    self.assertEqual(len(build_names(p.db)), 2)


class NodStartup(unittest.TestCase):
    def test_a_failed_start_leaves_no_new_database(self):
        with h.TempDir() as d:
            with Daemon(d) as p:
                other = os.path.join(d, "other.db")
                r = nod("daemon", "--socket", p.sock, "--db", other)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("another process is listening", r.stderr)
                self.assertEqual(sorted(f for f in os.listdir(d) if f.startswith("other")), [])
            with socket.socket() as taken:
                taken.bind(("127.0.0.1", 0))
                taken.listen(1)
                sock = os.path.join(d, "second.sock")
                r = nod("daemon", "--socket", sock, "--db", os.path.join(d, "third.db"),
                        "--metrics.listen", f"127.0.0.1:{taken.getsockname()[1]}")
                self.assertNotEqual(r.returncode, 0, r.stderr)
                self.assertFalse(any(f.startswith("third") for f in os.listdir(d)))
                self.assertFalse(os.path.exists(sock))
            # An existing database is never removed by a failed start.
            with Daemon(d, db=os.path.join(d, "kept.db")) as p:
                pass
            with Daemon(d) as p:
                r = nod("daemon", "--socket", p.sock, "--db", os.path.join(d, "kept.db"))
                self.assertNotEqual(r.returncode, 0)
            self.assertTrue(os.path.exists(os.path.join(d, "kept.db")))


class NodReadOnlyFallback(unittest.TestCase):
    def test_a_user_who_cannot_write_the_directory_reads_the_database(self):
        with h.TempDir() as d:
            os.chmod(d, 0o755)  # nobody may enter and read, not write
            db = os.path.join(d, "nod.db")
            self.assertEqual(nod("--db", db, "--socket", os.path.join(d, "x"), "ingest",
                                 FIXTURE).returncode, 0)
            os.chmod(db, 0o644)
            self.assertFalse(os.path.exists(db + "-shm"))  # closed cleanly: no writer
            as_nobody = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]
            r = subprocess.run([*as_nobody, h.binary("nod"), "--db", db, "--socket",
                                os.path.join(d, "none.sock"), "--output", "json"],
                               capture_output=True, text=True, timeout=60, cwd="/")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("no daemon answers", r.stderr)
            kinds = {k["kind"]: k for k in json.loads(r.stdout)["kinds"]}
            self.assertEqual(kinds["build"]["count"], 2)
            self.assertEqual(sorted(os.listdir(d)), ["nod.db"])  # nothing created beside it


if __name__ == "__main__":
    unittest.main()
