"""End-to-end tests of nod's query side on streams captured at test time from the real
Nix on this machine: every flag of the original Rust nod's CLI through the daemon and, with no daemon, read
directly (both must print the same), answers checked against sqlite3 on the raw rows, golden
outputs (volatile parts masked), bad input, clean, and the Prometheus endpoint scraped, diffed and
passed through the real promtool."""
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import threading
import unittest
import uuid
import socket

import test_nod as tn
from harness import (Process, TempDir, binary, check_golden, free_port, mask,
                     promtool_check_metrics, scrape, tool, wait_for_port)

# The original Rust nod's README, line by line (clean is tested on copies below).
ORIGINAL_NOD_QUERIES = [
    [],
    ["-d", "30"],
    ["-m", "3"],
    ["--drv", "NONCE"],
    ["--sort", "count", "--group"],
    ["--bucket", "day"],
    ["--bucket", "month"],
    ["--bucket", "day", "--output", "test"],
    ["--bucket", "day", "--output", "csv"],
]
MORE_QUERIES = [
    ["-y", "1"],
    ["--bucket", "week"],
    ["--output", "json"],
    ["--group", "--sort", "name", "--limit", "2"],
    ["--drv", "a-NONCE", "--output", "test", "-d", "7"],
    ["regressions"],
    ["regressions", "--output", "json", "--alpha", "0.01", "--min-effect", "0.9"],
    ["failures"],
    ["failures", "--last", "1", "--output", "json"],
    ["failures", "-d", "1", "--drv", "bad-NONCE", "--output", "csv"],
    ["builds", "--last", "1"],  # a and b may stop in either order: only the last, bad
    ["builds", "--drv", "bad-NONCE", "--output", "json"],
]


def normalise(text, nonce, tmp):
    """Masks what differs between runs: the nonce, temp paths, dates, durations, and the column
    padding that follows from them."""
    text = text.replace(nonce, "<nonce>").replace(tmp, "<tmp>")
    text = re.sub(r"/nix/store/[0-9a-z]{32}-", "/nix/store/<hash>-", text)
    text = re.sub(r"\b\d\d:\d\d:\d\d\b", "<time>", text)
    text = re.sub(r"^(failures),\d+,", r"\1,<ms>,", text, flags=re.M)  # CSV of nod failures
    text = re.sub(r"\d{4}-W\d{2}", "<week>", text)
    text = re.sub(r"\d{4}-\d{2}-\d{2}", "<date>", text)
    text = re.sub(r"\d{4}-\d{2}\b", "<month>", text)
    text = re.sub(r"\b\d+(\.\d+)?(ms|s)\b|\b\d+[mhd] \d\d[smh]\b", "<dur>", text)
    text = re.sub(r'"(\w+_ms)":[\d.]+', r'"\1":<ms>', text)  # JSON
    text = re.sub(r"^(buckets,[^,]*,[^,]*,\d+,\d*),[\d.]+,[\d.]+,[\d.]+,[\d.]+",
                  r"\1,<ms>,<ms>,<ms>,<ms>", text, flags=re.M)  # CSV of --bucket
    return "\n".join(re.sub(r" {2,}", "  ", l).rstrip() for l in text.splitlines()) + "\n"


class NodQueries(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nod = binary("nod")
        tn.NOD = cls.nod
        cls._tmp = TempDir()
        cls.dir = cls._tmp.__enter__()
        cls.nonce = "q" + uuid.uuid4().hex[:12]
        expr = os.path.join(cls.dir, "builds.nix")
        with open(expr, "w") as f:
            f.write(tn.BUILDS_NIX)
        cls.db = os.path.join(cls.dir, "nod.db")
        common = ["--argstr", "nonce", cls.nonce, "--no-out-link", "--log-format", "internal-json",
                  "-v", "--option", "substituters", ""]
        nix_build = tool("nix-build")
        cls.captures = []
        for name, argv in (("success", [nix_build, expr, "-A", "a", "-A", "b", *common]),
                           ("failure", [nix_build, expr, "-A", "dep", *common])):
            cap = os.path.join(cls.dir, f"{name}.log")
            with open(cap, "wb") as f:
                subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=f, timeout=300)
            cls.captures.append(cap)
        # A substitution from a file:// cache: b's output copied there, deleted, fetched back.
        out = subprocess.run([nix_build, expr, "-A", "b", "--argstr", "nonce", cls.nonce,
                              "--no-out-link", "--option", "substituters", ""],
                             capture_output=True, text=True, check=True).stdout.strip()
        cache = "file://" + os.path.join(cls.dir, "cache")
        subprocess.run([tool("nix"), "--extra-experimental-features", "nix-command", "copy",
                        "--to", cache, out], check=True, capture_output=True)
        subprocess.run([tool("nix-store"), "--delete", out], check=True, capture_output=True)
        cap = os.path.join(cls.dir, "substitution.log")
        with open(cap, "wb") as f:
            subprocess.run([tool("nix-store"), "-r", out, "--option", "substituters", cache,
                            "--option", "require-sigs", "false", "--log-format", "internal-json",
                            "-v"], stdout=subprocess.DEVNULL, stderr=f, check=True)
        cls.captures.append(cap)
        for c in cls.captures:
            r = subprocess.run([cls.nod, "--db", cls.db, "ingest", c], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(r.stderr)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.__exit__(None, None, None)

    def run_nod(self, *args, db=None, sock=None, env=None):
        e = dict(os.environ)
        for k in ("NOD_SOCKET", "NOD_DB", "NO_COLOR", "LC_ALL", "LC_CTYPE", "LANG"):
            e.pop(k, None)
        e["LANG"] = "C.UTF-8"  # the pictures' glyphs follow the locale: the same on every host
        e.update(env or {})
        argv = [self.nod, "--db", db or self.db,
                "--socket", sock or os.path.join(self.dir, "nobody.sock"), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=e)

    def scratch_copy(self, directory):
        """A copy of the test database to change by hand, and a connection to it."""
        path = os.path.join(directory, "scratch.db")
        shutil.copy(self.db, path)
        return path, sqlite3.connect(path)

    @staticmethod
    def make_schema_one(con):
        """Turns a scratch copy into what schema 1 looked like (no totals, no names), and closes it."""
        con.execute("DROP TABLE total_stats")
        con.execute("DROP TABLE names")
        con.execute("PRAGMA user_version = 1")
        con.commit()
        con.close()

    def args(self, a):
        return [x.replace("NONCE", self.nonce) for x in a]

    def test_every_original_nod_flag_same_answer_through_daemon_and_directly(self):
        with TempDir() as d:
            sock = os.path.join(d, "nod.sock")
            with Process([self.nod, "daemon", "--socket", sock, "--db", self.db], d, name="nod"):
                tn.wait_for(lambda: os.path.exists(sock) and stat.S_ISSOCK(os.stat(sock).st_mode),
                            what="the socket")
                golden = []
                for a in ORIGINAL_NOD_QUERIES + MORE_QUERIES:
                    a = self.args(a)
                    direct = self.run_nod(*a)
                    self.assertEqual(direct.returncode, 0, (a, direct.stderr))
                    self.assertIn("reading the database read-only at", direct.stderr)
                    via = self.run_nod(*a, sock=sock)
                    self.assertEqual(via.returncode, 0, (a, via.stderr))
                    self.assertEqual(via.stderr, "", a)  # the daemon answered: nothing to say
                    self.assertEqual(via.stdout, direct.stdout, a)
                    # NOD_SOCKET / NOD_DB work as --socket / --db.
                    if a == []:
                        env = subprocess.run([self.nod], capture_output=True, text=True,
                                             env={**os.environ, "NOD_SOCKET": sock,
                                                  "NOD_DB": "/nonexistent"})
                        self.assertEqual(env.stdout, direct.stdout)
                    golden.append("$ nod " + " ".join(a).replace(self.nonce, "<nonce>") + "\n" +
                                  normalise(direct.stdout, self.nonce, self.dir))
        check_golden(self, "tests/e2e/golden/nod-queries.txt", "\n".join(golden))

    def test_pictures_follow_the_locale_and_no_color_the_same_through_the_daemon(self):
        unicode_bar, ascii_bar = "\u2588", "############"
        cases = [  # environment, glyphs expected
            ({"LANG": "C.UTF-8"}, "unicode"),
            ({"LANG": "C"}, "ascii"),
            ({"LANG": "C.UTF-8", "LC_ALL": "C"}, "ascii"),    # LC_ALL wins, as in the C library
            ({"LANG": "C", "LC_CTYPE": "C.UTF-8"}, "unicode"),
            ({"LANG": "C.UTF-8", "NO_COLOR": "1"}, "ascii"),
            ({"LANG": "no_SUCH.locale"}, "ascii"),           # unknown: the C locale
        ]
        with TempDir() as d:
            sock = os.path.join(d, "nod.sock")
            with Process([self.nod, "daemon", "--socket", sock, "--db", self.db], d, name="nod"):
                tn.wait_for(lambda: os.path.exists(sock), what="the socket")
                for env, glyphs in cases:
                    for args in (["--bucket", "day"], ["--bucket", "month", "-d", "30"]):
                        direct = self.run_nod(*args, env=env)
                        via = self.run_nod(*args, sock=sock, env=env)
                        self.assertEqual(direct.returncode, 0, direct.stderr)
                        self.assertEqual(via.stdout, direct.stdout, (env, args))
                        rows = [l for l in direct.stdout.splitlines() if " build " in l]
                        self.assertEqual(len(rows), 1, direct.stdout)
                        # One day, so the build row is the build kind's largest: full bars.
                        if glyphs == "unicode":
                            self.assertIn(unicode_bar * 12, rows[0], env)
                            self.assertNotIn(ascii_bar, direct.stdout, env)
                        else:
                            self.assertIn(ascii_bar, rows[0], env)
                            self.assertNotIn(unicode_bar, direct.stdout, env)
                # Machines never get pictures, whatever the locale.
                for fmt in ("csv", "json"):
                    out = self.run_nod("--bucket", "day", "--output", fmt, sock=sock).stdout
                    self.assertNotIn(unicode_bar, out)
                    self.assertNotIn("#", out)
                    self.assertNotIn("_bar", out)

    def test_answers_equal_sqlite3_on_the_raw_rows(self):
        out = json.loads(self.run_nod("--output", "json").stdout)
        con = sqlite3.connect(self.db)
        kinds = {k["kind"]: k for k in out["kinds"]}
        for kind, table in (("build", "builds"), ("substitution", "substitutions"),
                            ("cache-query", "cache_queries")):
            n, total, mx = con.execute(
                f"SELECT count(*), sum(duration_ms), max(duration_ms) FROM {table}").fetchone()
            self.assertEqual(kinds[kind]["count"], n, kind)
            self.assertEqual(kinds[kind]["total_ms"], total, kind)
            self.assertEqual(kinds[kind]["max_ms"], mx, kind)
        failed = con.execute("SELECT count(*) FROM builds WHERE outcome = 'failed'").fetchone()[0]
        self.assertEqual(kinds["build"]["failed"], failed)
        self.assertEqual(failed, 1)  # bad-<nonce> (dep never started: a dependency failure)
        # The substituter row: one substitution, one cache hit, bytes unknown (null, not 0).
        subs = out["substituters"]
        self.assertEqual(len(subs), 1)
        self.assertTrue(subs[0]["substituter"].startswith("file://"))
        self.assertEqual((subs[0]["substitutions"], subs[0]["hits"], subs[0]["misses"]), (1, 1, 0))
        self.assertEqual(subs[0]["hit_ratio"], 1.0)
        # --group: one row per derivation name, counts as sqlite3 counts them.
        group = json.loads(self.run_nod("--group", "--sort", "name", "--output", "json").stdout)
        expect = con.execute("SELECT name, count(*), sum(duration_ms) FROM builds GROUP BY name "
                             "ORDER BY name").fetchall()
        self.assertEqual([(g["name"], g["count"], g["total_ms"]) for g in group["derivations"]],
                         expect)
        # CSV is RFC 4180: CRLF line ends, one header, parseable by a strict reader.
        csv_text = subprocess.run(  # bytes: text mode would turn CRLF into LF
            [self.nod, "--db", self.db, "--socket", os.path.join(self.dir, "nobody.sock"),
             "--bucket", "day", "--output", "csv"], capture_output=True).stdout.decode()
        self.assertTrue(csv_text.startswith("table,bucket,kind,count,"))
        self.assertTrue(csv_text.endswith("\r\n"))
        self.assertTrue(all(l.endswith("\r") for l in csv_text.split("\n")[:-1]))
        day_count = con.execute("SELECT count(*) FROM builds").fetchone()[0]
        build_rows = [l for l in csv_text.split("\r\n") if ",build," in l]
        self.assertEqual(sum(int(l.split(",")[3]) for l in build_rows), day_count)
        con.close()

    def test_failures_and_builds_equal_sqlite3_through_the_daemon_and_directly(self):
        con = sqlite3.connect(self.db)
        failures = con.execute(
            "SELECT time_ms, kind, exit_code, nullif(machine, ''), name, drv_path, message "
            "FROM failures ORDER BY time_ms DESC, id DESC").fetchall()
        builds = con.execute(
            "SELECT end_ms, name, outcome, failure_kind, duration_ms, exit_code, machine, "
            "cpu_user_us, cpu_system_us, drv_path FROM builds ORDER BY id DESC").fetchall()
        con.close()
        # The failure stream of real Nix 2.8: the builder failure and its dependent.
        self.assertEqual(sorted(f[1] for f in failures), ["builder", "dependency"])
        self.assertEqual(len(builds), 3)
        with TempDir() as d:
            sock = os.path.join(d, "nod.sock")
            with Process([self.nod, "daemon", "--socket", sock, "--db", self.db], d, name="nod"):
                tn.wait_for(lambda: os.path.exists(sock), what="the socket")
                for via in (None, sock):
                    r = self.run_nod("failures", "--output", "json", sock=via)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual("no daemon answers" in r.stderr, via is None)
                    out = json.loads(r.stdout)
                    self.assertEqual([tuple(f[k] for k in ("time_ms", "kind", "exit_code", "machine",
                                                           "name", "drv_path", "message"))
                                      for f in out["failures"]], failures)
                    r = self.run_nod("builds", "--last", "2", "--output", "json", sock=via)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    out = json.loads(r.stdout)
                    keys = ("end_ms", "name", "outcome", "failure_kind", "duration_ms", "exit_code",
                            "machine", "cpu_user_us", "cpu_system_us", "drv_path")
                    self.assertEqual([tuple(b[k] for k in keys) for b in out["builds"]], builds[:2])
                    # Nix 2.8 reports no CPU time: null, never 0.
                    self.assertTrue(all(b["cpu_user_us"] is None for b in out["builds"]))
                    text = self.run_nod("builds", sock=via).stdout
                    bad = [l for l in text.splitlines() if l.split()[2:3] == [f"bad-{self.nonce}"]]
                    self.assertEqual(len(bad), 1, text)
                    self.assertIn(" failed", bad[0])
                    r = self.run_nod("failures", "--last", "0", sock=via)
                    self.assertEqual(r.returncode, 2)
                    self.assertIn("--last needs a whole number of rows >= 1, not '0'", r.stderr)

    def test_bad_input_is_a_clear_message_and_a_nonzero_exit(self):
        cases = [
            (["--frobnicate"], 109, "frobnicate"),  # CLI11's own exit code for unknown flags
            (["-d", "0"], 2, "-d needs a whole number of days >= 1, not '0'"),
            (["-d", "-3"], 2, "not '-3'"),
            (["--bucket", "year"], 2, "--bucket: unknown bucket 'year' (use day|week|month)"),
            (["-d", "3", "-m", "1"], 2, "exclusive"),
            (["--group", "--bucket", "day"], 2, "conflict"),
            (["--sort", "count"], 2, "add --group"),
            (["--output", "xml"], 2, "unknown format"),
            (["clean", "--before-days", "0"], 2, "--before-days"),
            (["regressions", "--alpha", "7"], 2, "--alpha"),
        ]
        for args, code, message in cases:
            r = self.run_nod(*args)
            self.assertNotEqual(r.returncode, 0, args)
            if code != 109:
                self.assertEqual(r.returncode, code, (args, r.stderr))
            self.assertIn(message, r.stderr, args)
            self.assertEqual(r.stdout, "", args)
        with TempDir() as d:
            newer, con = self.scratch_copy(d)
            con.execute("PRAGMA user_version = 99")
            con.commit()
            con.close()
            r = self.run_nod(db=newer)
            self.assertEqual(r.returncode, 1)
            self.assertIn("newer than this nod understands", r.stderr)
            r = self.run_nod(db=os.path.join(d, "missing.db"))
            self.assertEqual(r.returncode, 1)
            self.assertIn("does not exist", r.stderr)

    def test_rebuild_after_rows_changed_by_hand_and_upgrade_of_schema_one(self):
        with TempDir() as d:
            db, con = self.scratch_copy(d)
            # Rows deleted by hand: the aggregates (and so `nod`) still count them...
            con.execute("DELETE FROM builds WHERE outcome = 'failed'")
            con.commit()
            left = con.execute("SELECT count(*) FROM builds").fetchone()[0]
            before = json.loads(self.run_nod("--output", "json", db=db).stdout)
            builds = {k["kind"]: k for k in before["kinds"]}["build"]
            self.assertEqual(builds["count"], left + 1)
            # ...until `nod rebuild` recounts them.
            r = self.run_nod("rebuild", db=db)
            self.assertEqual(r.returncode, 0, r.stderr)
            total = sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (
                "builds", "substitutions", "cache_queries", "file_transfers", "copies",
                "activities", "failures", "unknown_records"))
            self.assertRegex(r.stdout, rf"^rebuilt the aggregates of {total} rows in [0-9.]+ s: "
                                       r"1 day, \d+ names\n$")
            after = json.loads(self.run_nod("--output", "json", db=db).stdout)
            builds = {k["kind"]: k for k in after["kinds"]}["build"]
            self.assertEqual((builds["count"], builds["failed"]), (left, 0))
            # A schema-1 database: reading never writes, so it is refused with the way out...
            self.make_schema_one(con)
            r = self.run_nod(db=db)
            self.assertEqual(r.returncode, 1)
            self.assertIn("schema version 1, older than this nod's 4", r.stderr)
            self.assertIn("nod --db", r.stderr)
            self.assertIn("upgrade`", r.stderr)
            # ...and `nod rebuild` upgrades it, once.
            r = self.run_nod("rebuild", db=db)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("upgrading", r.stderr)
            self.assertIn(f"rebuilt the aggregates of {total} rows", r.stdout)
            self.assertEqual(json.loads(self.run_nod("--output", "json", db=db).stdout)["kinds"],
                             after["kinds"])
            r = self.run_nod("rebuild", db=os.path.join(d, "missing.db"))
            self.assertEqual(r.returncode, 1)
            self.assertIn("does not exist", r.stderr)

    def test_upgrade_only_upgrades_and_never_under_an_older_daemon(self):
        with TempDir() as d:
            db, con = self.scratch_copy(d)
            self.make_schema_one(con)
            # An older daemon writing this database, standing in on the query protocol: it would
            # go on writing without the new tables, so neither upgrade nor rebuild may run.
            sock = os.path.join(d, "old.sock")
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            srv.bind(sock)
            srv.listen(4)

            def serve():
                while True:
                    try:
                        c, _ = srv.accept()
                    except OSError:
                        return
                    with c, c.makefile("rwb") as f:
                        f.readline()  # the magic line
                        f.readline()  # {"request":"status"}
                        f.write(json.dumps({"ok": True, "result": {"schema_version": 1, "db": db}})
                                .encode() + b"\n")
                        f.flush()

            threading.Thread(target=serve, daemon=True).start()
            try:
                for command in ("upgrade", "rebuild"):
                    r = self.run_nod(command, db=db, sock=sock)
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertIn("writes this database with schema version 1, older than this nod's 4",
                                  r.stderr)
            finally:
                srv.close()
            con = sqlite3.connect(db)
            self.assertEqual(con.execute("PRAGMA user_version").fetchone()[0], 1)  # untouched
            con.close()
            # With it gone: upgraded once, then nothing to do.
            r = self.run_nod("upgrade", db=db)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout,
                             r"^upgraded .* from schema version 1 to 4: \d+ rows counted in ")
            r = self.run_nod("upgrade", db=db)
            self.assertEqual((r.returncode, r.stdout), (0, f"{db} is at schema version 4: nothing to upgrade\n"))
            missing = os.path.join(d, "missing.db")
            r = self.run_nod("upgrade", db=missing)
            self.assertEqual((r.returncode, r.stdout), (0, f"no database at {missing} yet: nothing to upgrade\n"))
            self.assertFalse(os.path.exists(missing))

    def test_clean_directly_and_through_the_daemon(self):
        con = sqlite3.connect(self.db)
        tables = ["builds", "substitutions", "cache_queries", "file_transfers", "copies",
                  "activities", "failures", "unknown_records"]
        total = sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)
        con.close()
        with TempDir() as d:
            for through_daemon in (False, True):
                db = os.path.join(d, f"clean-{through_daemon}.db")
                shutil.copy(self.db, db)
                sock = os.path.join(d, f"nod-{through_daemon}.sock")
                proc = Process([self.nod, "daemon", "--socket", sock, "--db", db], d, name="nod")
                if through_daemon:
                    proc.start()
                    tn.wait_for(lambda: os.path.exists(sock), what="the socket")
                try:
                    r = self.run_nod("clean", "--before-days", "30", db=db, sock=sock)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(r.stdout.split(" (")[0], "removed 0 rows")
                    r = self.run_nod("clean", db=db, sock=sock)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(r.stdout, f"removed {total} rows (all events)\n")
                    self.assertEqual("no daemon answers" not in r.stderr, through_daemon)
                    after = self.run_nod(db=db, sock=sock)
                    self.assertIn("no activities recorded in this period", after.stdout)
                    c = sqlite3.connect(db)
                    self.assertEqual(c.execute("SELECT count(*) FROM daily_stats").fetchone()[0], 0)
                    c.close()
                finally:
                    if through_daemon:
                        proc.stop()

    def test_metrics_endpoint_scraped_diffed_and_promtool_clean(self):
        with TempDir() as d:
            sock = os.path.join(d, "nod.sock")
            port = free_port()
            with Process([self.nod, "daemon", "--socket", sock, "--db", os.path.join(d, "m.db"),
                          "--metrics.listen", f"127.0.0.1:{port}"], d, name="nod") as p:
                wait_for_port(port, p.proc)
                tn.wait_for(lambda: os.path.exists(sock), what="the socket")
                for cap in self.captures:
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                        s.connect(sock)
                        for line in tn.records_of(cap):
                            s.sendall(line)
                tn.wait_settled(sock)
                text = scrape(port)
        self.assertEqual(promtool_check_metrics(text), [])
        # No per-derivation label anywhere: only the bounded ones.
        labels = set(re.findall(r'[{,]([a-z_]+)="', text))
        self.assertLessEqual(labels, {"kind", "outcome", "machine", "substituter", "cache",
                                      "result", "reason", "le", "version", "action"})
        self.assertNotIn(self.nonce, text)
        self.assertIn('nod_builds_total{machine="local",outcome="failed"} 1', text)
        self.assertIn('nod_builds_total{machine="local",outcome="success"} 2', text)
        # The file:// cache does not report bytes: unknown, so no byte series (not a 0).
        self.assertNotIn("nod_substitution_downloaded_bytes_total{", text)
        self.assertIn('nod_substitution_download_unknown_total{substituter="file://', text)
        masked = mask(text.replace(os.path.join(self.dir, "cache"), "<cache>"),
                      [r".*_bucket\{", r".*_sum\{", r"nod_connections ", r"nod_records_total ",
                       r"nod_records_by_action_total\{", r"nod_read_bytes_total ",
                       r"nod_connections_accepted_total ", r"nod_queries_total ",
                       r"nod_write_batches_total ", r"nod_queue_depth "],
                      whole=[r"nod_build_info"])
        check_golden(self, "tests/e2e/golden/nod-metrics.txt", masked)


if __name__ == "__main__":
    unittest.main()
