#pragma once
// One NATS connection for sharing what a host fetched from upstream (a flake's or a channel's
// revision): subscribes to the subject, publishes on it, reconnects forever (also when the server
// is down at start), never echoes our own messages. Given several servers (one cluster), it
// connects to the first it can, trying the first given first, and fails over to another when its
// server goes away; the subscription follows it.
//
// Thread-safety: publish() and the state getters may be called from any thread. `on_message` runs
// on the NATS client's delivery thread; it must not throw (exceptions are caught and logged) and
// must not outlive what it captures: the destructor returns only after the last call finished.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

struct __natsConnection;
struct __natsSubscription;
struct __natsOptions;
struct __natsMsg;

namespace nixmon::exporter {

// Where and how to connect. `flag_prefix` names the flags in errors ("--flake.nats").
struct NatsShareConfig {
  std::vector<std::string> servers;  // at least one; the first is tried first
  std::string subject;
  std::string credentials_file;
  std::string nkey_file;
  std::string flag_prefix;
};

class NatsShare {
 public:
  using OnMessage = std::function<void(std::string_view payload)>;

  // Throws Error when the options cannot be set (unreadable credentials or user key file, bad URL).
  // Not being able to reach the server is no error: the client keeps trying in the background.
  NatsShare(const NatsShareConfig& config, OnMessage on_message);
  ~NatsShare();
  NatsShare(const NatsShare&) = delete;
  NatsShare& operator=(const NatsShare&) = delete;

  bool connected() const;
  // Publishes when connected; false (nothing queued) otherwise, so a message never arrives late
  // after a reconnect.
  bool publish(std::string_view payload);
  std::uint64_t reconnects() const { return reconnects_; }

 private:
  static void deliver(__natsConnection*, __natsSubscription*, __natsMsg*, void*);
  static void subscription_done(void*);
  static void closed(__natsConnection*, void*);

  std::string subject_;
  OnMessage on_message_;
  __natsOptions* options_ = nullptr;
  __natsConnection* conn_ = nullptr;
  __natsSubscription* sub_ = nullptr;
  std::atomic<std::uint64_t> reconnects_{0};
  std::atomic<bool> closing_{false};
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  // cnats calls the closed callback on its own thread after natsConnection_Close returns; the
  // destructor waits for it (ASan found it reading closing_ from a freed NatsShare).
  std::condition_variable closed_cv_;
  bool closed_ = false;
};

// The public key ("U...") of an NKey user key file ("SU..."), as natsOptions_SetNKeyFromSeed needs
// it. Throws Error when the text is no valid NKey user key.
std::string nkey_public_from_user_key(std::string_view key_text);

}  // namespace nixmon::exporter
