#include "exporter/channel/channel-refresher.hh"

#include <unistd.h>

#include <algorithm>

#include "common/duration.hh"
#include "common/error.hh"
#include "common/log.hh"
#include "exporter/channel/channel-message.hh"
#include "exporter/flake/nats-share.hh"

namespace nixmon::exporter {

namespace {

std::string default_host_id(std::mt19937_64& random) {
  char name[256] = "";
  if (::gethostname(name, sizeof name - 1) != 0 || !name[0])
    std::snprintf(name, sizeof name, "host");
  return fmt::format("{}-{:08x}", name, static_cast<std::uint32_t>(random()));
}

// Channel lists change rarely, but a channel added by root should be checked without a restart.
constexpr std::chrono::seconds url_recheck{30};

}  // namespace

ChannelRefresher::ChannelRefresher(ChannelConfig config, WallClock now, UrlSource urls)
    : config_(std::move(config)),
      now_(std::move(now)),
      urls_(std::move(urls)),
      random_(std::random_device{}()) {
  if (config_.host_id.empty()) config_.host_id = default_host_id(random_);
  for (const char* r : channel_check_results) checks_[r] = 0;
  for (const char* r : channel_reject_reasons) rejected_[r] = 0;
  started_ = Steady::now();
  if (config_.nats_enable) {
    // Hosts started together should not all ask at once: a peer's message may come first.
    auto spread = std::min(config_.check_interval / 4, std::chrono::milliseconds(10'000));
    startup_delay_ = std::chrono::milliseconds(
        std::uniform_int_distribution<long long>(0, spread.count())(random_));
    nats_ = std::make_unique<NatsShare>(
        NatsShareConfig{config_.nats_url, config_.nats_subject, config_.nats_credentials_file,
                        config_.nats_nkey_seed_file, "--channel.nats"},
        [this](std::string_view payload) { on_shared_message(payload); });
  }
  log::info("channel collector: checking root's channels upstream every {} (host id {}{})",
            format_duration(config_.check_interval), config_.host_id,
            config_.nats_enable ? ", sharing on NATS " + config_.nats_url : "");
  thread_ = std::thread([this] { run(); });
}

ChannelRefresher::~ChannelRefresher() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  fetch_.cancel();
  thread_.join();
  nats_.reset();  // before the state its callback uses
}

ChannelRefresher::Snapshot ChannelRefresher::snapshot() const {
  Snapshot s;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [url, st] : states_) {
      if (st.upstream) s.upstream[url] = *st.upstream;
      if (st.last_check_failed) s.last_check_failed[url] = *st.last_check_failed;
    }
    s.checks = checks_;
    s.nats_received = received_;
    s.nats_published = published_;
    s.nats_rejected = rejected_;
  }
  if (nats_) {
    s.nats_enabled = true;
    s.nats_connected = nats_->connected();
    s.nats_reconnects = nats_->reconnects();
  }
  return s;
}

ChannelRefresher::Steady::time_point ChannelRefresher::due_locked(const State& s) const {
  if (!s.last_fresh && !s.last_attempt) return started_ + startup_delay_;
  auto last = std::max(s.last_fresh.value_or(Steady::time_point{}),
                       s.last_attempt.value_or(Steady::time_point{}));
  auto due = last + config_.check_interval;
  if (nats_ && !s.leader)
    due += std::chrono::duration_cast<std::chrono::milliseconds>(config_.check_interval * s.grace);
  return due;
}

void ChannelRefresher::run() {
  std::unique_lock lock(mutex_);
  auto next_url_read = Steady::time_point{};
  std::vector<std::string> urls;
  while (!stop_) {
    if (Steady::now() >= next_url_read) {
      lock.unlock();
      try {
        urls = urls_();
      } catch (const std::exception& e) {
        log::warn("channel collector: reading root's channel list: {}", e.what());
      }
      lock.lock();
      next_url_read = Steady::now() + url_recheck;
      for (const auto& u : urls) states_.try_emplace(u);
      continue;  // stop_ may have changed while unlocked
    }
    std::string due_url;
    auto due = next_url_read;
    for (const auto& u : urls) {
      auto d = due_locked(states_[u]);
      if (d < due) {
        due = d;
        due_url = u;
      }
    }
    if (due_url.empty() || Steady::now() < due) {
      wake_.wait_until(lock, due);
      continue;  // woken: stop, news, or a round is due; recompute
    }
    fetching_ = due_url;
    lock.unlock();
    try {
      check(due_url);
    } catch (const std::exception& e) {
      log::error("channel check of {}: {}", due_url, e.what());
      std::lock_guard relock(mutex_);
      states_[due_url].last_attempt = Steady::now();  // never spin on an unexpected error
    }
    lock.lock();
    fetching_.clear();
  }
}

void ChannelRefresher::check(const std::string& url) {
  UpstreamResult r = fetch_.fetch(url, config_.http_timeout);
  auto fetched_at = now_();
  std::string message;
  {
    std::lock_guard lock(mutex_);
    if (stop_) return;
    auto steady = Steady::now();
    auto& st = states_[url];
    ++checks_[r.result];
    st.last_attempt = steady;
    st.last_check_failed = !r.revision;
    if (r.revision) {
      if (!st.upstream || st.upstream->revision != *r.revision)
        log::info("channel {} is at revision {} upstream", url, *r.revision);
      st.upstream = Upstream{*r.revision, fetched_at, false};
      st.last_fresh = steady;
      st.last_own_success = steady;
      // A collision with a lower host id's fetch: that host keeps the lead, everywhere alike.
      auto window = config_.check_interval / 4;
      st.leader =
          !(st.last_peer && steady - *st.last_peer < window && st.last_peer_host < config_.host_id);
      st.grace = std::uniform_real_distribution<double>(0.25, 0.5)(random_);
      if (nats_) message = encode_channel_message({url, *r.revision, fetched_at, config_.host_id});
    }
  }
  if (!r.revision) {
    log::warn("channel check of {} failed ({}): {}", url, r.result, r.detail);
    return;
  }
  if (nats_ && nats_->publish(message)) {
    std::lock_guard lock(mutex_);
    ++published_;
  }
}

void ChannelRefresher::reject_locked(const std::string& reason, const std::string& detail) {
  ++rejected_[reason];
  if (reason == "malformed" && !logged_malformed_) {
    logged_malformed_ = true;
    log::warn("NATS subject {}: ignoring a malformed message ({}); later ones are only counted",
              config_.nats_subject, detail);
  } else {
    log::debug("NATS: ignoring a channel message ({}: {})", reason, detail);
  }
}

void ChannelRefresher::on_shared_message(std::string_view payload) {
  std::lock_guard lock(mutex_);
  ++received_;
  ChannelMessage m;
  try {
    m = decode_channel_message(payload);
  } catch (const Error& e) {
    reject_locked("malformed", e.what());
    return;
  }
  if (m.host == config_.host_id) return reject_locked("own", m.host);
  auto it = states_.find(m.channel_url);
  if (it == states_.end()) return reject_locked("other_channel", m.channel_url);
  auto& st = it->second;
  bool older = st.upstream && m.fetched_at < st.upstream->fetched_at;
  if (older && st.upstream->revision != m.revision)
    return reject_locked("stale", "another revision, fetched before what this host has");

  auto steady = Steady::now();
  auto window = config_.check_interval / 4;
  bool colliding =
      fetching_ == m.channel_url || (st.last_own_success && steady - *st.last_own_success < window);
  if (colliding && config_.host_id < m.host) return;  // we keep the lead; the peer steps back
  if (!older && (!st.upstream || st.upstream->revision != m.revision))
    log::info("channel {} is at revision {} upstream (from {})", m.channel_url, m.revision, m.host);
  if (!older) st.upstream = Upstream{m.revision, m.fetched_at, true};
  st.last_fresh = steady;
  st.last_check_failed = false;
  st.last_peer = steady;
  st.last_peer_host = m.host;
  st.leader = false;
  st.grace = std::uniform_real_distribution<double>(0.25, 0.5)(random_);
  wake_.notify_all();
}

}  // namespace nixmon::exporter
