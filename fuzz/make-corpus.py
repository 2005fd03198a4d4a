#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/ from the project's own
fixtures and a few hand-picked edge cases. Run again after fixtures change; files are named by a
hash of their content, so reruns are idempotent. Crash reproducers found later are added by hand
(fuzz/corpus/<target>/regression-*), never by this script."""
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def fixture(*p):
    with open(os.path.join(SRC, "tests", "fixtures", *p), "rb") as f:
        return f.read()


def seeds():
    yield "generation-link", [b"system-1-link", b"system-42-link", b"system-0-link", b"system-01-link",
                              b"system--1-link", b"system-18446744073709551615-link", b"system-9223372036854775808-link",
                              b"system", b"system-link", b"per-user-3-link", b"-1-link"]
    roots = os.path.join(SRC, "tests", "fixtures", "roots")
    scripts, kernels, grubs, entries = [], [], [], []
    for dirpath, _, files in os.walk(roots):
        for n in files:
            p = os.path.join(dirpath, n)
            if os.path.islink(p):
                continue
            if n == "nixos-version" and "/bin/" in p:
                scripts.append(open(p, "rb").read())
            if n == "grub.cfg":
                grubs.append(open(p, "rb").read())
            if n in ("bzImage",):
                kernels.append(os.path.relpath(p, roots).split("/", 1)[1].encode())
        if dirpath.endswith("loader/entries"):
            entries.append("\n".join(sorted(files)).encode())
    scripts.append(b'#!/bin/sh\necho \'{"nixosVersion":"24.05","nixpkgsRevision":"abc","configurationRevision":"d\\u00e9"}\'\n')
    yield "nixos-version", scripts + kernels + [b"/nix/store/x-linux-6.6.30/bzImage", b"{", b'{"nixosVersion":1}']
    yield "boot-entries", grubs + entries + [b"menuentry 'NixOS' {\n}\nsubmenu 'x' {\nmenuentry 'y' {\n}\n}\n"]
    yield "listen-address", [b":9971", b"0.0.0.0:9971", b"[::1]:9971", b"localhost:0", b"::1:9971", b"[]:1", b":65536"]
    yield "duration", [b"1h30m", b"250ms", b"0", b"1.5h", b"10\xc2\xb5s", b"9223372036s", b"1h0m0s", b"2562047h47m16.854775807s"]
    # The example of docs/nixos-exporter.md, "TLS and authentication".
    reference = open(os.path.join(SRC, "docs", "nixos-exporter.md"), "rb").read()
    configs = []
    if b"tls_server_config:\n  cert_file" in reference:
        start = reference.index(b"tls_server_config:\n  cert_file")
        configs.append(reference[start:reference.index(b"```", start)])
    configs += [
        b"", b"tls_server_config:\n", b"basic_auth_users:\n  a: $2y$10$l0uFOMWSrAZXYYb.mC7VnuFefqPPlcdctwKNep8nwPDcxXPnyt5vC\n",
        b"tls_server_config: {cert_file: a, key_file: b, cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256], curve_preferences: [X25519]}\n",
        b"http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n",
        b"a: &x [1]\nb: *x\n", b"--- |\n  literal\n", b"? complex\n: key\n", b"'quoted': \"esc\\x41\"\n",
    ]
    yield "web-config", configs
    yield "basic-auth-header", [b"Basic cHJvbWV0aGV1czpzM2NyZXQ=", b"basic YTpi", b"Basic YWI=", b"Bearer x", b"Basic ===="]
    meta_test = open(os.path.join(SRC, "tests", "exporter", "flake", "flake-metadata-test.cc"), "rb").read()
    jsons = []
    for part in meta_test.split(b'R"(')[1:]:
        jsons.append(part.split(b')"', 1)[0])
    share_test = os.path.join(SRC, "tests", "exporter", "flake", "share-message-test.cc")
    if os.path.exists(share_test):
        for part in open(share_test, "rb").read().split(b'R"(')[1:]:
            jsons.append(part.split(b')"', 1)[0])
    yield "flake-metadata", jsons
    lines = []
    streams = []
    logs = os.path.join(SRC, "tests", "fixtures", "nix-logs")
    names = sorted(os.listdir(logs)) + sorted(
        "from-source/" + n for n in os.listdir(os.path.join(logs, "from-source")))
    for n in names:
        if n.endswith(".log"):
            data = fixture("nix-logs", n)
            streams.append(data)
            for l in data.splitlines():
                if l.startswith(b"@nix "):
                    lines.append(l[5:])
    lines += [b'{"action":"start","id":1,"level":0,"text":"","type":104,"machine":"m","parent":0}',
              b'{"action":"result","id":1,"type":110,"payload":{"success":true}}',
              b'{"action":"msg","level":0,"msg":"\\u001b[31;1merror:\\u001b[0m builder for \'/nix/store/x-a.drv\' failed with exit code 3","raw_msg":"x"}',
              b'{"action":"result","fields":[1,"a",true,null,1.5],"id":18446744073709551615,"type":105}',
              # Determinate Nix 3.20+: "sid" in every record, keys sorted (the fast path skips it).
              b'{"action":"result","fields":["make all"],"id":7,"sid":"01968a3c-7e2f-7c3a-9b1e-5d2f4a6b8c90","type":101}',
              b'{"action":"result","fields":[1,2,0,0],"id":8,"sid":"01968a3c-7e2f-7c3a-9b1e-5d2f4a6b8c90","type":105}',
              b'{"action":"stop","id":9,"sid":"01968a3c-7e2f-7c3a-9b1e-5d2f4a6b8c90"}']
    yield "nix-log-record", lines
    yield "nix-log-stream", [bytes([7]) + s for s in streams]
    # Outcome inference: messages (first byte 0: with raw_msg, 1: relayed), payloads (2), cache
    # names and counters (3), from the records of the same fixtures.
    outcome = []
    for l in lines:
        try:
            r = json.loads(l)
        except ValueError:
            continue
        if r.get("action") == "msg":
            if "raw_msg" in r:
                outcome.append(bytes([0]) + r["raw_msg"].encode())
            outcome.append(bytes([1]) + r["msg"].encode())
        if isinstance(r.get("payload"), dict):
            outcome.append(bytes([2]) + json.dumps(r["payload"]).encode())
    outcome += [bytes([3]) + b"s3://bucket?region=eu-west-1&profile=p" + bytes(range(32)),
                bytes([0]) + b"timed out after 10 seconds",
                bytes([0]) + b"building derivation '/nix/store/x-a.drv' killed after writing more than 1 bytes of log output"]
    yield "nod-outcome-inference", outcome


def main():
    total = 0
    for target, items in seeds():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for data in items:
            name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
            total += 1
    print(f"wrote {total} seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
