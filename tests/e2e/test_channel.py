"""The channel collector end to end: a channels profile made by Debian's real nix-channel (Nix 2.8),
a real HTTP server on loopback laid out like the channel servers, a real nats-server.

The server answers the way channels.nixos.org does: a channel URL, and any file below it, is a
redirect to the release directory (here /releases/<release>/), which holds nixexprs.tar.xz and
git-revision. nix-channel follows that redirect (src/nix-channel/nix-channel.cc, 2.8.0 lines
109-129); so must the exporter when it asks for <URL>/git-revision.
"""
import http.server
import os
import shutil
import subprocess
import tarfile
import threading
import time
import unittest

import harness as h
from test_flake import NatsServer


class ChannelServer:
    """Serves channels like channels.nixos.org + releases.nixos.org; counts git-revision fetches."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "srv")
        os.makedirs(os.path.join(self.dir, "releases"))
        self.current = {}  # channel -> release name
        self.broken = set()  # channels whose git-revision answers 404
        self.elsewhere = None  # set: redirect to this base URL (another host) instead
        self.revision_fetches = 0
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=server.dir, **kw)

            def log_message(self, *a):
                pass

            def do_GET(self):
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[0] in server.current:
                    rest = "/".join(parts[1:])
                    self.send_response(302)
                    self.send_header("Location", (server.elsewhere or "")
                                     + f"/releases/{server.current[parts[0]]}/{rest}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if parts[-1] == "git-revision":
                    with server.lock:
                        server.revision_fetches += 1
                    if any(server.current.get(c) == parts[1] for c in server.broken):
                        self.send_error(404)
                        return

                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, channel):
        return f"http://127.0.0.1:{self.port}/{channel}"

    def release(self, channel, version, count, revision):
        """Publishes a release of `channel` as make-channel.nix lays out its tarball."""
        name = f"{channel}.{count}.{revision[:12]}"
        rel = os.path.join(self.dir, "releases", name)
        top = os.path.join(rel, "src", f"nixos-{version}.{count}.{revision[:12]}")
        os.makedirs(top)
        for fname, text in ((".version", version), (".version-suffix", f".{count}.{revision[:12]}"),
                            (".git-revision", revision), ("default.nix", "{ ... }: { }\n")):
            with open(os.path.join(top, fname), "w") as f:
                f.write(text)
        with tarfile.open(os.path.join(rel, "nixexprs.tar.xz"), "w:xz") as t:
            t.add(top, arcname=os.path.basename(top))
        shutil.rmtree(os.path.join(rel, "src"))
        with open(os.path.join(rel, "git-revision"), "w") as f:
            f.write(revision)
        self.current[channel] = name

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def nix_channel_update(tmp, channels):
    """Runs Debian's real `nix-channel --update` for root in a private store; returns that store's
    prefix (the logical /nix is <prefix>/nix)."""
    prefix = os.path.join(tmp, "nixstore")
    home = os.path.join(tmp, "home")
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, ".nix-channels"), "w") as f:
        f.writelines(f"{url} {name}\n" for name, url in channels.items())
    env = dict(os.environ, HOME=home, NIX_STORE_DIR=f"{prefix}/nix/store",
               NIX_STATE_DIR=f"{prefix}/nix/var/nix", NIX_LOG_DIR=f"{prefix}/nix/var/log/nix",
               NIX_CONFIG="sandbox = false\nsubstituters =\nbuild-users-group =\n", USER="root")
    r = subprocess.run([h.tool("nix-channel"), "--update"], env=env, capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"nix-channel --update failed:\n{r.stderr}")
    return prefix, home


def relocate(prefix, home, root):
    """Copies the profile and the store paths nix-channel made into `root`, with link targets under
    <prefix>/nix rewritten to /nix: the tree a host with the usual store directory has. Nothing
    else changes (names, link structure, file contents, link mtimes)."""
    def copy(src, dst):
        if os.path.islink(src):
            target = os.readlink(src)
            if target.startswith(prefix + "/"):
                target = target[len(prefix):]
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.symlink(target, dst)
            st = os.lstat(src)
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
        elif os.path.isdir(src):
            os.makedirs(dst, exist_ok=True)
            for n in os.listdir(src):
                copy(os.path.join(src, n), os.path.join(dst, n))
        else:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
    copy(f"{prefix}/nix/store", f"{root}/nix/store")
    copy(f"{prefix}/nix/var/nix/profiles", f"{root}/nix/var/nix/profiles")
    copy(f"{home}/.nix-channels", f"{root}/root/.nix-channels")
    for dirpath, dirnames, _ in os.walk(f"{root}/nix/store"):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                os.chmod(p, 0o755)


def make_host(tmp, server, name="root"):
    prefix, home = nix_channel_update(os.path.join(tmp, name + "-nix"), {"nixos": server.url("nixos-24.05")})
    root = os.path.join(tmp, name)
    relocate(prefix, home, root)
    return root


def start_exporter(tmp, root, *extra, name="exporter"):
    port = h.free_port()
    p = h.Process([h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}", f"--path.root={root}",
                   "--collector.channel", *extra], tmp, name=name, port=port)
    return p, port


def channel_samples(port):
    return h.collector_samples(port, "channel")


def info(s, metric):
    return h.labels_of(s, metric)


def wait_for(predicate, port, timeout=30.0, what="condition"):
    return h.wait_for_collector(predicate, port, "channel", timeout, what)


REV1 = "1111111111111111111111111111111111111111"
REV2 = "2222222222222222222222222222222222222222"


class ChannelWithRealNixChannel(unittest.TestCase):
    def test_installed_revision_upstream_and_behind(self):
        with h.TempDir() as tmp:
            server = ChannelServer(tmp)
            try:
                server.release("nixos-24.05", "24.05", 7000, REV1)
                root = make_host(tmp, server)
                p, port = start_exporter(tmp, root, "--channel.check-interval=1s")
                with p:
                    s = wait_for(lambda s: "nixos_channel_behind{name=\"nixos\"}" in s, port,
                                 what="the upstream revision")
                    i = info(s, "nixos_channel_info")
                    self.assertEqual(i, {"name": "nixos", "url": server.url("nixos-24.05"),
                                         "revision": REV1, "version": "24.05.7000.111111111111"})
                    self.assertEqual(info(s, "nixos_channel_upstream_info")["revision"], REV1)
                    self.assertEqual(s['nixos_channel_behind{name="nixos"}'], 0)
                    self.assertEqual(s["nixos_channel_profile_generation"], 1)
                    self.assertGreater(s["nixos_channel_updated_timestamp_seconds"], 1.6e9)
                    # A commit-count suffix has no date: the age is unknown, not 0.
                    self.assertNotIn('nixos_channel_age_seconds{name="nixos"}', s)
                    self.assertEqual(s['nixos_channel_last_check_failed{name="nixos"}'], 0)

                    server.release("nixos-24.05", "24.05", 7001, REV2)  # upstream moves on
                    s = wait_for(lambda s: s.get('nixos_channel_behind{name="nixos"}') == 1, port,
                                 what="behind=1 after a new release")
                    self.assertEqual(info(s, "nixos_channel_upstream_info")["revision"], REV2)
                    self.assertEqual(info(s, "nixos_channel_info")["revision"], REV1)
                    self.assertGreaterEqual(s['nixos_channel_upstream_checks_total{result="success"}'], 2)
                    self.assertEqual(h.promtool_check_metrics(h.scrape(port)), [])
                self.assertEqual(p.returncode, 0, p.log())
            finally:
                server.stop()

    def test_failing_upstream_never_fails_a_scrape(self):
        with h.TempDir() as tmp:
            server = ChannelServer(tmp)
            try:
                server.release("nixos-24.05", "24.05", 7000, REV1)
                root = make_host(tmp, server)
                server.broken.add("nixos-24.05")
                p, port = start_exporter(tmp, root, "--channel.check-interval=1s")
                with p:
                    s = wait_for(lambda s: s.get('nixos_channel_upstream_checks_total{result="http_error"}', 0) >= 2,
                                 port, what="two failed checks")
                    self.assertEqual(s['nixos_exporter_collector_success{collector="channel"}'], 1)
                    self.assertEqual(s['nixos_channel_last_check_failed{name="nixos"}'], 1)
                    self.assertNotIn('nixos_channel_behind{name="nixos"}', s)  # unknown, not 0
                    self.assertEqual(info(s, "nixos_channel_info")["revision"], REV1)
                server.stop()  # nothing listens any more: "failed"
                p, port = start_exporter(tmp, root, "--channel.check-interval=1s",
                                         "--channel.http-timeout=1s", name="exporter2")
                with p:
                    wait_for(lambda s: s.get('nixos_channel_upstream_checks_total{result="failed"}', 0) >= 1,
                             port, what="a failed check")
            finally:
                server.stop()


class HangingServer:
    """Another host (its own port) that takes every request and never answers until stop()."""

    def __init__(self):
        self.requests = 0
        self.release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                server.requests += 1
                server.release.wait(120)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class ChannelShutdown(unittest.TestCase):
    def test_a_check_hanging_after_a_redirect_to_another_host_does_not_hold_the_shutdown(self):
        """Regression: cpp-httplib follows a redirect to another host (channels.nixos.org ->
        releases.nixos.org) in a client of its own that cancelling cannot reach, so SIGTERM waited
        for the release server's timeout (here 60 s)."""
        with h.TempDir() as tmp:
            server, release = ChannelServer(tmp), HangingServer()
            try:
                server.release("nixos-24.05", "24.05", 7000, REV1)
                root = make_host(tmp, server)
                server.elsewhere = release.url
                p, port = start_exporter(tmp, root, "--channel.check-interval=1s",
                                         "--channel.http-timeout=60s")
                with p:
                    deadline = time.monotonic() + 30
                    while release.requests < 1 and time.monotonic() < deadline:
                        time.sleep(0.05)
                    self.assertGreaterEqual(release.requests, 1, "the check never reached the release host")
                    started = time.monotonic()
                    p.stop(timeout=20)
                    self.assertEqual(p.returncode, 0, p.log())
                    self.assertLess(time.monotonic() - started, 5, "the shutdown waited for the hanging check")
            finally:
                release.stop()
                server.stop()


INTERVAL = 4


class ChannelSharingOnNats(unittest.TestCase):
    def test_one_host_asks_upstream_per_interval_the_other_learns_it(self):
        with h.TempDir() as tmp:
            server = ChannelServer(tmp)
            nats = NatsServer(tmp).start()
            procs = []
            try:
                server.release("nixos-24.05", "24.05", 7000, REV1)
                roots = [make_host(tmp, server, f"host{i}") for i in range(2)]
                for i, root in enumerate(roots):
                    p, port = start_exporter(tmp, root, f"--channel.check-interval={INTERVAL}s",
                                             "--channel.nats.enable", f"--channel.nats.url={nats.url}",
                                             name=f"host{i}")
                    procs.append((p.start(), port))
                for _, port in procs:
                    wait_for(lambda s: s.get("nixos_channel_nats_connected") == 1 and
                             'nixos_channel_upstream_info{name="nixos",revision="%s"}' % REV1 in s,
                             port, what="connected, upstream known")
                # Steady state: over several intervals the fleet asks about once per interval.
                start = server.revision_fetches
                time.sleep(3 * INTERVAL)
                asked = server.revision_fetches - start
                self.assertLessEqual(asked, 4, f"{asked} fetches by 2 hosts in 3 intervals")
                self.assertGreaterEqual(asked, 2)
                samples = [channel_samples(port) for _, port in procs]
                published = sum(s["nixos_channel_nats_messages_published_total"] for s in samples)
                received = sum(s["nixos_channel_nats_messages_received_total"] for s in samples)
                self.assertGreaterEqual(published, 2)
                self.assertGreaterEqual(received, 2)
                self.assertTrue(any(s['nixos_channel_upstream_from_nats{name="nixos"}'] == 1 for s in samples))
                # News travels: a new release, learnt by both within about two intervals.
                server.release("nixos-24.05", "24.05", 7001, REV2)
                for _, port in procs:
                    wait_for(lambda s: s.get('nixos_channel_behind{name="nixos"}') == 1, port,
                             timeout=4 * INTERVAL, what="behind=1 on every host")
            finally:
                for p, _ in procs:
                    p.stop()
                nats.stop()
                server.stop()
            for p, _ in procs:
                self.assertEqual(p.returncode, 0, p.log())


if __name__ == "__main__":
    unittest.main()
