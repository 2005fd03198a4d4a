#pragma once
// Keeps each root channel's upstream revision fresh, off the scrape path: a background thread asks
// every channel's upstream (GET <URL>/git-revision) once per check interval and, with NATS
// sharing, publishes what it learnt and takes what peers publish as a check of its own.
//
// Scheduling with sharing is the flake collector's (upstream-share.hh), per channel URL: the host
// whose own fetch was the last news checks again one interval after it; the others wait an
// interval plus a random grace of 1/4 to 1/2 of it, so they only ask upstream when the news did
// not come. Without NATS, or while it is down, every host asks each interval.
//
// Ownership and threads: owns its thread, a running request (cancelled on destruction) and the
// NATS connection. snapshot() may be called from any thread; `urls` runs on the refresher's thread.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "exporter/channel/channel-config.hh"
#include "exporter/channel/channel-upstream.hh"
#include "exporter/upstream-share.hh"

namespace nixmon::exporter {

// Result labels of nixos_channel_upstream_checks_total, every one always exported.
inline constexpr const char* channel_check_results[] = {"success", "http_error", "failed",
                                                        "bad_output", "unsupported"};
// Reason labels of nixos_channel_nats_messages_rejected_total.
inline constexpr const char* channel_reject_reasons[] = {"malformed", "other_channel", "own",
                                                         "stale", "future"};

inline constexpr UpstreamShareTraits channel_share_traits{
    .collector = "channel",
    .checks_name = "nixos_channel_upstream_checks_total",
    .checks_help = "Upstream checks (GET <URL>/git-revision) by this host",
    .check_results = channel_check_results,
    .reject_reasons = channel_reject_reasons,
    .subject = "channel NATS subject",
    .published_help = "Upstream channel revisions this host published on the NATS subject",
    .message = "channel message",
};

class ChannelRefresher {
 public:
  using WallClock = std::function<std::chrono::system_clock::time_point()>;
  // The channel URLs to watch, asked again before every round.
  using UrlSource = std::function<std::vector<std::string>()>;

  struct Upstream {
    std::string revision;
    std::chrono::system_clock::time_point fetched_at;
    bool from_peer = false;
  };

  struct Snapshot {
    std::map<std::string, Upstream> upstream;       // by URL, once known
    std::map<std::string, bool> last_check_failed;  // by URL, once checked
    UpstreamShare::Counters counters;
  };

  // Starts the thread and, when enabled, the NATS connection. Throws Error when NATS options are
  // unusable (credentials file unreadable...).
  ChannelRefresher(ChannelConfig config, WallClock now, UrlSource urls);
  ~ChannelRefresher();
  ChannelRefresher(const ChannelRefresher&) = delete;
  ChannelRefresher& operator=(const ChannelRefresher&) = delete;

  Snapshot snapshot() const;

  // Handles one payload from the subject (public for tests).
  void on_shared_message(std::string_view payload);

 private:
  using Steady = std::chrono::steady_clock;
  struct State : UpstreamShare::KeyState {
    std::optional<Upstream> upstream;
  };
  void run();
  void check(const std::string& url);

  ChannelConfig config_;
  WallClock now_;
  UrlSource urls_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::map<std::string, State> states_;  // by URL
  std::string fetching_;                 // the URL being fetched, "" when none

  UpstreamFetch fetch_;
  UpstreamShare share_;  // after the state its NATS callback uses
  std::thread thread_;
};

}  // namespace nixmon::exporter
