"""The flake collector end to end: real Nix 2.8 against local git flakes, real nats-server.

The "remote" flake is a git repository in a temp dir (git+file://) whose lock file points at
another local git repository and a path, so nothing needs the network. Each exporter runs nix
through a wrapper script that logs one line per invocation and execs the real nix: the tests
count what the exporters really ran.
"""
import json
import os
import shutil
import socket
import subprocess
import time
import unittest

import harness as h
import nkeys

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}


def git(repo, *args):
    env = dict(os.environ, **GIT_ENV)
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


class Flake:
    """A local flake with a git input and a path input, locked offline."""

    def __init__(self, tmp):
        self.dep = os.path.join(tmp, "dep")
        self.local = os.path.join(tmp, "local-input")
        self.repo = os.path.join(tmp, "config")
        for d in (self.dep, self.local, self.repo):
            os.makedirs(d)
        for d in (self.dep, self.local):
            with open(os.path.join(d, "flake.nix"), "w") as f:
                f.write("{ outputs = { self }: { }; }\n")
        git(self.dep, "init", "-q")
        git(self.dep, "add", ".")
        git(self.dep, "commit", "-qm", "dep")
        with open(os.path.join(self.repo, "flake.nix"), "w") as f:
            f.write('{\n  inputs.dep.url = "git+file://%s";\n  inputs.nixpkgs.url = "path:%s";\n'
                    '  outputs = { self, dep, nixpkgs }: { };\n}\n' % (self.dep, self.local))
        git(self.repo, "init", "-q")
        git(self.repo, "add", ".")
        subprocess.run([h.tool("nix"), "--extra-experimental-features", "nix-command flakes", "flake",
                        "lock", self.repo], check=True, capture_output=True)
        git(self.repo, "add", ".")
        git(self.repo, "commit", "-qm", "first")
        self.url = "git+file://" + self.repo

    def head(self):
        return git(self.repo, "rev-parse", "HEAD")

    def dep_head(self):
        return git(self.dep, "rev-parse", "HEAD")

    def commit(self, n):
        with open(os.path.join(self.repo, "note"), "w") as f:
            f.write(f"change {n}\n")
        git(self.repo, "add", ".")
        git(self.repo, "commit", "-qm", f"change {n}")
        return self.head()


class FakeRoot:
    """A NixOS root whose running system records a configurationRevision (or none)."""

    def __init__(self, tmp, name="root"):
        self.dir = os.path.join(tmp, name)
        self.n = 0
        os.makedirs(os.path.join(self.dir, "run"))

    def run_system(self, config_rev):
        self.n += 1
        system = f"/nix/store/{self.n:032d}-nixos-system-host-24.05"
        sw = os.path.join(self.dir, system.lstrip("/"), "sw", "bin")
        os.makedirs(sw)
        record = {"nixosVersion": "24.05.20240301.ccccccc",
                  "nixpkgsRevision": "cccccccccccccccccccccccccccccccccccccccc"}
        if config_rev:
            record["configurationRevision"] = config_rev
        with open(os.path.join(sw, "nixos-version"), "w") as f:
            f.write('#! /bin/sh\ncase "$1" in\n  --json)\n    cat <<EOF\n%s\nEOF\n    ;;\nesac\n'
                    % json.dumps(record))
        link = os.path.join(self.dir, "run", "current-system")
        tmp_link = link + ".new"
        os.symlink(system, tmp_link)
        os.replace(tmp_link, link)  # atomic, as switch-to-configuration does


def nix_wrapper(tmp, name, body=None):
    """A `nix` that logs each invocation to <tmp>/<name>.calls, then runs `body` (default: the
    real nix with the same arguments)."""
    calls = os.path.join(tmp, f"{name}.calls")
    path = os.path.join(tmp, f"{name}-nix")
    body = body or f'exec {h.tool("nix")} "$@"'
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\necho \"$$\" >> {calls}\n{body}\n")
    os.chmod(path, 0o755)
    return path, calls


def count(calls):
    if not os.path.exists(calls):
        return 0
    with open(calls) as f:
        return len(f.read().splitlines())


def start_exporter(tmp, root, *extra, name="exporter"):
    port = h.free_port()
    p = h.Process([h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}", f"--path.root={root}",
                   "--collector.flake", *extra], tmp, name=name, port=port)
    return p, port


def flake_samples(port):
    return h.collector_samples(port, "flake")


def info_labels(s):
    """The labels of nixos_flake_info as a dict (None before the first scrape has it)."""
    return h.labels_of(s, "nixos_flake_info")


def wait_for(predicate, port, timeout=30.0, what="condition"):
    """Scrapes until predicate(samples) holds; returns those samples."""
    return h.wait_for_collector(predicate, port, "flake", timeout, what)


class FlakeWithRealNix(unittest.TestCase):
    def test_revision_behind_follows_the_remote_then_the_running_system(self):
        with h.TempDir() as tmp:
            flake = Flake(tmp)
            first = flake.head()
            root = FakeRoot(tmp)
            root.run_system(first)
            wrapper, calls = nix_wrapper(tmp, "nix")
            # A 1h interval: only smart refresh (the system runs the remote revision) can notice the
            # new commit within this test.
            p, port = start_exporter(tmp, root.dir, f"--flake.url={flake.url}", "--flake.check-interval=1h",
                                     "--flake.smart-refresh-interval=1s", f"--flake.nix-binary={wrapper}")
            with p:
                s = wait_for(lambda s: info_labels(s) and info_labels(s)["remote_rev"] == first, port,
                             what="the first remote revision")
                self.assertEqual(s["nixos_flake_revision_behind"], 0)
                self.assertEqual(info_labels(s)["current_rev"], first)
                self.assertEqual(info_labels(s)["nixos_version"], "24.05.20240301.ccccccc")
                self.assertEqual(info_labels(s)["nixpkgs_rev"], "cccccccccccccccccccccccccccccccccccccccc")
                self.assertEqual(s[f'nixos_flake_input_info{{input="dep",rev="{flake.dep_head()}",type="git"}}'], 1)
                self.assertEqual(s['nixos_flake_input_info{input="nixpkgs",rev="unknown",type="path"}'], 1)
                self.assertIn('nixos_flake_input_age_seconds{input="dep"}', s)
                self.assertEqual(s["nixos_flake_last_check_failed"], 0)
                self.assertGreater(s["nixos_flake_last_check_success_timestamp_seconds"], 1.6e9)

                second = flake.commit(1)
                s = wait_for(lambda s: s.get("nixos_flake_revision_behind") == 1, port,
                             what="behind=1 after a new commit")
                self.assertEqual(info_labels(s)["remote_rev"], second)
                self.assertEqual(info_labels(s)["current_rev"], first)

                root.run_system(second)  # the host switched to the new revision
                s = wait_for(lambda s: s.get("nixos_flake_revision_behind") == 0, port,
                             what="behind=0 after the switch")
                self.assertEqual(info_labels(s)["current_rev"], second)
                self.assertGreaterEqual(s['nixos_flake_remote_checks_total{result="success"}'], 2)
                self.assertEqual(count(calls), s['nixos_flake_remote_checks_total{result="success"}'])
                self.assertTrue(h.promtool_check_metrics(h.scrape(port)) == [], h.promtool_check_metrics(h.scrape(port)))
            self.assertEqual(p.returncode, 0, p.log())

    def test_without_configuration_revision_current_is_unknown_and_behind_is_0(self):
        with h.TempDir() as tmp:
            flake = Flake(tmp)
            root = FakeRoot(tmp)
            root.run_system(None)
            p, port = start_exporter(tmp, root.dir, f"--flake.url={flake.url}")
            with p:
                s = wait_for(lambda s: info_labels(s) and info_labels(s)["remote_rev"] == flake.head(), port,
                             what="the remote revision")
                self.assertEqual(info_labels(s)["current_rev"], "unknown")
                self.assertEqual(s["nixos_flake_revision_behind"], 0)

    def test_startup_errors_exit_2(self):
        with h.TempDir() as tmp:
            root = FakeRoot(tmp)
            for args, message in (([], "--flake.url is required"),
                                  (["--flake.url=--impure"], "starts with '-'"),
                                  (["--flake.url=github:a/b", "--flake.check-interval=soon"], "flake.check-interval"),
                                  (["--flake.url=github:a/b", "--flake.nats.enable",
                                    "--flake.nats.credentials-file=/nonexistent/x.creds"], "cannot read"),
                                  (["--flake.url=github:a/b", "--flake.nats.enable",
                                    "--flake.nats.nkey-seed-file=/nonexistent/x.nk"], "cannot read")):
                r = subprocess.run([h.binary("nixos-exporter"), "--listen=127.0.0.1:0", f"--path.root={root.dir}",
                                    "--collector.flake", *args], capture_output=True, text=True, timeout=20)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(message, r.stderr)

    def test_hanging_failing_and_garbage_nix_never_fail_a_scrape(self):
        cases = {
            "hang": ("exec sleep 60.4242", "timeout"),
            "fail": ("echo 'error: cannot fetch' >&2; exit 1", "failed"),
            "garbage": ("echo '{\"revision\": ['", "bad_output"),
            "huge": ("exec yes '{}'", "bad_output"),
        }
        with h.TempDir() as tmp:
            root = FakeRoot(tmp)
            root.run_system("1" * 40)
            procs = []
            for name, (body, result) in cases.items():
                wrapper, calls = nix_wrapper(tmp, name, body)
                p, port = start_exporter(tmp, root.dir, "--flake.url=github:example/config",
                                         "--flake.check-interval=1s", "--flake.nix-timeout=1s",
                                         f"--flake.nix-binary={wrapper}", name=name)
                procs.append((name, result, p.start(), port))
            try:
                for name, result, p, port in procs:
                    s = wait_for(lambda s: s.get(f'nixos_flake_remote_checks_total{{result="{result}"}}', 0) >= 2,
                                 port, what=f"{name}: two checks counted as {result}")
                    self.assertEqual(s['nixos_exporter_collector_success{collector="flake"}'], 1, name)
                    self.assertEqual(s["nixos_flake_last_check_failed"], 1, name)
                    self.assertEqual(s['nixos_flake_remote_checks_total{result="success"}'], 0, name)
                    # The remote is unknown: no "behind" series rather than a false 0.
                    self.assertNotIn("nixos_flake_revision_behind", s, name)
                    self.assertEqual(info_labels(s)["remote_rev"], "unknown")
                    self.assertTrue(p.alive(), p.log())
            finally:
                for _, _, p, _ in procs:
                    p.stop()
            for name, result, p, _ in procs:
                self.assertEqual(p.returncode, 0, p.log())
                self.assertIn(f"failed ({result})", p.log(), name)
            # The hanging nix was killed with its process group: no `sleep 60.4242` of ours is left.
            left = subprocess.run(["pgrep", "-f", "^sleep 60.4242$"], capture_output=True, text=True).stdout.split()
            for pid in left:
                with open(f"/proc/{pid}/stat") as f:
                    self.assertEqual(f.read().rsplit(")", 1)[1].split()[0], "Z", "a hanging nix outlived its check")


class NatsServer:
    """A real nats-server on a loopback port; can be stopped and started again on that port."""

    def __init__(self, tmp, config=None):
        self.tmp = tmp
        self.port = h.free_port()
        self.config = config
        self.proc = None

    def start(self):
        argv = [h.tool("nats-server"), "-a", "127.0.0.1", "-p", str(self.port)]
        if self.config:
            path = os.path.join(self.tmp, "nats.conf")
            with open(path, "w") as f:
                f.write(self.config)
            argv += ["-c", path]
        self.proc = h.Process(argv, self.tmp, name="nats-server", port=self.port).start()
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def publish_raw(self, subject, payload):
        """Publishes with the plain NATS text protocol, the way any client could."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            f = s.makefile("rb")
            f.readline()  # INFO
            s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')
            s.sendall(b"PUB %s %d\r\n%s\r\nPING\r\n" % (subject.encode(), len(payload), payload))
            while not f.readline().startswith(b"PONG"):
                pass


INTERVAL = 4  # seconds; followers wait 1-2 s more, far more than a local nix needs


class FlakeSharingOnNats(unittest.TestCase):
    def start_fleet(self, tmp, flake, nats, n=3, extra=(), name="host"):
        root = FakeRoot(tmp, f"{name}-root")
        root.run_system("0" * 40)  # never equal to the remote: no smart refresh here
        fleet = []
        for i in range(n):
            wrapper, calls = nix_wrapper(tmp, f"{name}{i}")
            p, port = start_exporter(tmp, root.dir, f"--flake.url={flake.url}",
                                     f"--flake.check-interval={INTERVAL}s", f"--flake.nix-binary={wrapper}",
                                     "--flake.nats.enable", f"--flake.nats.url={nats.url}", *extra,
                                     name=f"{name}{i}")
            fleet.append((p.start(), port, calls))
        return fleet

    def window(self, fleet, intervals=3):
        before = [count(c) for _, _, c in fleet]
        time.sleep(intervals * INTERVAL)
        return [count(c) - b for (_, _, c), b in zip(fleet, before)]

    def shared_window(self, fleet, flake):
        """Waits (a few windows at most) for a window in which one host ran nix and the others
        learnt the revision from it; returns the per-host counts of that window."""
        seen = []
        for _ in range(4):
            deltas = self.window(fleet)
            seen.append(deltas)
            if sum(1 for d in deltas if d > 0) == 1 and max(deltas) >= 2:
                for (p, port, _), d in zip(fleet, deltas):
                    s = flake_samples(port)
                    self.assertEqual(info_labels(s)["remote_rev"], flake.head())
                    self.assertEqual(s["nixos_flake_nats_connected"], 1)
                    if d == 0:
                        self.assertEqual(s["nixos_flake_remote_from_nats"], 1)
                return deltas
        self.fail(f"no window of {3 * INTERVAL}s where a single host ran nix; per-host counts: {seen}")

    def test_one_host_fetches_the_others_learn_it_and_fall_back_while_nats_is_down(self):
        with h.TempDir() as tmp:
            flake = Flake(tmp)
            nats = NatsServer(tmp).start()
            fleet = self.start_fleet(tmp, flake, nats)
            try:
                for p, port, _ in fleet:
                    wait_for(lambda s: info_labels(s) and info_labels(s)["remote_rev"] == flake.head(), port)
                # Sharing: one nix run per interval for the fleet, not one per host.
                self.shared_window(fleet, flake)

                # A new commit reaches every host, though only one runs nix.
                new = flake.commit(1)
                for p, port, _ in fleet:
                    wait_for(lambda s: info_labels(s)["remote_rev"] == new, port, timeout=4 * INTERVAL,
                             what="the new revision on every host")

                # NATS down: every host checks for itself.
                nats.stop()
                for p, port, _ in fleet:
                    wait_for(lambda s: s["nixos_flake_nats_connected"] == 0, port, what="disconnected")
                deltas = self.window(fleet, intervals=2)
                self.assertTrue(all(d >= 1 for d in deltas), f"every host must fall back to nix: {deltas}")

                # Back on the same port: they reconnect and share again.
                nats.start()
                for p, port, _ in fleet:
                    s = wait_for(lambda s: s["nixos_flake_nats_connected"] == 1, port, timeout=20,
                                 what="reconnected")
                    self.assertGreaterEqual(s["nixos_flake_nats_reconnects_total"], 1)
                self.shared_window(fleet, flake)
                for p, _, _ in fleet:
                    self.assertTrue(p.alive(), p.log())
            finally:
                for p, _, _ in fleet:
                    p.stop()
                nats.stop()
            for p, _, _ in fleet:
                self.assertEqual(p.returncode, 0, p.log())

    def test_garbage_and_foreign_messages_are_counted_not_used(self):
        with h.TempDir() as tmp:
            flake = Flake(tmp)
            nats = NatsServer(tmp).start()
            fleet = self.start_fleet(tmp, flake, nats, n=1)
            p, port, _ = fleet[0]
            try:
                wait_for(lambda s: info_labels(s) and info_labels(s)["remote_rev"] == flake.head(), port)
                subject = "nixos-exporter.remote-rev"
                for payload in (b"garbage", b"\xff\xfe\x00", b"[]", b'{"v":1}', b"{" * 100000):
                    nats.publish_raw(subject, payload)
                other = {"v": 1, "flake_url": "github:someone/else", "revision": "f" * 40,
                         "fetched_at": time.time() + 100, "host": "other-1"}
                nats.publish_raw(subject, json.dumps(other).encode())
                s = wait_for(lambda s: s['nixos_flake_nats_messages_rejected_total{reason="malformed"}'] == 5 and
                             s['nixos_flake_nats_messages_rejected_total{reason="other_flake"}'] == 1, port,
                             what="rejections counted")
                self.assertEqual(info_labels(s)["remote_rev"], flake.head())

                # A peer whose clock runs an hour ahead would win every later comparison: refused.
                ahead = dict(other, flake_url=flake.url, revision="d" * 40, inputs=[],
                             fetched_at=time.time() + 3600)
                nats.publish_raw(subject, json.dumps(ahead).encode())
                s = wait_for(lambda s: s['nixos_flake_nats_messages_rejected_total{reason="future"}'] == 1,
                             port, what="the message from the future refused")
                self.assertEqual(info_labels(s)["remote_rev"], flake.head())

                # A peer's news of this flake is taken as a check: it replaces the revision.
                peer = dict(other, flake_url=flake.url, revision="e" * 40, inputs=[])
                nats.publish_raw(subject, json.dumps(peer).encode())
                s = wait_for(lambda s: info_labels(s)["remote_rev"] == "e" * 40, port, what="peer revision taken")
                self.assertEqual(s["nixos_flake_remote_from_nats"], 1)
                self.assertTrue(p.alive())
            finally:
                p.stop()
                nats.stop()
            self.assertEqual(p.log().count("malformed message"), 1, "garbage is logged once, then counted")

    def test_nkey_file_authenticates(self):
        with h.TempDir() as tmp:
            seed, public = nkeys.user_pair()
            flake = Flake(tmp)
            nats = NatsServer(tmp, config="authorization { users = [ { nkey: %s } ] }\n" % public).start()
            good = os.path.join(tmp, "good.nk")
            bad = os.path.join(tmp, "bad.nk")
            with open(good, "w") as f:
                f.write(seed + "\n")
            with open(bad, "w") as f:
                f.write(nkeys.user_pair()[0] + "\n")  # a valid seed the server does not know
            try:
                fleet = self.start_fleet(tmp, flake, nats, n=1, extra=[f"--flake.nats.nkey-seed-file={good}"],
                                         name="good")
                fleet += self.start_fleet(tmp, flake, nats, n=1, extra=[f"--flake.nats.nkey-seed-file={bad}"],
                                          name="bad")
                (p1, port1, _), (p2, port2, _) = fleet
                wait_for(lambda s: s.get("nixos_flake_nats_connected") == 1, port1, what="nkey auth")
                s = flake_samples(port2)
                self.assertEqual(s["nixos_flake_nats_connected"], 0, "an unknown key must not get in")
                # The one that got in still shares nothing wrong and keeps serving.
                wait_for(lambda s: info_labels(s)["remote_rev"] == flake.head(), port1, what="a revision")
                # The refused one falls back to checking locally.
                wait_for(lambda s: info_labels(s)["remote_rev"] == flake.head(), port2, what="a local check")
            finally:
                for p, _, _ in locals().get("fleet", []):
                    p.stop()
                nats.stop()
            self.assertIn("sharing is off, checking locally", p2.log())


if __name__ == "__main__":
    unittest.main()
