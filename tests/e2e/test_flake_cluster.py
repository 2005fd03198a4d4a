"""Flake sharing over a NATS cluster: three real nats-server processes on loopback joined by
routes, exporters each given all three URLs but first connected to different nodes. A node dies:
its exporters fail over to the others and the fleet keeps running nix about once per interval.
The fetching host dies: another takes over within two intervals.
"""
import json
import os
import signal
import time
import unittest

import harness as h
from test_flake import FakeRoot, Flake, count, flake_samples, info_labels, nix_wrapper, start_exporter, wait_for

INTERVAL = 4  # seconds; followers wait 1-2 s more, far more than a local nix needs


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class NatsCluster:
    """n real nats-server processes on loopback, each with a `cluster` block whose routes name the
    others (free ports, temp config files). Nodes can be killed and started again on their ports."""

    def __init__(self, tmp, n=3, name="nats"):
        self.tmp = tmp
        self.name = name
        self.ports = [h.free_port() for _ in range(n)]
        self.cluster_ports = [h.free_port() for _ in range(n)]
        self.http_ports = [h.free_port() for _ in range(n)]
        self.procs = [None] * n

    @property
    def urls(self):
        return [f"nats://127.0.0.1:{p}" for p in self.ports]

    def config(self, i):
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for j, p in enumerate(self.cluster_ports) if j != i)
        return (f"server_name: {self.name}{i}\nlisten: 127.0.0.1:{self.ports[i]}\n"
                f"http: 127.0.0.1:{self.http_ports[i]}\n"
                f"cluster {{\n  name: {self.name}\n  listen: 127.0.0.1:{self.cluster_ports[i]}\n"
                f"  routes: [ {routes} ]\n}}\n")

    def start_node(self, i):
        path = os.path.join(self.tmp, f"{self.name}{i}.conf")
        with open(path, "w") as f:
            f.write(self.config(i))
        self.procs[i] = h.Process([h.tool("nats-server"), "-c", path], self.tmp, name=f"{self.name}{i}",
                                  port=self.ports[i]).start()

    def start(self):
        for i in range(len(self.ports)):
            self.start_node(i)
        self.wait_routed()
        return self

    def kill_node(self, i):
        self.procs[i].stop(sig=signal.SIGKILL)
        self.procs[i] = None

    def stop(self):
        for i, p in enumerate(self.procs):
            if p:
                p.stop()
                self.procs[i] = None

    def monitor(self, i, endpoint):
        return json.loads(h.http_get(f"http://127.0.0.1:{self.http_ports[i]}/{endpoint}")[2])

    def running(self):
        return [i for i, p in enumerate(self.procs) if p]

    def wait_routed(self, timeout=20):
        """Until every running node has a route to every other running node."""
        up = self.running()

        def routed():
            try:
                return all(self.monitor(i, "routez")["num_routes"] >= len(up) - 1 for i in up)
            except OSError:  # the monitoring port may open a moment after the client port
                return False
        wait_until(routed, timeout, f"routes between nodes {up}")

    def clients(self, i):
        return self.monitor(i, "connz")["num_connections"]


class FlakeSharingOnNatsCluster(unittest.TestCase):
    def test_a_node_and_the_fetching_host_die_and_sharing_goes_on(self):
        with h.TempDir() as tmp:
            flake = Flake(tmp)
            root = FakeRoot(tmp)
            root.run_system("0" * 40)  # never equal to the remote: no smart refresh here
            cluster = NatsCluster(tmp).start()
            fleet = []  # (process, port, calls), exporter i first connected to node i
            try:
                for i in range(3):
                    urls = cluster.urls[i:] + cluster.urls[:i]  # all three, node i first
                    wrapper, calls = nix_wrapper(tmp, f"host{i}")
                    p, port = start_exporter(tmp, root.dir, f"--flake.url={flake.url}",
                                             f"--flake.check-interval={INTERVAL}s", f"--flake.nix-binary={wrapper}",
                                             "--flake.nats.enable", "--flake.nats.url=" + ",".join(urls),
                                             name=f"host{i}")
                    fleet.append((p.start(), port, calls))
                # One client on each node: the first URL given is the first tried.
                wait_until(lambda: [cluster.clients(i) for i in range(3)] == [1, 1, 1], 10,
                           "one exporter on each node")
                for p, port, _ in fleet:
                    wait_for(lambda s: info_labels(s) and info_labels(s)["remote_rev"] == flake.head(), port)

                fetcher = self.shared_window(fleet, flake)

                # The fetcher's node dies: that host fails over to another node; sharing goes on.
                cluster.kill_node(fetcher)
                _, port, _ = fleet[fetcher]
                s = wait_for(lambda s: s["nixos_flake_nats_reconnects_total"] >= 1 and
                             s["nixos_flake_nats_connected"] == 1, port, timeout=10, what="failed over")
                self.assertEqual(sum(cluster.clients(i) for i in cluster.running()), 3)
                # A new commit: the window's check that every host serves flake.head() (the others
                # from NATS) shows it crossed the remaining nodes' routes.
                flake.commit(1)
                fetcher = self.shared_window(fleet, flake)

                # The node comes back and rejoins the cluster; then the fetching host dies.
                cluster.start_node(next(i for i in range(3) if i not in cluster.running()))
                cluster.wait_routed()
                killed_at = time.monotonic()
                fleet[fetcher][0].stop(sig=signal.SIGKILL)
                rest = [f for i, f in enumerate(fleet) if i != fetcher]
                before = [count(c) for _, _, c in rest]
                wait_until(lambda: any(count(c) > b for (_, _, c), b in zip(rest, before)), 3 * INTERVAL,
                           "another host to run nix")
                took = time.monotonic() - killed_at
                self.assertLessEqual(took, 2 * INTERVAL, f"the fetcher was replaced after {took:.1f}s")
                self.shared_window(rest, flake)
                for p, _, _ in rest:
                    self.assertTrue(p.alive(), p.log())
            finally:
                for p, _, _ in fleet:
                    p.stop()
                cluster.stop()
            for p, _, _ in rest:
                self.assertEqual(p.returncode, 0, p.log())

    def shared_window(self, fleet, flake, intervals=2, tries=4):
        """Waits (a few windows at most) for a window of `intervals` intervals in which one host ran
        nix at least once per interval and the others none, learning the revision over NATS; returns
        that host's index in `fleet`."""
        seen = []
        for _ in range(tries):
            before = [count(c) for _, _, c in fleet]
            time.sleep(intervals * INTERVAL)
            deltas = [count(c) - b for (_, _, c), b in zip(fleet, before)]
            seen.append(deltas)
            if sum(1 for d in deltas if d > 0) == 1 and max(deltas) >= intervals:
                for (_, port, _), d in zip(fleet, deltas):
                    s = flake_samples(port)
                    self.assertEqual(info_labels(s)["remote_rev"], flake.head())
                    self.assertEqual(s["nixos_flake_nats_connected"], 1)
                    if d == 0:
                        self.assertEqual(s["nixos_flake_remote_from_nats"], 1)
                return next(i for i, d in enumerate(deltas) if d > 0)
        self.fail(f"no window of {intervals * INTERVAL}s where a single host ran nix; per-host counts: {seen}")


if __name__ == "__main__":
    unittest.main()
