// The web config parser (exporter-toolkit format), its YAML reader and basic-auth checks.
#include "common/web-config.hh"

#include <gtest/gtest.h>

#include "common/basic-auth.hh"
#include "common/error.hh"
#include "common/yaml.hh"

using namespace nixmon;

namespace {

// "scrape-secret", cost 10, as htpasswd -nBC 10 writes it.
const std::string prometheus_hash = "$2y$10$l0uFOMWSrAZXYYb.mC7VnuFefqPPlcdctwKNep8nwPDcxXPnyt5vC";

std::string error_of(std::string_view yaml) {
  try {
    parse_web_config(yaml, "/etc/exporter");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Yaml, BuildsATreeWithPositions) {
  YamlNode n = parse_yaml("a: 1\nb:\n  - x\n  - 'y'\nc: {d: ~}\n");
  ASSERT_EQ(n.kind, YamlNode::Kind::mapping);
  EXPECT_EQ(n.find("a")->value, "1");
  EXPECT_EQ(n.find("b")->items.size(), 2u);
  EXPECT_TRUE(n.find("b")->items[1].quoted);
  EXPECT_EQ(n.find("b")->items[0].line, 3u);
  EXPECT_TRUE(n.find("c")->find("d")->is_null());
}

TEST(Yaml, RefusesWhatConfigsNeverNeed) {
  EXPECT_THROW(parse_yaml("a: &x 1\nb: *x\n"), Error);
  EXPECT_THROW(parse_yaml("a: 1\na: 2\n"), Error);
  EXPECT_THROW(parse_yaml("---\na: 1\n---\nb: 2\n"), Error);
  EXPECT_THROW(parse_yaml("? [a]\n: 1\n"), Error);
  EXPECT_THROW(parse_yaml(std::string(100, '[') + std::string(100, ']')), Error);
  EXPECT_TRUE(parse_yaml("").is_null());
  EXPECT_TRUE(parse_yaml("# only a comment\n").is_null());
}

TEST(WebConfig, ToolkitExample) {
  WebConfig c = parse_web_config(R"(
tls_server_config:
  cert_file: server.crt
  key_file: /abs/server.key
  client_auth_type: "RequireAndVerifyClientCert"
  client_ca_file: ca.crt
  min_version: TLS13
  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
  curve_preferences: [X25519]
  client_allowed_sans: [prometheus.example]
http_server_config:
  http2: false
  headers:
    X-Content-Type-Options: nosniff
basic_auth_users:
  prometheus: )" + prometheus_hash + "\n",
                                 "/etc/exporter");
  ASSERT_TRUE(c.tls);
  EXPECT_EQ(c.tls->cert_file, "/etc/exporter/server.crt");
  EXPECT_EQ(c.tls->key_file, "/abs/server.key");
  EXPECT_EQ(c.tls->client_ca_file, "/etc/exporter/ca.crt");
  EXPECT_EQ(c.tls->client_auth, ClientAuth::require_and_verify);
  EXPECT_EQ(c.tls->min_version, TlsVersion::tls13);
  EXPECT_EQ(c.tls->cipher_suites, std::vector<std::string>{"ECDHE-RSA-AES128-GCM-SHA256"});
  EXPECT_EQ(c.tls->curve_preferences, std::vector<std::string>{"X25519"});
  EXPECT_EQ(c.basic_auth_users.at("prometheus"), prometheus_hash);
  ASSERT_EQ(c.headers.size(), 1u);
  EXPECT_EQ(c.headers[0].first, "X-Content-Type-Options");
}

TEST(WebConfig, EmptyMeansPlainHttp) {
  WebConfig c = parse_web_config("", "/");
  EXPECT_FALSE(c.tls);
  EXPECT_TRUE(c.basic_auth_users.empty());
  EXPECT_FALSE(parse_web_config("tls_server_config:\n", "/").tls);
}

TEST(WebConfig, ErrorsNameTheLineAndTheProblem) {
  EXPECT_NE(error_of("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_typ: x\n")
                .find("line 4"),
            std::string::npos);
  EXPECT_NE(error_of("tls_server_config: {cert_file: a}\n").find("needs key_file"),
            std::string::npos);
  EXPECT_NE(error_of("tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, "
                     "max_version: TLS12}\n")
                .find("above max_version"),
            std::string::npos);
  EXPECT_NE(error_of("tls_server_config: {cert_file: a, key_file: b, client_ca_file: c}\n")
                .find("does not verify"),
            std::string::npos);
  EXPECT_NE(error_of("tls_server_config: {cert_file: a, key_file: b, cert: x}\n").find("inline"),
            std::string::npos);
  EXPECT_NE(error_of("tls_server_config: {cert_file: a, key_file: b, cipher_suites: [RC4]}\n")
                .find("RC4"),
            std::string::npos);
  EXPECT_NE(error_of("basic_auth_users: {a: plain}\n").find("not a bcrypt hash"),
            std::string::npos);
  EXPECT_NE(error_of("basic_auth_users: {'a:b': " + prometheus_hash + "}\n").find("contains ':'"),
            std::string::npos);
  EXPECT_NE(error_of("http_server_config: {headers: {Server: x}}\n").find("unknown key 'Server'"),
            std::string::npos);
  EXPECT_NE(error_of("http_server_config: {headers: {X-Frame-Options: allow}}\n").find("deny"),
            std::string::npos);
  EXPECT_NE(error_of("http_server_config: {http2: maybe}\n").find("true or false"),
            std::string::npos);
  EXPECT_NE(error_of("nope: 1\n").find("unknown key 'nope'"), std::string::npos);
}

TEST(WebConfig, LoadNamesTheFile) {
  try {
    load_web_config("/nonexistent/web.yml");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/web.yml"), std::string::npos);
  }
}

TEST(BasicAuthHeader, ParsesOnlyWellFormedBasic) {
  auto c = parse_basic_authorization("Basic cHJvbWV0aGV1czpzM2NyZXQ6eA==");  // prometheus:s3cret:x
  ASSERT_TRUE(c);
  EXPECT_EQ(c->first, "prometheus");
  EXPECT_EQ(c->second, "s3cret:x");
  EXPECT_TRUE(parse_basic_authorization("basic YTpi"));
  EXPECT_FALSE(parse_basic_authorization("Bearer YTpi"));
  EXPECT_FALSE(parse_basic_authorization("Basic YWI="));   // no colon
  EXPECT_FALSE(parse_basic_authorization("Basic YTpi="));  // bad length
  EXPECT_FALSE(parse_basic_authorization("Basic Y=pi"));   // data after padding
  EXPECT_FALSE(parse_basic_authorization("Basic"));
  EXPECT_FALSE(parse_basic_authorization(""));
}

TEST(BasicAuth, AcceptsOnlyTheRightPassword) {
  BasicAuth auth({{"prometheus", prometheus_hash}});
  auto header = [](std::string_view user_pass) {
    static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < user_pass.size(); i += 3) {
      unsigned n = (unsigned char)user_pass[i] << 16 | (unsigned char)user_pass[i + 1] << 8 |
                   (unsigned char)user_pass[i + 2];
      for (int s = 18; s >= 0; s -= 6) out += b64[(n >> s) & 63];
    }
    if (std::size_t rest = user_pass.size() - i) {
      unsigned n = (unsigned char)user_pass[i] << 16 |
                   (rest == 2 ? (unsigned char)user_pass[i + 1] << 8 : 0);
      out += b64[(n >> 18) & 63];
      out += b64[(n >> 12) & 63];
      out += rest == 2 ? b64[(n >> 6) & 63] : '=';
      out += '=';
    }
    return "Basic " + out;
  };
  EXPECT_TRUE(auth.check(header("prometheus:scrape-secret")));
  EXPECT_TRUE(auth.check(header("prometheus:scrape-secret")));  // from the cache
  EXPECT_FALSE(auth.check(header("prometheus:scrape-secreT")));
  EXPECT_FALSE(auth.check(header("other:scrape-secret")));
  EXPECT_FALSE(auth.check(header("prometheus:")));
  EXPECT_FALSE(auth.check(""));
  EXPECT_TRUE(BasicAuth({}).check(""));  // no users: authentication is off
}

// exporter-toolkit web/testdata/web_config_rate_limiter_{one_second,nonblocking}.yaml (v0.17.1)
// and its documented shape: interval (a Go duration; yaml.v2 reads a bare integer as
// nanoseconds) and burst.
TEST(WebConfig, RateLimitAsTheToolkitWritesIt) {
  using namespace std::chrono_literals;
  WebConfig c = parse_web_config("rate_limit:\n  interval: \"1s\"\n  burst: 0\n", "/");
  EXPECT_EQ(c.rate_limit.interval, 1s);
  EXPECT_EQ(c.rate_limit.burst, 0);
  EXPECT_TRUE(c.rate_limit.enabled());
  c = parse_web_config("rate_limit:\n  interval: 0\n  burst: 0\n", "/");
  EXPECT_FALSE(c.rate_limit.enabled());
  c = parse_web_config("rate_limit:\n  interval: 250ms\n  burst: 20\n", "/");
  EXPECT_EQ(c.rate_limit.interval, 250ms);
  EXPECT_EQ(c.rate_limit.burst, 20);
  EXPECT_EQ(parse_web_config("rate_limit:\n  interval: 1000\n", "/").rate_limit.interval, 1000ns);
  EXPECT_FALSE(parse_web_config("", "/").rate_limit.enabled());
  EXPECT_NE(error_of("rate_limit:\n  interval: soon\n").find("not a duration"), std::string::npos);
  EXPECT_NE(error_of("rate_limit:\n  burst: many\n").find("integer"), std::string::npos);
  EXPECT_NE(error_of("rate_limit:\n  bursts: 1\n").find("unknown key 'bursts'"), std::string::npos);
}
