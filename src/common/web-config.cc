#include "common/web-config.hh"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/duration.hh"
#include "common/error.hh"
#include "common/tls-context.hh"
#include "common/yaml.hh"

namespace nixmon {

namespace {

constexpr std::size_t max_file_bytes = 1 << 20;

Error bad(const YamlNode& n, std::string_view what) {
  return Error(fmt::format("{}: {}", n.where(), what));
}

// The mapping at `n` (null counts as an empty mapping), with every key checked against `known`.
const YamlNode& mapping(const YamlNode& n, std::string_view section,
                        const std::vector<std::string_view>& known) {
  if (n.kind != YamlNode::Kind::mapping && !n.is_null())
    throw bad(n, fmt::format("{} must be a mapping, found {}", section, n.kind_name()));
  for (std::size_t i = 0; i < n.keys.size(); ++i) {
    const std::string& key = n.keys[i];
    const YamlNode& value = n.values[i];
    bool ok = false;
    for (auto k : known) ok = ok || key == k;
    if (!ok) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      throw bad(value, fmt::format("unknown key '{}' in {} (known: {})", key, section, list));
    }
  }
  return n;
}

std::string string_of(const YamlNode& n, std::string_view key) {
  if (n.is_null()) return "";
  if (n.kind != YamlNode::Kind::scalar)
    throw bad(n, fmt::format("{} must be a single value, found {}", key, n.kind_name()));
  return n.value;
}

bool bool_of(const YamlNode& n, std::string_view key) {
  std::string v = string_of(n, key);
  if (!n.quoted) {
    if (v == "true" || v == "True" || v == "TRUE" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "False" || v == "FALSE" || v == "no" || v == "off") return false;
  }
  throw bad(n, fmt::format("{} must be true or false, found '{}'", key, v));
}

std::vector<std::string> strings_of(const YamlNode& n, std::string_view key) {
  std::vector<std::string> out;
  if (n.is_null()) return out;
  if (n.kind != YamlNode::Kind::sequence)
    throw bad(n, fmt::format("{} must be a list, found {}", key, n.kind_name()));
  for (const auto& item : n.items) out.push_back(string_of(item, key));
  return out;
}

std::filesystem::path path_of(const YamlNode& n, std::string_view key,
                              const std::filesystem::path& base) {
  std::string v = string_of(n, key);
  if (v.empty()) return {};
  if (v.find('\0') != std::string::npos) throw bad(n, fmt::format("{} contains a NUL byte", key));
  std::filesystem::path p(v);
  return p.is_absolute() ? p : base / p;
}

TlsVersion version_of(const YamlNode& n, std::string_view key) {
  std::string v = string_of(n, key);
  if (v == "TLS10") return TlsVersion::tls10;
  if (v == "TLS11") return TlsVersion::tls11;
  if (v == "TLS12") return TlsVersion::tls12;
  if (v == "TLS13") return TlsVersion::tls13;
  throw bad(n, fmt::format("{} '{}' is not one of TLS10, TLS11, TLS12, TLS13", key, v));
}

ClientAuth client_auth_of(const YamlNode& n) {
  std::string v = string_of(n, "client_auth_type");
  if (v.empty() || v == "NoClientCert") return ClientAuth::none;
  if (v == "RequestClientCert") return ClientAuth::request;
  if (v == "RequireAnyClientCert") return ClientAuth::require_any;
  if (v == "VerifyClientCertIfGiven") return ClientAuth::verify_if_given;
  if (v == "RequireAndVerifyClientCert") return ClientAuth::require_and_verify;
  throw bad(n,
            fmt::format("client_auth_type '{}' is not one of NoClientCert, RequestClientCert, "
                        "RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert",
                        v));
}

// Go's names of the TLS 1.0-1.2 suites it implements, and OpenSSL's for the same suite. Go does
// not let TLS 1.3 suites be chosen, nor does the toolkit.
constexpr std::array<std::pair<std::string_view, std::string_view>, 18> go_cipher_suites{{
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 4> go_curves{{
    {"CurveP256", "P-256"},
    {"CurveP384", "P-384"},
    {"CurveP521", "P-521"},
    {"X25519", "X25519"},
}};

template <std::size_t N>
std::vector<std::string> translate(
    const YamlNode& n, std::string_view key,
    const std::array<std::pair<std::string_view, std::string_view>, N>& table) {
  std::vector<std::string> out;
  std::vector<std::string> names = strings_of(n, key);
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto* found = std::find_if(table.begin(), table.end(),
                                     [&](const auto& e) { return e.first == names[i]; });
    if (found == table.end())
      throw bad(n.items[i],
                fmt::format("{}: '{}' is not a name Go's crypto/tls knows here", key, names[i]));
    out.emplace_back(found->second);
  }
  return out;
}

TlsServerConfig tls_of(const YamlNode& n, const std::filesystem::path& base) {
  mapping(n, "tls_server_config",
          {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version",
           "max_version", "cipher_suites", "curve_preferences", "prefer_server_cipher_suites",
           "client_allowed_sans", "cert", "key", "client_ca"});
  for (std::string_view inline_key : {"cert", "key", "client_ca"})
    if (const YamlNode* v = n.find(inline_key); v && !v->is_null())
      throw bad(*v, fmt::format("inline '{0}' is not supported; put it in a file and use {0}_file",
                                inline_key));
  TlsServerConfig t;
  auto get = [&](std::string_view key) -> const YamlNode* { return n.find(key); };
  if (auto* v = get("cert_file")) t.cert_file = path_of(*v, "cert_file", base);
  if (auto* v = get("key_file")) t.key_file = path_of(*v, "key_file", base);
  if (auto* v = get("client_ca_file")) t.client_ca_file = path_of(*v, "client_ca_file", base);
  if (auto* v = get("client_auth_type")) t.client_auth = client_auth_of(*v);
  if (auto* v = get("min_version"); v && !v->is_null())
    t.min_version = version_of(*v, "min_version");
  if (auto* v = get("max_version"); v && !v->is_null())
    t.max_version = version_of(*v, "max_version");
  if (auto* v = get("cipher_suites"))
    t.cipher_suites = translate(*v, "cipher_suites", go_cipher_suites);
  if (auto* v = get("curve_preferences"))
    t.curve_preferences = translate(*v, "curve_preferences", go_curves);
  if (auto* v = get("prefer_server_cipher_suites"); v && !v->is_null())
    t.prefer_server_cipher_suites = bool_of(*v, "prefer_server_cipher_suites");
  if (auto* v = get("client_allowed_sans"))
    t.client_allowed_sans = strings_of(*v, "client_allowed_sans");

  if (t.cert_file.empty()) throw bad(n, "tls_server_config needs cert_file");
  if (t.key_file.empty()) throw bad(n, "tls_server_config needs key_file");
  if (t.min_version > t.max_version)
    throw bad(n, fmt::format("min_version {} is above max_version {}",
                             tls_version_name(t.min_version), tls_version_name(t.max_version)));
  bool verifies = t.client_auth == ClientAuth::verify_if_given ||
                  t.client_auth == ClientAuth::require_and_verify;
  if (verifies && t.client_ca_file.empty())
    throw bad(n, "client_auth_type verifies client certificates, so client_ca_file is needed");
  if (!verifies && !t.client_ca_file.empty())
    throw bad(n,
              "client_ca_file is set but client_auth_type does not verify client certificates "
              "(use RequireAndVerifyClientCert or VerifyClientCertIfGiven)");
  if (!t.client_allowed_sans.empty() && t.client_auth != ClientAuth::require_and_verify)
    throw bad(n, "client_allowed_sans needs client_auth_type RequireAndVerifyClientCert");
  return t;
}

// What crypt(3) calls bcrypt: $2a$, $2b$ or $2y$, a two-digit cost, 53 characters of ./A-Za-z0-9.
bool is_bcrypt_hash(std::string_view h) {
  if (h.size() != 60 || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$') return false;
  if (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') return false;
  if (h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9') return false;
  int cost = (h[4] - '0') * 10 + (h[5] - '0');
  if (cost < 4 || cost > 31) return false;
  for (char c : h.substr(7)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '/';
    if (!ok) return false;
  }
  return true;
}

// The toolkit allows these headers only, and checks the values of two of them.
constexpr std::array<std::string_view, 5> allowed_headers{
    "Strict-Transport-Security", "X-Frame-Options", "X-Content-Type-Options", "X-XSS-Protection",
    "Content-Security-Policy"};

std::vector<std::pair<std::string, std::string>> headers_of(const YamlNode& n) {
  mapping(n, "http_server_config.headers", {allowed_headers.begin(), allowed_headers.end()});
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < n.keys.size(); ++i) {
    const std::string& key = n.keys[i];
    const YamlNode& value = n.values[i];
    std::string v = string_of(value, key);
    for (char c : v)
      if (c == '\r' || c == '\n' || c == '\0')
        throw bad(value, fmt::format("header {} contains a line break or NUL", key));
    if (key == "X-Frame-Options" && v != "deny" && v != "sameorigin")
      throw bad(value, "X-Frame-Options must be deny or sameorigin");
    if (key == "X-Content-Type-Options" && v != "nosniff")
      throw bad(value, "X-Content-Type-Options must be nosniff");
    out.emplace_back(key, v);
  }
  return out;
}

// yaml.v2 (which the toolkit decodes with) reads a time.Duration from a string with
// time.ParseDuration and from a bare integer as nanoseconds.
std::chrono::nanoseconds duration_of(const YamlNode& n, std::string_view key) {
  std::string v = string_of(n, key);
  if (v.empty()) return std::chrono::nanoseconds(0);
  bool integer = !n.quoted && v.find_first_not_of("0123456789") == std::string::npos;
  try {
    if (integer) return std::chrono::nanoseconds(std::stoll(v));
    return parse_duration(v);
  } catch (const std::exception&) {
    throw bad(n, fmt::format("{} '{}' is not a duration (e.g. 1s, 500ms)", key, v));
  }
}

long long integer_of(const YamlNode& n, std::string_view key) {
  std::string v = string_of(n, key);
  if (v.empty()) return 0;
  std::size_t digits = v[0] == '-' ? 1 : 0;
  if (n.quoted || v.size() == digits ||
      v.find_first_not_of("0123456789", digits) != std::string::npos)
    throw bad(n, fmt::format("{} must be an integer, found '{}'", key, v));
  try {
    return std::stoll(v);
  } catch (const std::exception&) {
    throw bad(n, fmt::format("{} '{}' is out of range", key, v));
  }
}

RateLimit rate_limit_of(const YamlNode& n) {
  mapping(n, "rate_limit", {"interval", "burst"});
  RateLimit r;
  if (const YamlNode* v = n.find("interval")) r.interval = duration_of(*v, "rate_limit.interval");
  if (const YamlNode* v = n.find("burst")) r.burst = integer_of(*v, "rate_limit.burst");
  return r;
}

}  // namespace

std::string_view tls_version_name(TlsVersion v) {
  switch (v) {
    case TlsVersion::tls10:
      return "TLS10";
    case TlsVersion::tls11:
      return "TLS11";
    case TlsVersion::tls12:
      return "TLS12";
    case TlsVersion::tls13:
      return "TLS13";
  }
  return "?";
}

WebConfig parse_web_config(std::string_view yaml, const std::filesystem::path& base_dir) {
  YamlNode doc = parse_yaml(yaml);
  WebConfig c;
  if (doc.is_null()) return c;  // an empty file: plain HTTP, no authentication (as the toolkit)
  mapping(doc, "the web config",
          {"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"});
  if (const YamlNode* t = doc.find("tls_server_config"); t && !t->is_null())
    c.tls = tls_of(*t, base_dir);
  if (const YamlNode* h = doc.find("http_server_config")) {
    mapping(*h, "http_server_config", {"http2", "headers"});
    if (const YamlNode* v = h->find("http2"); v && !v->is_null())
      bool_of(*v, "http2");  // HTTP/1.1 only
    if (const YamlNode* v = h->find("headers")) c.headers = headers_of(*v);
  }
  if (const YamlNode* r = doc.find("rate_limit")) c.rate_limit = rate_limit_of(*r);
  if (const YamlNode* u = doc.find("basic_auth_users")) {
    if (u->kind != YamlNode::Kind::mapping && !u->is_null())
      throw bad(*u, fmt::format("basic_auth_users must be a mapping, found {}", u->kind_name()));
    for (std::size_t i = 0; i < u->keys.size(); ++i) {
      const std::string& user = u->keys[i];
      const YamlNode& hash = u->values[i];
      if (user.empty()) throw bad(hash, "basic_auth_users: empty user name");
      if (user.find(':') != std::string::npos)
        throw bad(hash, fmt::format("basic_auth_users: user name '{}' contains ':'", user));
      std::string h = string_of(hash, "basic_auth_users");
      if (!is_bcrypt_hash(h))
        throw bad(hash, fmt::format("basic_auth_users: the password of '{}' is not a bcrypt hash "
                                    "($2y$..., 60 characters; make one with htpasswd -nBC 10 \"\")",
                                    user));
      c.basic_auth_users.emplace(user, std::move(h));
    }
  }
  return c;
}

WebConfig read_web_config(const std::filesystem::path& path) {
  auto fail = [&](std::string_view what) {
    return UsageError(fmt::format("web config file {}: {}", path.string(), what));
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) throw fail(SysError("cannot open").what());
  std::string text;
  text.resize(max_file_bytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) throw fail(SysError("cannot read").what());
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_file_bytes) throw fail("larger than 1 MiB; not a web config");
  WebConfig c;
  try {
    c = parse_web_config(text, std::filesystem::absolute(path).parent_path());
  } catch (const Error& e) {
    throw fail(e.what());
  }
  return c;
}

WebConfig load_web_config(const std::filesystem::path& path) {
  auto fail = [&](std::string_view what) {
    return UsageError(fmt::format("web config file {}: {}", path.string(), what));
  };
  WebConfig c = read_web_config(path);
  if (c.tls) {
    for (const auto& [what, p] : {std::pair{"cert_file", &c.tls->cert_file},
                                  {"key_file", &c.tls->key_file},
                                  {"client_ca_file", &c.tls->client_ca_file}}) {
      if (p->empty()) continue;
      if (::access(p->c_str(), R_OK) != 0) throw fail(SysError("{} {}", what, p->c_str()).what());
    }
    // Load the certificates and keys once now, so that a bad one is reported with this file's
    // name and before anything listens.
    std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_server_method()),
                                                     SSL_CTX_free);
    if (!ctx) throw fail("OpenSSL cannot create a TLS context");
    try {
      configure_server_tls(*ctx, *c.tls);
    } catch (const Error& e) {
      throw fail(e.what());
    }
  }
  return c;
}

}  // namespace nixmon
