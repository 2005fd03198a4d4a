#pragma once
// What the flake and the channel collectors have in common: a value checked upstream in the
// background, per key (the flake's URL; each root channel's URL), and shared with the fleet over
// NATS so that one host checks where all would otherwise.
//
// Scheduling with sharing: a host whose own fetch was the last news of a key is its "leader" and
// checks again one period after it; the others wait a period plus a grace of 1/4 to 1/2 period
// (random, drawn anew each time), so they only fetch when the leader's message did not come; the
// first whose wait ends re-publishes what it holds before it fetches, so the others wait again
// (announces_takeover). When two fetches collide (within 1/4 period), the lower host id keeps the
// lead on every host alike.
// Without NATS, or while it is down, every host simply checks each period.
//
// Ownership and threads: UpstreamShare owns the NATS connection, whose callback runs on the NATS
// client's thread until the UpstreamShare is destroyed (declare it after what the callback uses).
// It has no lock of its own: the *_locked members must be called under the owner's mutex, the one
// that also guards the owner's values; publish() and add_nats_state() may be called from any
// thread.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hh"
#include "common/exposition.hh"

namespace nixmon::exporter {

class NatsShare;

// The --<collector>.nats.* settings: as typed and as used alike (nothing in them needs parsing).
struct NatsSharing {
  explicit NatsSharing(std::string default_subject) : nats_subject(std::move(default_subject)) {}

  bool nats_enable = false;
  // One server or several, comma-separated (a cluster): see nats_servers().
  std::string nats_url = "nats://localhost:4222";
  std::string nats_subject;
  std::string nats_credentials_file;
  std::string nats_nkey_file;
};

// Adds --<collector>.nats.{enable,url,subject,credentials-file,nkey-seed-file}.
void add_nats_sharing_flags(CLI::App& app, NatsSharing& flags, std::string_view collector,
                            const std::string& enable_help, const std::string& subject_help);

// Throws UsageError: both credentials kinds at once, an empty subject while enabled, a URL list
// with an empty entry.
void check_nats_sharing_flags(const NatsSharing& flags, std::string_view collector);

// The servers of a --<collector>.nats.url value: split at commas, blanks around each trimmed, in
// the order given. Throws UsageError (naming `flag`) for an empty list or an empty entry ("a,,b",
// a trailing comma): a typo should not silently shrink the list a host fails over to.
std::vector<std::string> nats_servers(std::string_view urls, std::string_view flag);

// What differs between the collectors that share: names, labels and texts, one table each.
struct UpstreamShareTraits {
  std::string_view collector;    // "flake": flags --flake.nats.*, series nixos_flake_nats_*
  std::string_view checks_name;  // the series of own checks by result...
  std::string_view checks_help;  // ...and its help, before ", by result (<results>)"
  std::span<const char* const> check_results;   // every one always exported
  std::span<const char* const> reject_reasons;  // of nixos_<collector>_nats_messages_rejected_total
  std::string_view subject;                     // how help texts name the subject: "NATS subject"
  std::string_view published_help;  // of nixos_<collector>_nats_messages_published_total
  std::string_view message;         // how the debug log names a message: "message"
};

class UpstreamShare {
 public:
  using Steady = std::chrono::steady_clock;
  using OnMessage = std::function<void(std::string_view payload)>;
  // How far ahead of this host's clock a peer's fetched_at may be (clock skew) before the
  // message is rejected as "future".
  static constexpr std::chrono::minutes max_clock_ahead{5};

  // The scheduling state of one key, and whether this host's own last check of it failed.
  struct KeyState {
    std::optional<bool> last_check_failed;         // nullopt until the first own check or peer news
    std::optional<Steady::time_point> last_fresh;  // last news: own success or a peer's message
    std::optional<Steady::time_point> last_attempt;  // last own check, whatever its result
    std::optional<Steady::time_point> last_own_success;
    std::optional<Steady::time_point> last_peer;  // last accepted peer message...
    std::string last_peer_host;                   // ...and its sender
    bool leader = true;
    double grace = 0.25;
  };

  struct Counters {
    std::map<std::string, std::uint64_t> checks;  // by result
    bool nats_enabled = false;
    bool nats_connected = false;
    std::uint64_t nats_received = 0, nats_published = 0, nats_reconnects = 0;
    std::map<std::string, std::uint64_t> nats_rejected;  // by reason
  };

  // `traits` must outlive it (the collectors keep theirs in a constant). Picks
  // "<hostname>-<random>" when `host_id` is empty and, when sharing is enabled, connects
  // (`on_message` gets every payload on the subject). Throws Error when the NATS options are
  // unusable (credentials file unreadable...).
  UpstreamShare(const UpstreamShareTraits& traits, const NatsSharing& nats, std::string host_id,
                std::chrono::milliseconds check_interval, OnMessage on_message);
  ~UpstreamShare();
  UpstreamShare(const UpstreamShare&) = delete;
  UpstreamShare& operator=(const UpstreamShare&) = delete;

  const std::string& host_id() const { return host_id_; }
  bool sharing() const { return nats_ != nullptr; }

  // When a key is due to be checked, checking every `period`.
  Steady::time_point due_locked(const KeyState& s, std::chrono::milliseconds period) const;

  // Counts an own check and, when it succeeded, takes the lead unless a lower host id's fetch of
  // the same key came within the collision window. Call once the owner holds the new value.
  void checked_locked(KeyState& s, const std::string& result, bool success,
                      std::chrono::milliseconds period);

  // Whether a check that is due now takes over from a leader that went quiet (died, lost its
  // server): then the host first re-publishes the value it holds, which postpones every other
  // follower's check by a period as any news does (old news of the same value changes nothing
  // else, also on hosts of earlier versions). Without it every follower whose wait ends while
  // the first one's fetch runs fetches too: 97 of 100 hosts on a loaded machine
  // (docs/benchmarks.md). Only the leader of the last round checks without announcing.
  static bool announces_takeover(const KeyState& s) { return !s.leader; }

  // Publishes when connected and counts it; call without the owner's lock.
  void publish(std::string_view message);

  // Counts a payload and decodes it; nullopt (counted as rejected) when `decode` throws Error or
  // the message is this host's own.
  template <class Decode>
  auto receive_locked(std::string_view payload, Decode decode,
                      std::chrono::system_clock::time_point now)
      -> std::optional<decltype(decode(payload))> {
    ++received_;
    std::optional<decltype(decode(payload))> m;
    try {
      m = decode(payload);
    } catch (const Error& e) {
      reject_locked("malformed", e.what());
      return std::nullopt;
    }
    if (m->host == host_id_) {
      reject_locked("own", m->host);
      return std::nullopt;
    }
    // A peer whose clock runs ahead would win every "which is newer" comparison and make the
    // others' newer news look stale, and its time would be served as a last check in the future.
    if (m->fetched_at > now + max_clock_ahead) {
      reject_locked("future", m->host);
      return std::nullopt;
    }
    return m;
  }

  // Counts a rejected message; only the first malformed one is logged above debug.
  void reject_locked(const std::string& reason, const std::string& detail);

  // Takes a peer's news of a key as a check of this host's own, unless this host fetched the key
  // at the same time (`fetching`, or within the collision window) and keeps the lead: false then.
  bool peer_news_locked(KeyState& s, const std::string& peer, bool fetching,
                        std::chrono::milliseconds period);

  Counters counters_locked() const;
  // Adds whether sharing is enabled and the connection's state; better outside the owner's lock.
  void add_nats_state(Counters& c) const;

 private:
  const UpstreamShareTraits& traits_;
  std::string subject_;
  std::mt19937_64 random_;
  std::string host_id_;
  Steady::time_point started_;
  std::chrono::milliseconds startup_delay_{0};
  std::map<std::string, std::uint64_t> checks_;
  std::uint64_t received_ = 0;
  std::atomic<std::uint64_t> published_{0};
  std::map<std::string, std::uint64_t> rejected_;
  bool logged_malformed_ = false;
  std::unique_ptr<NatsShare> nats_;
};

// The series of own checks and, when sharing is enabled, of the NATS connection and messages.
void collect_share_counters(MetricSet& out, const UpstreamShareTraits& traits,
                            const UpstreamShare::Counters& counters);

}  // namespace nixmon::exporter
