#pragma once
// Turns a web config's tls_server_config into OpenSSL settings on a server SSL_CTX: certificate
// chain and key (checked against each other), protocol versions, cipher suites and groups, and the
// client-certificate policy (with client_allowed_sans checked on the leaf certificate).
//
// `config` must outlive `ctx`: the verify callback reads client_allowed_sans from it.
#include <openssl/ssl.h>

#include "common/web-config.hh"

namespace nixmon {

// Throws UsageError naming the file or setting and OpenSSL's reason.
void configure_server_tls(SSL_CTX& ctx, const TlsServerConfig& config);

// Makes the handshake on `ssl` use `ctx`, a context set up by configure_server_tls (certificate,
// key, client CAs, verification, protocol versions, options, groups), instead of the listening
// context `ssl` was created from: how certificates change without a new listening socket. Call from
// OpenSSL's client-hello callback, before the version is negotiated. `ctx`'s config must outlive
// the handshake. Returns false when OpenSSL refuses.
bool adopt_server_context(SSL& ssl, SSL_CTX& ctx);

}  // namespace nixmon
