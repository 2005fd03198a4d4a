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
//
// Like the toolkit, unknown keys are errors (a misspelt `client_auth_typ` must not silently turn
// mutual TLS off); unlike it, nixmon checks every bcrypt hash and loads every certificate at
// startup, so a bad file stops the program with a message instead of failing each request.
//
// Thread-safety: plain values.
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

struct WebConfig {
  std::optional<TlsServerConfig> tls;                                // absent: plain HTTP
  std::map<std::string, std::string, std::less<>> basic_auth_users;  // user -> bcrypt hash
  std::vector<std::pair<std::string, std::string>> headers;          // added to every response
};

// Parses the file's text. Relative paths are resolved against `base_dir`. Throws Error naming the
// line and the problem. Does not touch the file system (fuzzed as is).
WebConfig parse_web_config(std::string_view yaml, const std::filesystem::path& base_dir);

// Reads and parses `path`, then checks that every file it names is readable. Throws UsageError
// "web config file <path>: <problem>".
WebConfig load_web_config(const std::filesystem::path& path);

std::string_view tls_version_name(TlsVersion v);  // "TLS12"

}  // namespace nixmon
