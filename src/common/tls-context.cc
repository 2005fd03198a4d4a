#include "common/tls-context.hh"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/error.hh"

namespace nixmon {

namespace {

// OpenSSL's queued reasons, oldest first, emptied.
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

UsageError tls_error(std::string_view what) {
  return UsageError(fmt::format("tls_server_config: {}: {}", what, openssl_errors()));
}

int openssl_version(TlsVersion v) {
  switch (v) {
    case TlsVersion::tls10:
      return TLS1_VERSION;
    case TlsVersion::tls11:
      return TLS1_1_VERSION;
    case TlsVersion::tls12:
      return TLS1_2_VERSION;
    case TlsVersion::tls13:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

// A SAN of the client's leaf certificate in the toolkit's spelling (DNS name, e-mail address, IP
// address, URI), or "" for other kinds.
std::string san_text(const GENERAL_NAME* name) {
  auto ia5 = [](const ASN1_IA5STRING* s) {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
  };
  switch (name->type) {
    case GEN_DNS:
      return ia5(name->d.dNSName);
    case GEN_EMAIL:
      return ia5(name->d.rfc822Name);
    case GEN_URI:
      return ia5(name->d.uniformResourceIdentifier);
    case GEN_IPADD: {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char buf[INET6_ADDRSTRLEN] = {};
      int len = ASN1_STRING_length(ip);
      int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : -1;
      if (family < 0 || !inet_ntop(family, ASN1_STRING_get0_data(ip), buf, sizeof buf)) return "";
      return buf;
    }
    default:
      return "";
  }
}

bool san_allowed(X509* cert, const std::vector<std::string>& allowed) {
  using Names = std::unique_ptr<GENERAL_NAMES, void (*)(GENERAL_NAMES*)>;
  Names names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)),
      GENERAL_NAMES_free);
  if (!names) return false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    std::string s = san_text(sk_GENERAL_NAME_value(names.get(), i));
    if (!s.empty() && std::find(allowed.begin(), allowed.end(), s) != allowed.end()) return true;
  }
  return false;
}

const TlsServerConfig* config_of(X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (!ssl) return nullptr;
  return static_cast<const TlsServerConfig*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
}

// Request/RequireAny: a client certificate is taken as it is (the toolkit's semantics).
int accept_any(int, X509_STORE_CTX*) {
  return 1;
}

int verify_client(int preverify_ok, X509_STORE_CTX* store) {
  if (!preverify_ok) return 0;
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  const TlsServerConfig* c = config_of(store);
  if (!c || c->client_allowed_sans.empty()) return 1;
  if (san_allowed(X509_STORE_CTX_get_current_cert(store), c->client_allowed_sans)) return 1;
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

std::string joined(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : std::string(1, sep)) + s;
  return out;
}

}  // namespace

void configure_server_tls(SSL_CTX& ctx, const TlsServerConfig& c) {
  ERR_clear_error();
  SSL_CTX_set_app_data(&ctx, const_cast<TlsServerConfig*>(&c));
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  if (c.prefer_server_cipher_suites) SSL_CTX_set_options(&ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  // TLS 1.0/1.1 are off at OpenSSL 3's default security level 1 even when asked for; level 0
  // honours an operator who explicitly wrote min_version TLS10/TLS11.
  if (c.min_version < TlsVersion::tls12) SSL_CTX_set_security_level(&ctx, 0);
  if (!SSL_CTX_set_min_proto_version(&ctx, openssl_version(c.min_version)) ||
      !SSL_CTX_set_max_proto_version(&ctx, openssl_version(c.max_version)))
    throw tls_error("cannot set the protocol versions");

  if (SSL_CTX_use_certificate_chain_file(&ctx, c.cert_file.c_str()) != 1)
    throw tls_error(fmt::format("cert_file {}", c.cert_file.string()));
  if (SSL_CTX_use_PrivateKey_file(&ctx, c.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH)
      throw tls_error(fmt::format("key_file {}", c.key_file.string()));
  }
  if (SSL_CTX_check_private_key(&ctx) != 1 || ERR_peek_error() != 0)
    throw tls_error(fmt::format("key_file {} does not belong to cert_file {}", c.key_file.string(),
                                c.cert_file.string()));
  if (!c.cipher_suites.empty() &&
      SSL_CTX_set_cipher_list(&ctx, joined(c.cipher_suites, ':').c_str()) != 1)
    throw tls_error("cipher_suites");
  if (!c.curve_preferences.empty() &&
      SSL_CTX_set1_groups_list(&ctx, joined(c.curve_preferences, ':').c_str()) != 1)
    throw tls_error("curve_preferences");

  // Without a session id context OpenSSL refuses to resume sessions of verified clients. Each
  // context made here (each loaded web config) has its own: OpenSSL does not verify the client
  // again when a session resumes, and the listening context's ticket keys outlive every reload, so
  // a shared one would let a session made under the old client CA, allowed SANs or auth type
  // resume after the operator tightened them (Go's GetConfigForClient had the same flaw,
  // CVE-2025-68121). SSL_set_SSL_CTX hands it to each connection that adopts this context.
  static std::atomic<std::uint64_t> contexts{0};
  std::string sid = fmt::format("nixmon-{}", ++contexts);
  SSL_CTX_set_session_id_context(&ctx, reinterpret_cast<const unsigned char*>(sid.data()),
                                 sid.size());

  switch (c.client_auth) {
    case ClientAuth::none:
      SSL_CTX_set_verify(&ctx, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuth::request:
      SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, accept_any);
      break;
    case ClientAuth::require_any:
      SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
      break;
    case ClientAuth::verify_if_given:
    case ClientAuth::require_and_verify: {
      if (SSL_CTX_load_verify_locations(&ctx, c.client_ca_file.c_str(), nullptr) != 1)
        throw tls_error(fmt::format("client_ca_file {}", c.client_ca_file.string()));
      // Tell clients which CAs we accept (curl picks its certificate by it).
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(c.client_ca_file.c_str());
      if (!names) throw tls_error(fmt::format("client_ca_file {}", c.client_ca_file.string()));
      SSL_CTX_set_client_CA_list(&ctx, names);
      int mode = SSL_VERIFY_PEER;
      if (c.client_auth == ClientAuth::require_and_verify) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      SSL_CTX_set_verify(&ctx, mode, verify_client);
      break;
    }
  }
}

bool adopt_server_context(SSL& ssl, SSL_CTX& ctx) {
  // SSL_set_SSL_CTX takes the certificate, key and chain (and the security level kept with them);
  // the client CA list and the store client certificates are verified against are read from the
  // SSL's context when needed. What SSL_new copied from the listening context is set again here.
  if (SSL_set_SSL_CTX(&ssl, &ctx) != &ctx) return false;
  SSL_clear_options(&ssl, SSL_get_options(&ssl));
  SSL_set_options(&ssl, SSL_CTX_get_options(&ctx));
  SSL_set_security_level(&ssl, SSL_CTX_get_security_level(&ctx));
  SSL_set_verify(&ssl, SSL_CTX_get_verify_mode(&ctx), SSL_CTX_get_verify_callback(&ctx));
  if (!SSL_set_min_proto_version(&ssl, SSL_CTX_get_min_proto_version(&ctx)) ||
      !SSL_set_max_proto_version(&ssl, SSL_CTX_get_max_proto_version(&ctx)))
    return false;
  const auto* c = static_cast<const TlsServerConfig*>(SSL_CTX_get_app_data(&ctx));
  if (c && !c->cipher_suites.empty() &&
      SSL_set_cipher_list(&ssl, joined(c->cipher_suites, ':').c_str()) != 1)
    return false;
  if (c && !c->curve_preferences.empty() &&
      SSL_set1_groups_list(&ssl, joined(c->curve_preferences, ':').c_str()) != 1)
    return false;
  return true;
}

}  // namespace nixmon
