#include "exporter/channel/channel-refresher.hh"

#include <algorithm>

#include "common/duration.hh"
#include "common/error.hh"
#include "common/log.hh"
#include "exporter/channel/channel-message.hh"

namespace nixmon::exporter {

namespace {

// Channel lists change rarely, but a channel added by root should be checked without a restart.
constexpr std::chrono::seconds url_recheck{30};

}  // namespace

ChannelRefresher::ChannelRefresher(ChannelConfig config, WallClock now, UrlSource urls)
    : config_(std::move(config)),
      now_(std::move(now)),
      urls_(std::move(urls)),
      share_(channel_share_traits, config_, config_.host_id, config_.check_interval,
             [this](std::string_view payload) { on_shared_message(payload); }) {
  log::info("channel collector: checking root's channels upstream every {} (host id {}{})",
            format_duration(config_.check_interval), share_.host_id(),
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
}

ChannelRefresher::Snapshot ChannelRefresher::snapshot() const {
  Snapshot s;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [url, st] : states_) {
      if (st.upstream) s.upstream[url] = *st.upstream;
      if (st.last_check_failed) s.last_check_failed[url] = *st.last_check_failed;
    }
    s.counters = share_.counters_locked();
  }
  share_.add_nats_state(s.counters);
  return s;
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
      auto d = share_.due_locked(states_[u], config_.check_interval);
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
    std::string takeover;
    const auto& st = states_[due_url];
    if (share_.sharing() && st.upstream && UpstreamShare::announces_takeover(st))
      takeover = encode_channel_message(
          {due_url, st.upstream->revision, st.upstream->fetched_at, share_.host_id()});
    lock.unlock();
    share_.publish(takeover);  // before the fetch: the other followers wait a period again
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
    auto& st = states_[url];
    if (r.revision) {
      if (!st.upstream || st.upstream->revision != *r.revision)
        log::info("channel {} is at revision {} upstream", url, *r.revision);
      st.upstream = Upstream{*r.revision, fetched_at, false};
      if (share_.sharing())
        message = encode_channel_message({url, *r.revision, fetched_at, share_.host_id()});
    }
    share_.checked_locked(st, r.result, r.revision.has_value(), config_.check_interval);
  }
  if (!r.revision) {
    log::warn("channel check of {} failed ({}): {}", url, r.result, r.detail);
    return;
  }
  share_.publish(message);
}

void ChannelRefresher::on_shared_message(std::string_view payload) {
  std::lock_guard lock(mutex_);
  auto m = share_.receive_locked(payload, decode_channel_message, now_());
  if (!m) return;
  auto it = states_.find(m->channel_url);
  if (it == states_.end()) return share_.reject_locked("other_channel", m->channel_url);
  auto& st = it->second;
  bool older = st.upstream && m->fetched_at < st.upstream->fetched_at;
  if (older && st.upstream->revision != m->revision)
    return share_.reject_locked("stale", "another revision, fetched before what this host has");
  if (!share_.peer_news_locked(st, m->host, fetching_ == m->channel_url, config_.check_interval))
    return;
  if (!older && (!st.upstream || st.upstream->revision != m->revision))
    log::info("channel {} is at revision {} upstream (from {})", m->channel_url, m->revision,
              m->host);
  if (!older) st.upstream = Upstream{m->revision, m->fetched_at, true};
  wake_.notify_all();
}

}  // namespace nixmon::exporter
