#include "exporter/flake/nats-share.hh"

#include <fmt/ranges.h>
#include <nats/nats.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "common/error.hh"
#include "common/log.hh"

namespace nixmon::exporter {

namespace {

void check(natsStatus s, std::string_view what) {
  if (s != NATS_OK)
    throw Error(fmt::format("NATS: {}: {} ({})", what, natsStatus_GetText(s),
                            nats_GetLastError(nullptr) ? nats_GetLastError(nullptr) : ""));
}

void on_disconnected(natsConnection*, void*) {
  log::warn("NATS disconnected; reconnecting, and checking locally until a server is back");
}
void on_reconnected(natsConnection* nc, void* closure) {
  ++*static_cast<std::atomic<std::uint64_t>*>(closure);
  char url[256] = "";
  natsConnection_GetConnectedUrl(nc, url, sizeof url);
  log::info("NATS reconnected to {}", url);
}
void on_connected(natsConnection* nc, void*) {
  char url[256] = "";
  natsConnection_GetConnectedUrl(nc, url, sizeof url);
  log::info("NATS connected to {}", url);
}
void on_error(natsConnection*, natsSubscription*, natsStatus err, void*) {
  log::warn("NATS: {}", natsStatus_GetText(err));
}

// NKeys: base32 (RFC 4648, no padding) of prefix bytes + key + CRC-16/XMODEM (little endian).
constexpr std::string_view b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr unsigned char prefix_private = 18 << 3;
constexpr unsigned char prefix_user = 20 << 3;

std::uint16_t crc16(const unsigned char* p, std::size_t n) {
  std::uint16_t crc = 0;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= static_cast<std::uint16_t>(p[i]) << 8;
    for (int b = 0; b < 8; ++b) crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
  }
  return crc;
}

std::string base32_encode(const std::vector<unsigned char>& in) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out += b32[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += b32[(buffer << (5 - bits)) & 31];
  return out;
}

std::vector<unsigned char> base32_decode(std::string_view in) {
  std::vector<unsigned char> out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    auto v = b32.find(c);
    if (v == std::string_view::npos) throw Error("NKey user key: not base32");
    buffer = (buffer << 5) | static_cast<unsigned>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<unsigned char>(buffer >> (bits - 8)));
      bits -= 8;
    }
  }
  return out;
}

}  // namespace

std::string nkey_public_from_user_key(std::string_view text) {
  auto b = text.find_first_not_of(" \t\r\n");
  auto e = text.find_last_not_of(" \t\r\n");
  if (b == std::string_view::npos) throw Error("NKey user key: empty");
  auto raw = base32_decode(text.substr(b, e - b + 1));
  if (raw.size() != 2 + 32 + 2) throw Error("NKey user key: wrong length");
  std::uint16_t want = raw[34] | (raw[35] << 8);
  if (crc16(raw.data(), 34) != want) throw Error("NKey user key: checksum mismatch");
  if ((raw[0] & 0xf8) != prefix_private) throw Error("NKey user key: not a private key");
  unsigned char kind = static_cast<unsigned char>(((raw[0] & 7) << 5) | ((raw[1] & 0xf8) >> 3));
  if (kind != prefix_user) throw Error("NKey user key: not a user key (want \"SU...\")");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, raw.data() + 2, 32), EVP_PKEY_free);
  std::fill(raw.begin(), raw.end(), 0);
  if (!key) throw Error("NKey user key: not an Ed25519 key");
  std::array<unsigned char, 32> pub{};
  std::size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1 || len != 32)
    throw Error("NKey user key: cannot derive the public key");
  std::vector<unsigned char> out{prefix_user};
  out.insert(out.end(), pub.begin(), pub.end());
  std::uint16_t crc = crc16(out.data(), out.size());
  out.push_back(crc & 0xff);
  out.push_back(crc >> 8);
  return base32_encode(out);
}

NatsShare::NatsShare(const NatsShareConfig& c, OnMessage on_message)
    : subject_(c.subject), on_message_(std::move(on_message)) {
  const std::string url = fmt::format("{}", fmt::join(c.servers, ","));
  try {
    check(natsOptions_Create(&options_), "creating options");
    // The first server as the URL, the others as the server list: cnats tries the URL first and
    // shuffles only the list (srvpool.c, natsSrvPool_Create, alike in 3.4 and 3.11). So an
    // operator who names each host's nearest server first gets that, and a fleet given one list
    // in one order still fails over in random order instead of all onto the second server.
    check(natsOptions_SetURL(options_, c.servers.at(0).c_str()),
          "setting the URL " + c.servers.at(0));
    if (c.servers.size() > 1) {
      std::vector<const char*> rest;
      for (std::size_t i = 1; i < c.servers.size(); ++i) rest.push_back(c.servers[i].c_str());
      check(natsOptions_SetServers(options_, rest.data(), static_cast<int>(rest.size())),
            "setting the servers " + url);
    }
    check(natsOptions_SetName(options_, "nixos-exporter"), "setting the name");
    // Reconnect forever: a fleet must come back on its own after any server restart, however
    // long; a finite count would leave a host checking alone for good after a long outage. When
    // its server dies the client tries the next one at once; the wait of 1 s applies only to a
    // server tried less than that ago, so a cluster fails over in well under a second and a lone
    // server that is down costs one connection attempt per second. Up to 0.5 s of jitter on top
    // (cnats' default is 0.1 s): a server's whole fleet, hundreds of hosts, otherwise comes back
    // in the same instant. Both are far below any check interval (minutes to hours).
    check(natsOptions_SetAllowReconnect(options_, true), "allowing reconnects");
    check(natsOptions_SetMaxReconnect(options_, -1), "setting reconnects");
    check(natsOptions_SetReconnectWait(options_, 1000), "setting the reconnect wait");
    check(natsOptions_SetReconnectJitter(options_, 500, 1000), "setting the reconnect jitter");
    check(natsOptions_SetRetryOnFailedConnect(options_, true, on_connected, nullptr),
          "setting retry on failed connect");
    check(natsOptions_SetNoEcho(options_, true), "setting no-echo");
    check(natsOptions_SetDisconnectedCB(options_, on_disconnected, nullptr), "setting callbacks");
    check(natsOptions_SetReconnectedCB(options_, on_reconnected, &reconnects_),
          "setting callbacks");
    check(natsOptions_SetErrorHandler(options_, on_error, nullptr), "setting callbacks");
    check(natsOptions_SetClosedCB(options_, &NatsShare::closed, this), "setting callbacks");
    // cnats reads the credentials file only when it connects: check it now, so a wrong path is
    // a startup error (exit status 2) rather than a fleet silently not sharing.
    for (const auto& [flag, file] :
         {std::pair{c.flag_prefix + ".credentials-file", &c.credentials_file},
          std::pair{c.flag_prefix + ".nkey-seed-file", &c.nkey_file}}) {
      if (!file->empty() && ::access(file->c_str(), R_OK) != 0)
        throw UsageError(fmt::format("{}: cannot read {}: {}", flag, *file, std::strerror(errno)));
    }
    if (!c.credentials_file.empty()) {
      check(natsOptions_SetUserCredentialsFromFiles(options_, c.credentials_file.c_str(), nullptr),
            "using credentials file " + c.credentials_file);
    }
    if (!c.nkey_file.empty()) {
      std::FILE* f = std::fopen(c.nkey_file.c_str(), "r");
      if (!f) throw SysError("reading NKey user key file {}", c.nkey_file);
      char buf[256] = {};
      std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
      std::fclose(f);
      std::string pub;
      try {
        pub = nkey_public_from_user_key(std::string_view(buf, n));
      } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", c.nkey_file, e.what()));
      }
      std::fill(std::begin(buf), std::end(buf), 0);
      check(natsOptions_SetNKeyFromSeed(options_, pub.c_str(), c.nkey_file.c_str()),
            "using NKey user key file " + c.nkey_file);
    }
    natsStatus s = natsConnection_Connect(&conn_, options_);
    if (s == NATS_NOT_YET_CONNECTED) {
      log::warn("NATS server {} not reachable yet; retrying in the background", url);
    } else if (s != NATS_OK) {
      // Refused for good (authorization, TLS...): the exporter keeps checking locally.
      log::error("NATS: connecting to {} failed: {} ({}); sharing is off, checking locally", url,
                 natsStatus_GetText(s), nats_GetLastError(nullptr));
      return;
    } else {
      on_connected(conn_, nullptr);  // cnats calls it only for a connection made in the background
    }
    s = natsConnection_Subscribe(&sub_, conn_, subject_.c_str(), deliver, this);
    if (s != NATS_OK) {
      log::error("NATS: subscribing to {} failed: {} ({}); sharing is off, checking locally",
                 subject_, natsStatus_GetText(s), nats_GetLastError(nullptr));
      sub_ = nullptr;
      return;
    }
    if (natsSubscription_SetOnCompleteCB(sub_, subscription_done, this) != NATS_OK) {
      // Closed in the meantime (refused credentials arrive asynchronously): nothing will be
      // delivered, so there is nothing to wait for on destruction either.
      std::lock_guard lock(done_mutex_);
      done_ = true;
    }
  } catch (...) {
    if (sub_) natsSubscription_Destroy(sub_);
    if (conn_) natsConnection_Destroy(conn_);
    if (options_) natsOptions_Destroy(options_);
    throw;
  }
}

NatsShare::~NatsShare() {
  // Unsubscribe, then wait until the delivery thread has returned from its last callback: it
  // captures state that dies with our owner.
  closing_ = true;
  if (sub_ && natsSubscription_Unsubscribe(sub_) == NATS_OK) {
    std::unique_lock lock(done_mutex_);
    done_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return done_; });
  }
  if (sub_) natsSubscription_Destroy(sub_);
  if (conn_) {
    natsConnection_Close(conn_);
    std::unique_lock lock(done_mutex_);
    closed_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return closed_; });
    lock.unlock();
    natsConnection_Destroy(conn_);
  }
  natsOptions_Destroy(options_);
}

void NatsShare::closed(natsConnection* nc, void* closure) {
  auto* self = static_cast<NatsShare*>(closure);
  if (!self->closing_) {  // not our own shutdown
    const char* text = nullptr;
    natsConnection_GetLastError(nc, &text);
    log::error("NATS connection closed ({}); sharing is off, checking locally",
               text && *text ? text : "no reason given");
  }
  // Notified under the lock: the destructor cannot free `self` before this thread lets go.
  std::lock_guard lock(self->done_mutex_);
  self->closed_ = true;
  self->closed_cv_.notify_all();
}

void NatsShare::deliver(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* self = static_cast<NatsShare*>(closure);
  std::string_view payload(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  try {
    self->on_message_(payload);
  } catch (const std::exception& e) {
    log::error("NATS message handler: {}", e.what());
  }
  natsMsg_Destroy(msg);
}

void NatsShare::subscription_done(void* closure) {
  auto* self = static_cast<NatsShare*>(closure);
  std::lock_guard lock(self->done_mutex_);
  self->done_ = true;
  self->done_cv_.notify_all();
}

bool NatsShare::connected() const {
  return conn_ && sub_ && natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
}

bool NatsShare::publish(std::string_view payload) {
  if (!connected()) return false;
  natsStatus s = natsConnection_Publish(conn_, subject_.c_str(), payload.data(),
                                        static_cast<int>(payload.size()));
  if (s != NATS_OK) {
    log::warn("NATS publish on {} failed: {}", subject_, natsStatus_GetText(s));
    return false;
  }
  // Flush now: the message is only useful if peers get it before their own check is due.
  natsConnection_FlushTimeout(conn_, 1000);
  return true;
}

}  // namespace nixmon::exporter
