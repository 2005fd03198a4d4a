#pragma once
// Keeps the remote state of one flake fresh, off the scrape path: a background thread runs
// `nix flake metadata` every check interval (sooner under smart refresh), and, with NATS sharing,
// publishes what it fetched and takes what peers publish as a check of its own (who checks next:
// upstream-share.hh).
//
// Ownership and threads: owns its thread, any running nix process (killed on destruction) and the
// NATS connection. snapshot() and note_current_revision() may be called from any thread.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/fd.hh"
#include "exporter/flake/flake-config.hh"
#include "exporter/flake/flake-metadata.hh"
#include "exporter/upstream-share.hh"

namespace nixmon::exporter {

// Result labels of nixos_flake_remote_checks_total, every one always exported.
inline constexpr const char* check_results[] = {"success", "failed", "timeout", "bad_output",
                                                "error"};
// Reason labels of nixos_flake_nats_messages_rejected_total.
inline constexpr const char* reject_reasons[] = {"malformed", "other_flake", "own", "stale",
                                                 "future"};

inline constexpr UpstreamShareTraits flake_share_traits{
    .collector = "flake",
    .checks_name = "nixos_flake_remote_checks_total",
    .checks_help = "Runs of `nix flake metadata` by this host",
    .check_results = check_results,
    .reject_reasons = reject_reasons,
    .subject = "NATS subject",
    .published_help = "Remote revisions this host published on the NATS subject",
    .message = "message",
};

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
    UpstreamShare::Counters counters;
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

  const std::string& host_id() const { return share_.host_id(); }

  // Handles one payload from the subject (public for tests).
  void on_shared_message(std::string_view payload);

 private:
  using Steady = std::chrono::steady_clock;
  void run();
  void check_once();
  std::chrono::milliseconds period_locked() const;

  FlakeConfig config_;
  WallClock now_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::optional<Remote> remote_;
  std::optional<std::string> current_revision_;
  UpstreamShare::KeyState state_;
  bool fetching_ = false;

  Fd cancel_read_, cancel_write_;  // written on destruction: kills a running nix at once
  UpstreamShare share_;            // after the state its NATS callback uses
  std::thread thread_;
};

}  // namespace nixmon::exporter
