#include "exporter/flake/flake-refresher.hh"

#include <fcntl.h>
#include <unistd.h>

#include "common/child-process.hh"
#include "common/duration.hh"
#include "common/error.hh"
#include "common/log.hh"
#include "exporter/flake/share-message.hh"

namespace nixmon::exporter {

namespace {

// The last non-empty line of nix's stderr, which holds the "error: ..." line, kept short.
std::string last_line(std::string_view err) {
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.remove_suffix(1);
  auto nl = err.rfind('\n');
  if (nl != std::string_view::npos) err = err.substr(nl + 1);
  if (err.size() > 300) err = err.substr(0, 300);
  return std::string(err);
}

}  // namespace

FlakeRefresher::FlakeRefresher(FlakeConfig config, WallClock now)
    : config_(std::move(config)),
      now_(std::move(now)),
      share_(flake_share_traits, config_, config_.host_id, config_.check_interval,
             [this](std::string_view payload) { on_shared_message(payload); }) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw SysError("creating the flake refresher's cancel pipe");
  cancel_read_.reset(fds[0]);
  cancel_write_.reset(fds[1]);
  log::info("flake collector: checking {} every {} (host id {}{})", config_.url,
            format_duration(config_.check_interval), share_.host_id(),
            config_.nats_enable ? ", sharing on NATS " + config_.nats_url : "");
  thread_ = std::thread([this] { run(); });
}

FlakeRefresher::~FlakeRefresher() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  cancel_write_.reset();  // EOF on cancel_read_: a running nix is killed
  thread_.join();
}

FlakeRefresher::Snapshot FlakeRefresher::snapshot() const {
  Snapshot s;
  {
    std::lock_guard lock(mutex_);
    s.remote = remote_;
    s.last_check_failed = state_.last_check_failed;
    s.counters = share_.counters_locked();
  }
  share_.add_nats_state(s.counters);
  return s;
}

void FlakeRefresher::note_current_revision(const std::optional<std::string>& revision) {
  bool changed;
  {
    std::lock_guard lock(mutex_);
    changed = current_revision_ != revision;
    current_revision_ = revision;
  }
  if (changed) wake_.notify_all();  // smart refresh may now be due
}

std::chrono::milliseconds FlakeRefresher::period_locked() const {
  bool smart = current_revision_ && remote_ && remote_->metadata.revision &&
               *current_revision_ == *remote_->metadata.revision;
  return smart ? std::min(config_.smart_refresh_interval, config_.check_interval)
               : config_.check_interval;
}

void FlakeRefresher::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    auto due = share_.due_locked(state_, period_locked());
    if (Steady::now() < due) {
      wake_.wait_until(lock, due);
      continue;  // woken: stop, news, or a new current revision; recompute
    }
    fetching_ = true;
    std::string takeover;
    if (share_.sharing() && remote_ && UpstreamShare::announces_takeover(state_))
      takeover = encode_share_message(
          {config_.url, remote_->metadata, remote_->fetched_at, share_.host_id()});
    lock.unlock();
    share_.publish(takeover);  // before nix runs: the other followers wait a period again
    try {
      check_once();
    } catch (const std::exception& e) {
      // check_once counts and logs its failures; this is the last line of defence.
      log::error("flake check: {}", e.what());
    }
    lock.lock();
    fetching_ = false;
  }
}

void FlakeRefresher::check_once() {
  std::vector<std::string> argv = {config_.nix_binary,
                                   "--extra-experimental-features",
                                   "nix-command flakes",
                                   "flake",
                                   "metadata",
                                   "--json",
                                   "--refresh",  // else git and tarball fetches are cached an hour
                                   "--",
                                   config_.url};
  ChildLimits limits;
  limits.timeout = config_.nix_timeout;
  limits.max_stdout = 4 << 20;
  limits.cancel_fd = cancel_read_.get();

  std::string result = "success", detail;
  std::optional<FlakeMetadata> metadata;
  try {
    ChildResult r = run_child(argv, limits);
    if (r.outcome == ChildResult::Outcome::cancelled) return;  // shutting down
    if (r.success()) {
      try {
        metadata = parse_flake_metadata(r.out);
      } catch (const Error& e) {
        result = "bad_output";
        detail = e.what();
      }
    } else if (r.outcome == ChildResult::Outcome::timed_out) {
      result = "timeout";
      detail = r.describe(limits.timeout);
    } else if (r.outcome == ChildResult::Outcome::output_too_large) {
      result = "bad_output";
      detail = fmt::format("more than {} bytes of output", limits.max_stdout);
    } else {
      result = "failed";
      detail = fmt::format("{}: {}", r.describe(limits.timeout), last_line(r.err));
    }
  } catch (const Error& e) {
    result = "error";
    detail = e.what();
  }

  auto fetched_at = now_();
  std::string message;
  {
    std::lock_guard lock(mutex_);
    if (metadata) {
      bool changed = !remote_ || remote_->metadata.revision != metadata->revision;
      if (changed)
        log::info("flake {} is at revision {}", config_.url,
                  metadata->revision.value_or("unknown"));
      remote_ = Remote{*metadata, fetched_at, false};
      if (share_.sharing())
        message = encode_share_message({config_.url, *metadata, fetched_at, share_.host_id()});
    }
    // After remote_: the period (smart refresh) depends on it.
    share_.checked_locked(state_, result, metadata.has_value(), period_locked());
  }
  if (!metadata) {
    log::warn("flake check of {} failed ({}): {}", config_.url, result, detail);
    return;
  }
  share_.publish(message);
}

void FlakeRefresher::on_shared_message(std::string_view payload) {
  std::lock_guard lock(mutex_);
  auto m = share_.receive_locked(payload, decode_share_message, now_());
  if (!m) return;
  if (m->flake_url != config_.url) return share_.reject_locked("other_flake", m->flake_url);
  // Older news of another revision would move us backwards. Older news of the same revision
  // (two hosts fetched at about the same time) still tells who checks next.
  bool older = remote_ && m->fetched_at < remote_->fetched_at;
  if (older && remote_->metadata.revision != m->metadata.revision)
    return share_.reject_locked("stale", "another revision, fetched before what this host has");
  // Before remote_ changes: the collision window is measured in the period until now.
  if (!share_.peer_news_locked(state_, m->host, fetching_, period_locked())) return;
  if (!older && (!remote_ || remote_->metadata.revision != m->metadata.revision))
    log::info("flake {} is at revision {} (from {})", config_.url,
              m->metadata.revision.value_or("unknown"), m->host);
  if (!older) remote_ = Remote{std::move(m->metadata), m->fetched_at, true};
  wake_.notify_all();
}

}  // namespace nixmon::exporter
