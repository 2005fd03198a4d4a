#pragma once
// Keeps the remote state of one flake fresh, off the scrape path: a background thread runs
// `nix flake metadata` every check interval (sooner under smart refresh), and, with NATS sharing,
// publishes what it fetched and takes what peers publish as a check of its own.
//
// Scheduling with sharing: a host whose own fetch was the last news is the "leader" and checks
// again one period after it; the others wait a period plus a grace of 1/4 to 1/2 period (random,
// drawn anew each time), so they only fetch when the leader's message did not come. When two
// fetches collide (within 1/4 period), the lower host id keeps the lead on every host alike.
// Without NATS, or while it is down, every host simply checks each period.
//
// Ownership and threads: owns its thread, any running nix process (killed on destruction) and the
// NATS connection. snapshot() and note_current_revision() may be called from any thread.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "common/fd.hh"
#include "exporter/flake/flake-config.hh"
#include "exporter/flake/flake-metadata.hh"

namespace nixmon::exporter {

class NatsShare;

// Result labels of nixos_flake_remote_checks_total, every one always exported.
inline constexpr const char* check_results[] = {"success", "failed", "timeout", "bad_output",
                                                "error"};
// Reason labels of nixos_flake_nats_messages_rejected_total.
inline constexpr const char* reject_reasons[] = {"malformed", "other_flake", "own", "stale"};

class FlakeRefresher {
 public:
  using WallClock = std::function<std::chrono::system_clock::time_point()>;

  struct Remote {
    FlakeMetadata metadata;
    std::chrono::system_clock::time_point fetched_at;
    bool from_peer = false;
  };

  struct Snapshot {
    std::optional<Remote> remote;           // nullopt until the first success (local or peer)
    std::optional<bool> last_check_failed;  // nullopt until the first local check or peer news
    std::map<std::string, std::uint64_t> checks;  // by result
    bool nats_enabled = false;
    bool nats_connected = false;
    std::uint64_t nats_received = 0, nats_published = 0, nats_reconnects = 0;
    std::map<std::string, std::uint64_t> nats_rejected;  // by reason
  };

  // Starts the thread and, when enabled, the NATS connection. Throws Error when NATS options are
  // unusable (credentials file unreadable...).
  FlakeRefresher(FlakeConfig config, WallClock now);
  ~FlakeRefresher();
  FlakeRefresher(const FlakeRefresher&) = delete;
  FlakeRefresher& operator=(const FlakeRefresher&) = delete;

  Snapshot snapshot() const;

  // The running system's configuration revision, seen by a scrape: when it equals the cached
  // remote revision, smart refresh shortens the period.
  void note_current_revision(const std::optional<std::string>& revision);

  const std::string& host_id() const { return config_.host_id; }

  // Handles one payload from the subject (public for tests).
  void on_shared_message(std::string_view payload);

 private:
  using Steady = std::chrono::steady_clock;
  void run();
  void check_once();
  Steady::time_point next_due_locked() const;
  std::chrono::milliseconds period_locked() const;
  void reject_locked(const std::string& reason, const std::string& detail);

  FlakeConfig config_;
  WallClock now_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  Steady::time_point started_;
  std::chrono::milliseconds startup_delay_{0};
  std::optional<Remote> remote_;
  std::optional<bool> last_check_failed_;
  std::optional<std::string> current_revision_;
  std::optional<Steady::time_point> last_fresh_;    // last news: own success or a peer's message
  std::optional<Steady::time_point> last_attempt_;  // last own check, whatever its result
  std::optional<Steady::time_point> last_own_success_;
  std::optional<Steady::time_point> last_peer_;  // last accepted peer message...
  std::string last_peer_host_;                   // ...and its sender
  bool fetching_ = false;
  bool leader_ = true;
  double grace_fraction_ = 0.25;
  std::mt19937_64 random_;
  std::map<std::string, std::uint64_t> checks_;
  std::uint64_t received_ = 0, published_ = 0;
  std::map<std::string, std::uint64_t> rejected_;
  bool logged_malformed_ = false;

  Fd cancel_read_, cancel_write_;  // written on destruction: kills a running nix at once
  std::unique_ptr<NatsShare> nats_;
  std::thread thread_;
};

}  // namespace nixmon::exporter
