"""remote_write for fleets that outgrow one Prometheus: a real Prometheus (Debian) scrapes the real
nixos-exporter on a fake NixOS root and remote-writes to a real VictoriaMetrics (Debian), all on
loopback with free ports and temporary directories; the samples are then read back from
VictoriaMetrics. The Prometheus configuration is the one services.nixmon generates (when nixpkgs'
lib is available; see nixeval.py), and a minimal hand-written one otherwise."""
import json
import os
import time
import unittest
import urllib.parse

import harness as h
import nixeval as n

DEADLINE = 120  # seconds to wait for samples to arrive; a bound on waiting, not a timing assertion


def module_config(lib, prometheus_port, exporter_port, vm_port):
    s = n.run([f"""{{
      networking.hostName = "rw";
      services.nixmon = {{
        enable = true;
        role = "server";
        monitorSelf = false;
        scrapeInterval = "1s";
        alerting.enable = false;
        grafana.enable = false;
        loki.enable = false;
        logs.enable = false;
        prometheus.port = {prometheus_port};
        hosts.local = {{ address = "127.0.0.1"; targets = {{ nixos = {exporter_port}; }}; labels.site = "loopback"; }};
        remoteWrite = [ {{ url = "http://127.0.0.1:{vm_port}/api/v1/write"; name = "vm";
                           queueConfig.batch_send_deadline = "1s"; }} ];
      }};
    }}"""], lib)
    assert s["failedAssertions"] == [], s["failedAssertions"]
    return s["prometheus"]["yml"]


def minimal_config(prometheus_port, exporter_port, vm_port):
    return {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "nixos", "static_configs": [
            {"targets": [f"127.0.0.1:{exporter_port}"], "labels": {"host": "local", "site": "loopback"}}]}],
        "remote_write": [{"url": f"http://127.0.0.1:{vm_port}/api/v1/write", "name": "vm",
                          "queue_config": {"batch_send_deadline": "1s"}}],
    }


def export(vm_port, match):
    """Raw samples of the series matching `match`, from VictoriaMetrics' export API."""
    q = urllib.parse.urlencode({"match[]": match})
    status, _, body = h.http_get(f"http://127.0.0.1:{vm_port}/api/v1/export?{q}")
    if status != 200:
        raise AssertionError(f"export answered {status}: {body[:300]!r}")
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


class RemoteWriteToVictoriaMetrics(unittest.TestCase):
    def ship(self, make_config):
        with h.TempDir() as tmp:
            root = h.copy_root("nixos-basic", os.path.join(tmp, "root"))
            exporter_port, prometheus_port, vm_port = h.free_port(), h.free_port(), h.free_port()
            config = make_config(prometheus_port, exporter_port, vm_port)
            config_path = os.path.join(tmp, "prometheus.yml")
            with open(config_path, "w") as f:
                json.dump(config, f)

            exporter = h.Process([h.binary("nixos-exporter"), f"--listen=127.0.0.1:{exporter_port}",
                                  f"--path.root={root}"], tmp, port=exporter_port)
            vm = h.Process([h.tool("victoria-metrics"), f"-storageDataPath={tmp}/vm",
                            f"-httpListenAddr=127.0.0.1:{vm_port}", "-retentionPeriod=1"],
                           tmp, port=vm_port)
            prometheus = h.Process([h.tool("prometheus"), f"--config.file={config_path}",
                                    f"--storage.tsdb.path={tmp}/prometheus",
                                    f"--web.listen-address=127.0.0.1:{prometheus_port}"],
                                   tmp, port=prometheus_port)
            with exporter, vm, prometheus:
                deadline = time.monotonic() + DEADLINE
                series = []
                while time.monotonic() < deadline:
                    series = export(vm_port, 'nixos_generation_count{host="local"}')
                    if series:
                        break
                    time.sleep(0.5)
                self.assertTrue(series, "no sample reached VictoriaMetrics:\n" + prometheus.log()[-3000:])
                generations = export(vm_port, '{__name__=~"nixos_.*",host="local"}')
                self.assertTrue(prometheus.alive() and vm.alive() and exporter.alive())
            return series, generations

    def check(self, series, everything):
        self.assertEqual(len(series), 1, series)
        metric = series[0]["metric"]
        self.assertEqual(metric["__name__"], "nixos_generation_count")
        self.assertEqual(metric["job"], "nixos")
        self.assertEqual(metric["host"], "local")
        self.assertEqual(metric["site"], "loopback")
        # The fixture root has three generations: every shipped sample says so.
        self.assertTrue(series[0]["values"])
        self.assertEqual(set(series[0]["values"]), {3})
        names = {s["metric"]["__name__"] for s in everything}
        for name in ("nixos_current_generation", "nixos_booted_generation", "nixos_exporter_collector_success"):
            self.assertIn(name, names)

    def test_generated_config_ships_the_exporters_samples(self):
        lib = n.require_lib(self)
        self.check(*self.ship(lambda p, e, v: module_config(lib, p, e, v)))

    def test_minimal_config_ships_the_exporters_samples(self):
        # Runs without nixpkgs' lib: Prometheus -> VictoriaMetrics itself is always tested.
        self.check(*self.ship(minimal_config))


if __name__ == "__main__":
    unittest.main()
