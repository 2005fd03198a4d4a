#pragma once
// HTTP basic authentication against bcrypt hashes (the exporter-toolkit's `basic_auth_users`).
//
// Security properties:
// - A hash is checked with crypt_rn (libxcrypt: $2a$, $2b$, $2y$), and compared in constant time.
// - An unknown user costs the same bcrypt run as a known one (checked against a dummy hash of the
//   same cost), so timing does not tell which user names exist; every failure is the same `false`.
// - bcrypt is slow on purpose (~50 ms at cost 10): like the toolkit, successful checks are cached
//   (keyed by a SHA-256 of user, password and hash, never the password itself) so a scraper sending
//   the same credentials every 15 s pays once. Failures are never cached.
//
// Thread-safety: check() may be called from many threads at once.
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace nixmon {

// Decodes the value of an "Authorization" header of scheme Basic into user and password;
// nullopt when it is not well-formed (wrong scheme, bad base64, no colon).
std::optional<std::pair<std::string, std::string>> parse_basic_authorization(
    std::string_view header);

// Strict base64 (RFC 4648, padding required); nullopt on anything else.
std::optional<std::string> decode_base64(std::string_view text);

class BasicAuth {
 public:
  // user -> bcrypt hash; an empty map means authentication is off (check() is always true).
  explicit BasicAuth(std::map<std::string, std::string, std::less<>> users);

  bool enabled() const { return !users_.empty(); }
  // `authorization` is the request's Authorization header ("" when absent).
  bool check(std::string_view authorization) const;

 private:
  std::map<std::string, std::string, std::less<>> users_;
  std::string dummy_hash_;  // for unknown users, at the highest cost in use
  mutable std::mutex cache_mutex_;
  mutable std::set<std::string> cache_;  // SHA-256 digests of accepted (user, password, hash)
};

// True when `password` matches the bcrypt `hash` (constant-time comparison of crypt's output).
bool bcrypt_matches(std::string_view password, const std::string& hash);

}  // namespace nixmon
