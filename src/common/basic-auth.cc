#include "common/basic-auth.hh"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstring>
#include <memory>

#include "common/error.hh"

namespace nixmon {

std::optional<std::string> decode_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[j] = value(c);
      if (v[j] < 0) return std::nullopt;
    }
    unsigned n =
        (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) | unsigned(v[3]);
    out.push_back(char((n >> 16) & 0xff));
    if (pad < 2) out.push_back(char((n >> 8) & 0xff));
    if (pad < 1) out.push_back(char(n & 0xff));
  }
  return out;
}

std::optional<std::pair<std::string, std::string>> parse_basic_authorization(std::string_view h) {
  // The scheme is case-insensitive (RFC 7235), then one space.
  static constexpr std::string_view basic = "basic ";
  if (h.size() < basic.size()) return std::nullopt;
  for (std::size_t i = 0; i < basic.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(h[i])) != basic[i]) return std::nullopt;
  std::string_view rest = h.substr(basic.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  auto decoded = decode_base64(rest);
  if (!decoded) return std::nullopt;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::pair{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

bool bcrypt_matches(std::string_view password, const std::string& hash) {
  // bcrypt reads at most 72 bytes and stops at NUL: a password with a NUL would be checked as its
  // prefix, so it never matches.
  if (password.find('\0') != std::string_view::npos) return false;
  std::string pw(password);
  auto data = std::make_unique<crypt_data>();  // ~32 KiB: not on a worker's stack
  const char* out = ::crypt_rn(pw.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  OPENSSL_cleanse(pw.data(), pw.size());
  bool ok = out != nullptr && out[0] != '*' && std::strlen(out) == hash.size() &&
            CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return ok;
}

namespace {

std::string cache_key(std::string_view user, std::string_view password, std::string_view hash) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) throw Error("out of memory");
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> guard(ctx, EVP_MD_CTX_free);
  unsigned char sep = 0;
  unsigned len = 0;
  if (!EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) ||
      !EVP_DigestUpdate(ctx, user.data(), user.size()) || !EVP_DigestUpdate(ctx, &sep, 1) ||
      !EVP_DigestUpdate(ctx, password.data(), password.size()) || !EVP_DigestUpdate(ctx, &sep, 1) ||
      !EVP_DigestUpdate(ctx, hash.data(), hash.size()) || !EVP_DigestFinal_ex(ctx, digest, &len))
    throw Error("SHA-256 failed");
  return std::string(reinterpret_cast<const char*>(digest), len);
}

constexpr std::size_t max_cached = 1024;

}  // namespace

BasicAuth::BasicAuth(std::map<std::string, std::string, std::less<>> users)
    : users_(std::move(users)) {
  // The dummy is a real hash (of a random-looking constant) at the highest cost configured, made
  // once here, so an unknown user costs at least as much as a known one.
  int cost = 4;
  for (const auto& [user, hash] : users_) cost = std::max(cost, std::stoi(hash.substr(4, 2)));
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  static const char salt_bytes[16] = {'n', 'i', 'x', 'm', 'o', 'n', '-', 'd',
                                      'u', 'm', 'm', 'y', '-', 'h', 's', 'h'};
  if (enabled()) {
    if (!::crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), salt_bytes, sizeof salt_bytes,
                            setting, sizeof setting))
      throw SysError("crypt_gensalt_rn($2b$)");
    auto data = std::make_unique<crypt_data>();
    const char* out = ::crypt_rn("nixmon-unknown-user", setting, data.get(), sizeof(crypt_data));
    if (!out || out[0] == '*') throw Error("this libcrypt cannot compute bcrypt hashes");
    dummy_hash_ = out;
  }
}

bool BasicAuth::check(std::string_view authorization) const {
  if (!enabled()) return true;
  auto creds = parse_basic_authorization(authorization);
  if (!creds) return false;
  const auto& [user, password] = *creds;
  auto it = users_.find(user);
  const std::string& hash = it != users_.end() ? it->second : dummy_hash_;
  std::string key = cache_key(user, password, hash);
  {
    std::lock_guard lock(cache_mutex_);
    if (it != users_.end() && cache_.count(key)) return true;
  }
  bool ok = bcrypt_matches(password, hash) && it != users_.end();
  if (ok) {
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() >= max_cached) cache_.clear();  // many distinct passwords: just start over
    cache_.insert(std::move(key));
  }
  return ok;
}

}  // namespace nixmon
