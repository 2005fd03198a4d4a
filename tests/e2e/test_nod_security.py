"""nod's socket and metrics endpoint, hardened: which users may write records (SO_PEERCRED), the
socket's group and mode, TLS/basic auth on --metrics.listen (--web.config.file), 100 concurrent
writers losing nothing, and a database on a full filesystem."""
import grp
import os
import pwd
import sqlite3
import stat
import subprocess
import threading
import unittest

import harness as h
from test_nod import status, synthetic_builds, wait_for
from test_web_config import PROMETHEUS_HASH, curl, write

NOBODY = pwd.getpwnam("nobody")


class Daemon(h.Process):
    """A nod daemon that is up (answers a status query) when the block starts."""

    def __init__(self, d, *extra, db=None):
        self.sock = os.path.join(d, "nod.sock")
        super().__init__([h.binary("nod"), "daemon", "--socket", self.sock, "--db", db or os.path.join(d, "nod.db"),
                          *extra], d, name="nod")

    def start(self):
        super().start()
        wait_up(self, self.sock)
        return self


def start_daemon(d, *extra, db=None):
    p = Daemon(d, *extra, db=db)
    return p, p.sock


def wait_up(p, sock):

    def up():
        try:
            return stat.S_ISSOCK(os.lstat(sock).st_mode) and status(sock)
        except OSError:
            return False
    try:
        wait_for(up, 60, "the daemon")
    except Exception:
        p.stop()
        raise AssertionError(p.log())


def send(sock, lines, as_user=None):
    """Writes the lines from a child process (optionally as another user) and closes."""
    code = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n"
            "s.sendall(sys.stdin.buffer.read())\ns.close()\n")
    preexec = (lambda: (os.setgid(as_user.pw_gid), os.setuid(as_user.pw_uid))) if as_user else None
    subprocess.run(["python3", "-c", code, sock], input=b"".join(lines), check=True, preexec_fn=preexec,
                   timeout=120)


class NodSocketAccess(unittest.TestCase):
    def test_writers_are_identified_by_the_kernel_and_others_refused(self):
        with h.TempDir() as d:
            os.chmod(d, 0o755)
            p, sock = start_daemon(d, "--writers", "nobody")
            with p:
                send(sock, synthetic_builds(1, 5))  # as root: not one of --writers
                wait_for(lambda: status(sock)["connections"]["writers_rejected"] == 1, 60, "the refusal")
                self.assertEqual(status(sock)["records"], 0)
                send(sock, synthetic_builds(100, 5), as_user=NOBODY)
                wait_for(lambda: status(sock)["records"] == 5 * 5, 60, "nobody's records")
                self.assertEqual(status(sock)["connections"]["writers_rejected"], 1)
                self.assertTrue(p.alive())
            self.assertIn("refusing log records from pid", p.log())
            self.assertIn("uid 0", p.log())

    def test_socket_group_and_mode(self):
        with h.TempDir() as d:
            group = grp.getgrnam("nogroup")
            p, sock = start_daemon(d, "--socket-mode", "0660", "--socket-group", "nogroup")
            with p:
                st = os.lstat(sock)
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
                self.assertEqual(st.st_gid, group.gr_gid)

    def test_unknown_writer_user_is_a_usage_error(self):
        with h.TempDir() as d:
            r = subprocess.run([h.binary("nod"), "daemon", "--socket", os.path.join(d, "s"), "--db",
                                os.path.join(d, "db"), "--writers", "no-such-user-here"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("no user 'no-such-user-here'", r.stderr)


class NodMetricsWebConfig(unittest.TestCase):
    def test_basic_auth_on_the_metrics_endpoint(self):
        with h.TempDir() as d:
            cfg = write(d, "web.yml", f"basic_auth_users:\n  prometheus: {PROMETHEUS_HASH}\n")
            port = h.free_port()
            p, sock = start_daemon(d, "--metrics.listen", f"127.0.0.1:{port}", "--web.config.file", cfg)
            with p:
                h.wait_for_port(port)
                _, status_code, out = curl(f"http://127.0.0.1:{port}/metrics")
                self.assertEqual(status_code, 401, out)
                _, status_code, out = curl(f"http://127.0.0.1:{port}/metrics", "-u", "prometheus:scrape-secret")
                self.assertEqual(status_code, 200, out)
                self.assertIn("nod_", out)

    def test_bad_web_config_stops_the_daemon_with_its_name(self):
        with h.TempDir() as d:
            cfg = write(d, "web.yml", "basic_auth_users:\n  prometheus: plaintext\n")
            r = subprocess.run([h.binary("nod"), "daemon", "--socket", os.path.join(d, "s"), "--db",
                                os.path.join(d, "db"), "--metrics.listen", "127.0.0.1:0", "--web.config.file", cfg],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(cfg, r.stderr)
            self.assertIn("not a bcrypt hash", r.stderr)


class NodFloodAndFaults(unittest.TestCase):
    def test_100_concurrent_writers_lose_nothing(self):
        writers, builds = 100, 20
        with h.TempDir() as d:
            p, sock = start_daemon(d)
            with p:
                errors = []

                def one(i):
                    try:
                        send(sock, synthetic_builds(1_000_000 * (i + 1), builds))
                    except Exception as e:  # noqa: BLE001 - reported below
                        errors.append(e)
                threads = [threading.Thread(target=one, args=(i,)) for i in range(writers)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                self.assertEqual(errors, [])
                expected = writers * builds
                wait_for(lambda: status(sock)["writer"]["committed"] >= expected, 120, "all commits")
                st = status(sock)
                self.assertEqual(st["queue"]["dropped"], 0)
                self.assertEqual(st["records"], expected * 5)
            db = sqlite3.connect(os.path.join(d, "nod.db"))
            tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
            self.assertEqual(db.execute("pragma integrity_check").fetchone()[0], "ok")
            self.assertTrue(tables)

    def test_sigterm_during_ingest_flushes_the_batch(self):
        # A long `nix build` keeps its connection open. Everything the daemon has read when SIGTERM
        # arrives must be in the database after it exits, not lost with a half-filled batch.
        import socket
        builds = 3000
        with h.TempDir() as d:
            p, sock = start_daemon(d)
            p.start()
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(sock)
                    s.sendall(b"".join(synthetic_builds(1, builds)))
                    wait_for(lambda: status(sock)["records"] == builds * 5, 120, "every record read")
                    p.proc.send_signal(15)
                    p.proc.wait(60)
            finally:
                p.stop()
            self.assertEqual(p.returncode, 0, p.log())
            self.assertIn("stopped:", p.log())
            db = sqlite3.connect(os.path.join(d, "nod.db"))
            n = db.execute("select count(*) from builds").fetchone()[0]
            self.assertEqual(db.execute("pragma integrity_check").fetchone()[0], "ok")
            db.close()
            # Builds whose stop was read are complete; the connection was still open, so none is
            # interrupted. All of them are committed.
            self.assertEqual(n, builds, p.log())

    def test_full_filesystem_counts_errors_keeps_running_and_resumes(self):
        with h.TempDir() as d:
            mnt = os.path.join(d, "small")
            os.mkdir(mnt)
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], capture_output=True, text=True)
            if r.returncode != 0:
                self.skipTest(f"cannot mount a tmpfs here: {r.stderr.strip()}")
            try:
                p, sock = start_daemon(d, db=os.path.join(mnt, "nod.db"))
                with p:
                    send(sock, synthetic_builds(1, 10))
                    wait_for(lambda: status(sock)["writer"]["committed"] >= 10, 60, "first commits")
                    filler = os.path.join(mnt, "filler")
                    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
                    send(sock, synthetic_builds(1000, 200, log_lines=20))
                    wait_for(lambda: status(sock)["writer"]["write_errors"] > 0, 60, "a write error")
                    self.assertTrue(p.alive(), p.log())
                    os.unlink(filler)
                    send(sock, synthetic_builds(5000, 10))
                    # Everything, including the batch that failed while the disk was full, is
                    # committed once there is room again: 10 + 200 + 10 builds.
                    wait_for(lambda: status(sock)["writer"]["committed"] >= 220, 120, "commits after space returned")
                    st = status(sock)
                    self.assertEqual(st["writer"]["committed"], 220)
                    self.assertEqual(st["queue"]["dropped"], 0)
                    self.assertTrue(p.alive(), p.log())
                self.assertEqual(p.returncode, 0, p.log())
                db = sqlite3.connect(os.path.join(mnt, "nod.db"))
                self.assertEqual(db.execute("pragma integrity_check").fetchone()[0], "ok")
                db.close()
            finally:
                subprocess.run(["umount", "-l", mnt])


if __name__ == "__main__":
    unittest.main()
