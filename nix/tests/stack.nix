# VM test: services.nixmon on a server and a client, plus an outsider that must not reach the
# client's exporters. The server discovers the client from its configuration (ports included).
# Run with `nix flake check` on a machine with KVM.
{ module }:
{
  name = "nixmon-stack";

  nodes = {
    server =
      { nodes, ... }:
      {
        imports = [ module ];
        services.nixmon = {
          enable = true;
          role = "server";
          # The test framework passes configs; discovery wants nixosConfigurations' shape.
          nixosConfigurations.client.config = nodes.client;
          scrapeInterval = "5s";
          victoriametrics.enable = true;
          alerting.webhooks.test.url = "http://127.0.0.1:9999/";
          grafana.openFirewall = true;
        };
        virtualisation.memorySize = 2048;
      };

    client =
      { nodes, ... }:
      {
        imports = [ module ];
        services.nixmon = {
          enable = true;
          role = "client";
          address = nodes.client.networking.primaryIPAddress;
          server.address = nodes.server.networking.primaryIPAddress;
        };
        # A port of its own: the server must read it from this configuration.
        services.prometheus.exporters.nixos.port = 9981;
        services.postgresql.enable = true;
      };

    outsider = { ... }: { };
  };

  # The driver runs every command under `set -euo pipefail`
  # (nixos/lib/test-driver/src/test_driver/machine/__init__.py): a `grep -q` that exits at its first
  # match can make curl fail writing the rest, so grep reads the whole response.
  testScript = ''
    start_all()
    client.wait_for_unit("prometheus-nixos-exporter.service")
    client.wait_for_unit("prometheus-node-exporter.service")
    client.wait_for_unit("prometheus-postgres-exporter.service")
    client.wait_for_open_port(9981)

    server.wait_for_unit("prometheus.service")
    server.wait_for_unit("alertmanager.service")
    server.wait_for_unit("grafana.service")
    server.wait_for_unit("loki.service")

    # Firewall: the server may scrape the client, the outsider may not.
    server.succeed("curl -sf --max-time 10 http://client:9981/metrics | grep nixos_generation_count >/dev/null")
    outsider.fail("curl -sf --max-time 5 http://client:9981/metrics")
    outsider.fail("curl -sf --max-time 5 http://client:9100/metrics")

    # Prometheus scrapes every exporter of the client at the port the client chose.
    for job in ("node", "nixos", "nod", "postgres"):
      server.wait_until_succeeds(
        f"curl -sf 'http://127.0.0.1:9090/api/v1/query?query=up{{job=\"{job}\",host=\"client\"}}==1' | grep '\"value\"' >/dev/null",
        timeout=120,
      )

    # remote_write reaches VictoriaMetrics.
    server.wait_until_succeeds(
      "curl -sf 'http://127.0.0.1:8428/api/v1/query?query=nixos_generation_count' | grep client >/dev/null", timeout=120
    )

    # Alertmanager runs the generated configuration: the severity routes and receivers.
    status = server.succeed("curl -sf http://127.0.0.1:9093/api/v2/status")
    for receiver in ("critical", "warning", "info", "null"):
      assert f"name: {receiver}" in status, status

    # Grafana is provisioned with the datasources.
    server.wait_until_succeeds(
      "curl -sf -u admin:$(cat /var/lib/grafana/nixmon-admin-password) http://127.0.0.1:3000/api/datasources | grep '\"uid\":\"prometheus\"' >/dev/null"
    )

    # The client's journal arrives in Loki.
    client.succeed("logger -t nixmon-vm-test hello-from-client")
    server.wait_until_succeeds(
      "curl -sfG http://127.0.0.1:3100/loki/api/v1/query_range --data-urlencode 'query={host=\"client\"} |= \"hello-from-client\"' | grep hello-from-client >/dev/null",
      timeout=180,
    )
  '';
}
