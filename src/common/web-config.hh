#pragma once
// `--web.config.file`: TLS, mutual TLS, basic authentication and response headers, in the format of
// the Prometheus exporter-toolkit (the file node_exporter and every Go exporter read), so one file
// serves a whole host's exporters:
//
//   tls_server_config:
//     cert_file: server.crt          # relative paths are relative to this file's directory
//     key_file: server.key
//     min_version: TLS12             # TLS10..TLS13; default TLS12
//     client_auth_type: RequireAndVerifyClientCert
//     client_ca_file: clients-ca.crt
//   http_server_config:
//     headers: { Strict-Transport-Security: max-age=31536000 }
//   basic_auth_users:
//     prometheus: $2y$10$...        # bcrypt hashes only (htpasswd -nBC 10 "" | tr -d ':\n')
//   rate_limit:                     # a token bucket over every request (toolkit >= 0.15)
//     interval: 1s                  # one token per interval; 0 (the default) turns it off
//     burst: 10                     # the bucket's size, full at startup
//
// Like the toolkit, unknown keys are errors (a misspelt `client_auth_typ` must not silently turn
// mutual TLS off); unlike it, nixmon checks every bcrypt hash and loads every certificate at
// startup, so a bad file stops the program with a message instead of failing each request.
//
// Thread-safety: plain values.
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nixmon {

enum class TlsVersion { tls10, tls11, tls12, tls13 };

// The toolkit's names (Go's tls.ClientAuthType).
enum class ClientAuth {
  none,                // NoClientCert (default)
  request,             // RequestClientCert: asked for, not required, not verified
  require_any,         // RequireAnyClientCert: required, not verified
  verify_if_given,     // VerifyClientCertIfGiven: verified against client_ca_file when sent
  require_and_verify,  // RequireAndVerifyClientCert: required and verified (mutual TLS)
};

struct TlsServerConfig {
  std::filesystem::path cert_file;  // PEM chain, server certificate first
  std::filesystem::path key_file;
  std::filesystem::path client_ca_file;  // empty: none
  ClientAuth client_auth = ClientAuth::none;
  TlsVersion min_version = TlsVersion::tls12;
  TlsVersion max_version = TlsVersion::tls13;
  std::vector<std::string> cipher_suites;  // OpenSSL names, translated from Go's; empty: defaults
  std::vector<std::string> curve_preferences;  // OpenSSL group names; empty: defaults
  bool prefer_server_cipher_suites = true;
  std::vector<std::string> client_allowed_sans;  // empty: any verified client
};

// exporter-toolkit web/tls_config.go (v0.17.1, RateLimiterConfig; the limiter in Serve()):
// golang.org/x/time/rate's token bucket, rate.Every(interval) with `burst` tokens; a request that
// finds no token gets 429 before authentication. interval <= 0 turns the limiter off; burst <= 0
// with a positive interval refuses every request (as the Go limiter does).
struct RateLimit {
  std::chrono::nanoseconds interval{0};
  long long burst = 0;
  bool enabled() const { return interval.count() > 0; }
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;                                // absent: plain HTTP
  std::map<std::string, std::string, std::less<>> basic_auth_users;  // user -> bcrypt hash
  std::vector<std::pair<std::string, std::string>> headers;          // added to every response
  RateLimit rate_limit;                                              // off by default
};

// Parses the file's text. Relative paths are resolved against `base_dir`. Throws Error naming the
// line and the problem. Does not touch the file system (fuzzed as is).
WebConfig parse_web_config(std::string_view yaml, const std::filesystem::path& base_dir);

// Reads and parses `path` (nothing else). Throws UsageError "web config file <path>: <problem>".
WebConfig read_web_config(const std::filesystem::path& path);

// Reads and parses `path`, then checks that every file it names is readable. Throws UsageError
// "web config file <path>: <problem>".
WebConfig load_web_config(const std::filesystem::path& path);

std::string_view tls_version_name(TlsVersion v);  // "TLS12"

}  // namespace nixmon
