#!/usr/bin/env bash
# Installs what nixmon needs to build, run and test, from Debian 12's archive only, then configures
# and builds it. Safe to run again: apt-get skips what is there, ninja rebuilds what changed.
#   scripts/setup.sh            build with the default preset (build/)
#   PRESET=asan scripts/setup.sh  build with sanitizers (build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build
  g++ cmake ninja-build pkg-config git
  # libraries (README.md, "Dependencies", says why each)
  libfmt-dev libcli11-dev libsqlite3-dev libsimdjson-dev libnats-dev libcpp-httplib-dev
  libssl-dev zlib1g-dev libbrotli-dev
  libyaml-dev libcrypt-dev  # --web.config.file: YAML, bcrypt (crypt_rn)
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3 curl sqlite3
  nix-bin prometheus prometheus-alertmanager nats-server victoria-metrics
  # a static /bin/sh for derivations built in chroot stores by the store/gc tests, and for the
  # Nix-like sandbox e2e.sandbox runs the package's checkPhase in (bubblewrap)
  busybox-static bubblewrap
  prometheus-node-exporter wrk
  openssl  # certificates made by the TLS tests
  clang libclang-rt-14-dev  # libFuzzer targets (fuzz/, PRESET=fuzz)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

preset="${PRESET:-default}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
