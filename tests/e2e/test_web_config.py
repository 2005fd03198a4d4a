"""--web.config.file end to end: TLS, mutual TLS, minimum TLS version and basic auth on the real
nixos-exporter, checked with the real curl and certificates made by the real openssl CLI."""
import os
import shutil
import socket
import ssl
import subprocess
import time
import unittest

import harness as h

# bcrypt hashes made with libxcrypt (crypt_gensalt "$2y$"/"$2b$", cost 10), as `htpasswd -nBC 10`
# makes them. Passwords: "scrape-secret" and "other-secret".
PROMETHEUS_HASH = "$2y$10$l0uFOMWSrAZXYYb.mC7VnuFefqPPlcdctwKNep8nwPDcxXPnyt5vC"
GRAFANA_HASH = "$2b$10$ONbjXFqr65goXympMePpJON5n7w48PqVNnPlVMAwPR.PEL1N4MXCS"


def openssl(*args, cwd):
    subprocess.run([h.tool("openssl"), *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}",
            cwd=d)


def make_cert(d, name, ca, san):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(f"subjectAltName={san}\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=d)


class Pki:
    """A server CA and its server certificate for 127.0.0.1, a client CA with two clients, and an
    unrelated CA with a server and a client certificate of its own."""

    def __init__(self, d):
        self.d = d
        make_ca(d, "server-ca")
        make_cert(d, "server", "server-ca", "IP:127.0.0.1,DNS:localhost")
        make_ca(d, "client-ca")
        make_cert(d, "client", "client-ca", "DNS:prometheus.example")
        make_cert(d, "other-client", "client-ca", "DNS:intruder.example")
        make_ca(d, "rogue-ca")
        make_cert(d, "rogue-client", "rogue-ca", "DNS:prometheus.example")

    def __call__(self, name):
        return os.path.join(self.d, name)


def curl(url, *args):
    """(curl exit code, HTTP status or 0, headers+body text)."""
    r = subprocess.run([h.tool("curl"), "-sS", "-i", "--max-time", "20", "-w", "\n%{http_code}", *args, url],
                       capture_output=True, text=True)
    lines = r.stdout.rsplit("\n", 1)
    status = int(lines[-1]) if lines[-1].isdigit() else 0
    return r.returncode, status, lines[0] + r.stderr


def write(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def start(tmp, config, *extra):
    port = h.free_port()
    p = h.Process([h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}",
                   f"--path.root={h.fixture('roots', 'nixos-basic')}", f"--web.config.file={config}", *extra],
                  tmp, port=port)
    return p, port


def run_expecting_failure(tmp, config):
    """Starts the exporter with `config`; it must exit (status 2) with a message. Returns stderr."""
    port = h.free_port()
    r = subprocess.run([h.binary("nixos-exporter"), f"--listen=127.0.0.1:{port}",
                        f"--path.root={h.fixture('roots', 'nixos-basic')}", f"--web.config.file={config}"],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    return r.returncode, r.stderr


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = h.TempDir()
        cls.tmp = cls.tmpdir.__enter__()
        cls.pki = Pki(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.__exit__(None, None, None)

    def test_server_certificate_is_served_and_checked(self):
        # Relative paths are relative to the config file's directory.
        cfg = write(self.tmp, "tls.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
        p, port = start(self.tmp, cfg)
        with p:
            code, status, out = curl(f"https://127.0.0.1:{port}/metrics", "--cacert", self.pki("server-ca.crt"))
            self.assertEqual((code, status), (0, 200), out)
            self.assertIn("nixos_generation_count 3", out)
            # A client that trusts another CA refuses the server (curl: 60, peer certificate).
            code, status, out = curl(f"https://127.0.0.1:{port}/metrics", "--cacert", self.pki("rogue-ca.crt"))
            self.assertEqual(code, 60, out)
            # Plain HTTP on the TLS port gets no metrics.
            code, status, out = curl(f"http://127.0.0.1:{port}/metrics")
            self.assertNotEqual(status, 200, out)
            self.assertNotIn("nixos_generation_count", out)
            self.assertTrue(p.alive(), p.log())
        self.assertEqual(p.returncode, 0, p.log())
        self.assertIn("tls=on", p.log())

    def test_mutual_tls_requires_a_client_certificate_from_the_client_ca(self):
        cfg = write(self.tmp, "mtls.yml", f"""
tls_server_config:
  cert_file: {self.pki('server.crt')}
  key_file: {self.pki('server.key')}
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: client-ca.crt
""")
        p, port = start(self.tmp, cfg)
        url = f"https://127.0.0.1:{port}/metrics"
        ca = ["--cacert", self.pki("server-ca.crt")]
        with p:
            code, status, out = curl(url, *ca)
            self.assertNotEqual(code, 0, "no client certificate must be refused: " + out)
            self.assertEqual(status, 0, out)
            code, status, out = curl(url, *ca, "--cert", self.pki("rogue-client.crt"), "--key", self.pki("rogue-client.key"))
            self.assertNotEqual(code, 0, "a certificate of another CA must be refused: " + out)
            code, status, out = curl(url, *ca, "--cert", self.pki("client.crt"), "--key", self.pki("client.key"))
            self.assertEqual((code, status), (0, 200), out)
            self.assertTrue(p.alive(), p.log())

    def test_client_allowed_sans_narrows_mutual_tls(self):
        cfg = write(self.tmp, "sans.yml", """
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: client-ca.crt
  client_allowed_sans: [prometheus.example]
""")
        p, port = start(self.tmp, cfg)
        url = f"https://127.0.0.1:{port}/metrics"
        ca = ["--cacert", self.pki("server-ca.crt")]
        with p:
            code, status, out = curl(url, *ca, "--cert", self.pki("client.crt"), "--key", self.pki("client.key"))
            self.assertEqual((code, status), (0, 200), out)
            code, status, out = curl(url, *ca, "--cert", self.pki("other-client.crt"), "--key", self.pki("other-client.key"))
            self.assertNotEqual(code, 0, "a client of the right CA but another name must be refused: " + out)

    def test_min_version_is_respected(self):
        cfg = write(self.tmp, "tls13.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n")
        p, port = start(self.tmp, cfg)
        url = f"https://127.0.0.1:{port}/metrics"
        ca = ["--cacert", self.pki("server-ca.crt")]
        with p:
            code, status, out = curl(url, *ca, "--tls-max", "1.2")
            self.assertEqual(code, 35, "a TLS 1.2 client must fail the handshake: " + out)
            code, status, out = curl(url, *ca, "--tlsv1.3")
            self.assertEqual((code, status), (0, 200), out)
        # And the default minimum is TLS 1.2: a TLS 1.1-only client is refused.
        cfg = write(self.tmp, "tls12.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
        p, port = start(self.tmp, cfg)
        with p:
            code, status, out = curl(f"https://127.0.0.1:{port}/metrics", *ca, "--tlsv1.2", "--tls-max", "1.2")
            self.assertEqual((code, status), (0, 200), out)
            code, status, out = curl(f"https://127.0.0.1:{port}/metrics", *ca, "--tlsv1.1", "--tls-max", "1.1",
                                     "--ciphers", "DEFAULT@SECLEVEL=0")
            self.assertNotEqual(code, 0, "TLS 1.1 must be refused by default: " + out)
        # The same TLS 1.1 client succeeds where the operator allows TLS 1.1, so the refusal above
        # is the server's doing, not the client's.
        cfg = write(self.tmp, "tls11.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS11\n")
        p, port = start(self.tmp, cfg)
        with p:
            code, status, out = curl(f"https://127.0.0.1:{port}/metrics", *ca, "--tlsv1.1", "--tls-max", "1.1",
                                     "--ciphers", "DEFAULT@SECLEVEL=0")
            self.assertEqual((code, status), (0, 200), out)


class BasicAuth(unittest.TestCase):
    def test_401_with_challenge_then_200(self):
        with h.TempDir() as tmp:
            cfg = write(tmp, "auth.yml", f"""
# the toolkit's format, comments and all
basic_auth_users:
  prometheus: {PROMETHEUS_HASH}
  "grafana": '{GRAFANA_HASH}'
http_server_config:
  headers:
    X-Frame-Options: deny
""")
            p, port = start(tmp, cfg)
            url = f"http://127.0.0.1:{port}/metrics"
            with p:
                code, status, none = curl(url)
                self.assertEqual(status, 401, none)
                self.assertRegex(none, r"(?i)www-authenticate: basic")
                self.assertNotIn("nixos_generation_count", none)
                _, status, wrong_pw = curl(url, "-u", "prometheus:nope")
                self.assertEqual(status, 401)
                _, status, wrong_user = curl(url, "-u", "nobody:scrape-secret")
                self.assertEqual(status, 401)
                # No hint which part was wrong: both failures answer the same.
                strip = lambda t: "\n".join(l for l in t.splitlines() if not l.lower().startswith("date:"))
                self.assertEqual(strip(wrong_pw), strip(wrong_user))
                _, status, other = curl(url, "-u", "prometheus:other-secret")
                self.assertEqual(status, 401, "another user's password must not work")
                _, status, out = curl(url, "-u", "prometheus:scrape-secret")
                self.assertEqual(status, 200, out)
                self.assertIn("nixos_generation_count 3", out)
                self.assertRegex(out, r"(?i)x-frame-options: deny")
                # Twice: the second answer comes from the cache of accepted credentials.
                _, status, out = curl(url, "-u", "prometheus:scrape-secret")
                self.assertEqual(status, 200, out)
                _, status, out = curl(url, "-u", "grafana:other-secret")
                self.assertEqual(status, 200, out)
                # Every path is protected, not only /metrics.
                _, status, out = curl(f"http://127.0.0.1:{port}/")
                self.assertEqual(status, 401, out)
                # A malformed header is a plain 401, not a crash.
                _, status, out = curl(url, "-H", "Authorization: Basic %%%not-base64")
                self.assertEqual(status, 401, out)
                self.assertTrue(p.alive(), p.log())
            self.assertIn("basic_auth=on", p.log())

    def test_tls_and_basic_auth_together(self):
        with h.TempDir() as tmp:
            pki = Pki(tmp)
            cfg = write(tmp, "both.yml", f"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                         f"basic_auth_users:\n  prometheus: {PROMETHEUS_HASH}\n")
            p, port = start(tmp, cfg)
            with p:
                url = f"https://127.0.0.1:{port}/metrics"
                _, status, out = curl(url, "--cacert", pki("server-ca.crt"))
                self.assertEqual(status, 401, out)
                _, status, out = curl(url, "--cacert", pki("server-ca.crt"), "-u", "prometheus:scrape-secret")
                self.assertEqual(status, 200, out)


# The exporter looks at the files at most once a second (web-config-reloader.hh): wait past that.
RECHECK = 1.3


def replace(d, source, target):
    """Puts a copy of `source` in place of `target` by rename, as certificate tools rotate files."""
    shutil.copy(os.path.join(d, source), os.path.join(d, target + ".tmp"))
    os.replace(os.path.join(d, target + ".tmp"), os.path.join(d, target))


def served_certificate(port):
    """The DER of the certificate the server presents (no verification: only which one it is)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with ctx.wrap_socket(sock) as tls:
            return tls.getpeercert(binary_form=True)


def der_of(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class Reload(unittest.TestCase):
    """As the exporter-toolkit reads the web config on every request and handshake, changed files
    take effect without a restart; a broken one fails requests (500) and handshakes, as in the
    toolkit, and is logged."""

    def test_rotated_certificate_is_served_without_a_restart(self):
        with h.TempDir() as tmp:
            make_ca(tmp, "ca")
            make_cert(tmp, "old", "ca", "IP:127.0.0.1")
            make_cert(tmp, "new", "ca", "IP:127.0.0.1")
            replace(tmp, "old.crt", "server.crt")
            replace(tmp, "old.key", "server.key")
            cfg = write(tmp, "web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
            p, port = start(tmp, cfg)
            url = f"https://127.0.0.1:{port}/metrics"
            ca = ["--cacert", os.path.join(tmp, "ca.crt")]
            with p:
                self.assertEqual(served_certificate(port), der_of(os.path.join(tmp, "old.crt")))
                replace(tmp, "new.crt", "server.crt")
                replace(tmp, "new.key", "server.key")
                time.sleep(RECHECK)
                self.assertEqual(served_certificate(port), der_of(os.path.join(tmp, "new.crt")),
                                 "the rotated certificate must be served without a restart\n" + p.log())
                code, status, out = curl(url, *ca)
                self.assertEqual((code, status), (0, 200), out)
                self.assertIn("changed and was loaded again", p.log())

                # A key that does not belong to the certificate: handshakes fail (as the toolkit's
                # GetConfigForClient fails them), the reason is logged, the process keeps running.
                replace(tmp, "old.key", "server.key")
                time.sleep(RECHECK)
                code, status, out = curl(url, *ca)
                self.assertNotEqual(code, 0, out)
                self.assertEqual(status, 0, out)
                self.assertIn("does not belong to cert_file", p.log())
                self.assertTrue(p.alive(), p.log())

                # Repaired: served again, with the new certificate.
                replace(tmp, "new.key", "server.key")
                time.sleep(RECHECK)
                code, status, out = curl(url, *ca)
                self.assertEqual((code, status), (0, 200), out + p.log())
                self.assertEqual(served_certificate(port), der_of(os.path.join(tmp, "new.crt")))
            self.assertEqual(p.returncode, 0, p.log())

    def test_a_reload_ends_the_resumption_of_earlier_sessions(self):
        """Regression: every context had the same session id context and the listening context's
        ticket keys never change, so a session made under the old client CA resumed after the CA
        was replaced, without any certificate (OpenSSL does not verify the client again when a
        session resumes). Each loaded configuration now has its own session id context."""
        with h.TempDir() as tmp:
            pki = Pki(tmp)
            replace(tmp, "client-ca.crt", "trusted-ca.crt")
            cfg = write(tmp, "web.yml", f"""
tls_server_config:
  cert_file: {pki('server.crt')}
  key_file: {pki('server.key')}
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: trusted-ca.crt
""")
            p, port = start(tmp, cfg)
            sess = os.path.join(tmp, "session.pem")

            def get(*args):
                r = subprocess.run([h.tool("openssl"), "s_client", "-connect", f"127.0.0.1:{port}",
                                    "-CAfile", pki("server-ca.crt"), "-ign_eof", *args],
                                   input="GET /metrics HTTP/1.0\r\n\r\n", capture_output=True,
                                   text=True, timeout=30)
                return r.stdout + r.stderr

            with p:
                out = get("-cert", pki("client.crt"), "-key", pki("client.key"), "-sess_out", sess)
                self.assertIn("HTTP/1.1 200", out)
                out = get("-sess_in", sess)  # same configuration: resuming is fine
                self.assertIn("Reused", out)
                self.assertIn("HTTP/1.1 200", out)
                replace(tmp, "rogue-ca.crt", "trusted-ca.crt")
                time.sleep(RECHECK)
                out = get("-sess_in", sess)
                self.assertFalse("HTTP/1.1 200" in out or "Reused" in out,
                                 "a session of the old configuration resumed")
                self.assertIn("loaded again", p.log())

    def test_edited_users_apply_and_a_broken_file_answers_500(self):
        with h.TempDir() as tmp:
            cfg = write(tmp, "web.yml", "# no users yet\n")
            p, port = start(tmp, cfg)
            url = f"http://127.0.0.1:{port}/metrics"
            with p:
                self.assertEqual(curl(url)[1], 200)
                write(tmp, "web.yml", f"basic_auth_users:\n  prometheus: {PROMETHEUS_HASH}\n")
                time.sleep(RECHECK)
                self.assertEqual(curl(url)[1], 401, "a user added to the file must be required at once")
                self.assertEqual(curl(url, "-u", "prometheus:scrape-secret")[1], 200)
                write(tmp, "web.yml", "basic_auth_users: [oops\n")
                time.sleep(RECHECK)
                code, status, out = curl(url, "-u", "prometheus:scrape-secret")
                self.assertEqual(status, 500, out)
                self.assertNotIn("nixos_generation_count", out)
                self.assertIn("every request gets 500", p.log())
                # Turning TLS on needs a restart, in the toolkit too: refused the same way.
                write(tmp, "server.crt", "")
                write(tmp, "web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.crt\n")
                time.sleep(RECHECK)
                self.assertEqual(curl(url)[1], 500)
                self.assertIn("switching TLS on or off needs a restart", p.log())
                write(tmp, "web.yml", f"basic_auth_users:\n  prometheus: {PROMETHEUS_HASH}\n")
                time.sleep(RECHECK)
                self.assertEqual(curl(url, "-u", "prometheus:scrape-secret")[1], 200)
                self.assertTrue(p.alive(), p.log())


class RateLimit(unittest.TestCase):
    def test_shared_toolkit_file_with_rate_limit_starts_and_limits(self):
        # exporter-toolkit's docs/web-configuration.md (v0.17.1): rate_limit {interval, burst}; a
        # request without a token gets 429 Too Many Requests.
        with h.TempDir() as tmp:
            cfg = write(tmp, "web.yml", "rate_limit:\n  interval: 1h\n  burst: 3\n")
            p, port = start(tmp, cfg)
            url = f"http://127.0.0.1:{port}/metrics"
            with p:
                statuses = [curl(url)[1] for _ in range(4)]
                self.assertEqual(statuses, [200, 200, 200, 429], p.log())
                _, status, out = curl(f"http://127.0.0.1:{port}/")
                self.assertEqual(status, 429, out)
                self.assertIn("Too Many Requests", out)
            self.assertEqual(p.returncode, 0, p.log())


class BadConfigs(unittest.TestCase):
    def assert_refused(self, tmp, text, *needles, name="web.yml"):
        cfg = write(tmp, name, text) if text is not None else os.path.join(tmp, name)
        code, err = run_expecting_failure(tmp, cfg)
        self.assertEqual(code, 2, err)
        self.assertIn(cfg, err, "the message must name the file")
        for n in needles:
            self.assertIn(n, err)
        return err

    def test_bad_files_stop_startup_with_a_clear_message(self):
        with h.TempDir() as tmp:
            pki = Pki(tmp)
            self.assert_refused(tmp, None, "cannot open", "No such file", name="missing.yml")
            self.assert_refused(tmp, "tls_server_config:\n  cert_file: server.crt\n  key_file: [oops\n", "line 4", "did not find expected")
            self.assert_refused(tmp, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                     "  client_auth_typ: RequireAndVerifyClientCert\n", "unknown key 'client_auth_typ'", "line 4")
            self.assert_refused(tmp, "tls_server_config:\n  cert_file: server.crt\n", "needs key_file")
            self.assert_refused(tmp, "tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n",
                                "cert_file", "nope.crt", "No such file")
            self.assert_refused(tmp, "tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n",
                                "does not belong to cert_file")
            self.assert_refused(tmp, "tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n",
                                "cert_file", "server.key")
            self.assert_refused(tmp, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                     "  min_version: TLS14\n", "min_version 'TLS14'")
            self.assert_refused(tmp, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                     "  client_auth_type: RequireAndVerifyClientCert\n", "client_ca_file is needed")
            self.assert_refused(tmp, "basic_auth_users:\n  prometheus: scrape-secret\n", "not a bcrypt hash", "prometheus")
            self.assert_refused(tmp, f"basic_auth_users:\n  a: {PROMETHEUS_HASH}\n  a: {GRAFANA_HASH}\n", "duplicate key 'a'")
            self.assert_refused(tmp, "- just\n- a list\n", "must be a mapping")


if __name__ == "__main__":
    unittest.main()
