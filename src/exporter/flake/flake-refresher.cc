#include "exporter/flake/flake-refresher.hh"

#include <fcntl.h>
#include <unistd.h>

#include "common/child-process.hh"
#include "common/duration.hh"
#include "common/error.hh"
#include "common/log.hh"
#include "exporter/flake/nats-share.hh"
#include "exporter/flake/share-message.hh"

namespace nixmon::exporter {

namespace {

std::string default_host_id(std::mt19937_64& random) {
  char name[256] = "";
  if (::gethostname(name, sizeof name - 1) != 0 || !name[0])
    std::snprintf(name, sizeof name, "host");
  return fmt::format("{}-{:08x}", name, static_cast<std::uint32_t>(random()));
}

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
    : config_(std::move(config)), now_(std::move(now)), random_(std::random_device{}()) {
  if (config_.host_id.empty()) config_.host_id = default_host_id(random_);
  for (const char* r : check_results) checks_[r] = 0;
  for (const char* r : reject_reasons) rejected_[r] = 0;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw SysError("creating the flake refresher's cancel pipe");
  cancel_read_.reset(fds[0]);
  cancel_write_.reset(fds[1]);
  started_ = Steady::now();
  if (config_.nats_enable) {
    // Hosts started together should not all fetch at once: a peer's message may come first.
    auto spread = std::min(config_.check_interval / 4, std::chrono::milliseconds(10'000));
    startup_delay_ = std::chrono::milliseconds(
        std::uniform_int_distribution<long long>(0, spread.count())(random_));
    nats_ = std::make_unique<NatsShare>(
        config_, [this](std::string_view payload) { on_shared_message(payload); });
  }
  log::info("flake collector: checking {} every {} (host id {}{})", config_.url,
            format_duration(config_.check_interval), config_.host_id,
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
  nats_.reset();  // before the state its callback uses
}

FlakeRefresher::Snapshot FlakeRefresher::snapshot() const {
  Snapshot s;
  {
    std::lock_guard lock(mutex_);
    s.remote = remote_;
    s.last_check_failed = last_check_failed_;
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

FlakeRefresher::Steady::time_point FlakeRefresher::next_due_locked() const {
  if (!last_fresh_ && !last_attempt_) return started_ + startup_delay_;
  auto last = std::max(last_fresh_.value_or(Steady::time_point{}),
                       last_attempt_.value_or(Steady::time_point{}));
  auto period = period_locked();
  auto due = last + period;
  if (nats_ && !leader_)
    due += std::chrono::duration_cast<std::chrono::milliseconds>(period * grace_fraction_);
  return due;
}

void FlakeRefresher::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    auto due = next_due_locked();
    if (Steady::now() < due) {
      wake_.wait_until(lock, due);
      continue;  // woken: stop, news, or a new current revision; recompute
    }
    fetching_ = true;
    lock.unlock();
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
    auto steady = Steady::now();
    ++checks_[result];
    last_attempt_ = steady;
    last_check_failed_ = !metadata;
    if (metadata) {
      bool changed = !remote_ || remote_->metadata.revision != metadata->revision;
      if (changed)
        log::info("flake {} is at revision {}", config_.url,
                  metadata->revision.value_or("unknown"));
      remote_ = Remote{*metadata, fetched_at, false};
      last_fresh_ = steady;
      last_own_success_ = steady;
      // A collision with a lower host id's fetch: that host keeps the lead, everywhere alike.
      auto window = period_locked() / 4;
      leader_ = !(last_peer_ && steady - *last_peer_ < window && last_peer_host_ < config_.host_id);
      grace_fraction_ = std::uniform_real_distribution<double>(0.25, 0.5)(random_);
      if (nats_)
        message = encode_share_message({config_.url, *metadata, fetched_at, config_.host_id});
    }
  }
  if (!metadata) {
    log::warn("flake check of {} failed ({}): {}", config_.url, result, detail);
    return;
  }
  if (nats_ && nats_->publish(message)) {
    std::lock_guard lock(mutex_);
    ++published_;
  }
}

void FlakeRefresher::reject_locked(const std::string& reason, const std::string& detail) {
  ++rejected_[reason];
  if (reason == "malformed" && !logged_malformed_) {
    logged_malformed_ = true;
    log::warn("NATS subject {}: ignoring a malformed message ({}); later ones are only counted",
              config_.nats_subject, detail);
  } else {
    log::debug("NATS: ignoring a message ({}: {})", reason, detail);
  }
}

void FlakeRefresher::on_shared_message(std::string_view payload) {
  std::lock_guard lock(mutex_);
  ++received_;
  ShareMessage m;
  try {
    m = decode_share_message(payload);
  } catch (const Error& e) {
    reject_locked("malformed", e.what());
    return;
  }
  if (m.host == config_.host_id) return reject_locked("own", m.host);
  if (m.flake_url != config_.url) return reject_locked("other_flake", m.flake_url);
  // Older news of another revision would move us backwards. Older news of the same revision
  // (two hosts fetched at about the same time) still tells who checks next.
  bool older = remote_ && m.fetched_at < remote_->fetched_at;
  if (older && remote_->metadata.revision != m.metadata.revision)
    return reject_locked("stale", "another revision, fetched before what this host has");

  auto steady = Steady::now();
  auto window = period_locked() / 4;
  bool colliding = fetching_ || (last_own_success_ && steady - *last_own_success_ < window);
  if (colliding && config_.host_id < m.host) {
    // We fetched at the same time and keep the lead; the peer steps back when it sees ours.
    return;
  }
  if (!older && (!remote_ || remote_->metadata.revision != m.metadata.revision))
    log::info("flake {} is at revision {} (from {})", config_.url,
              m.metadata.revision.value_or("unknown"), m.host);
  if (!older) remote_ = Remote{std::move(m.metadata), m.fetched_at, true};
  last_fresh_ = steady;
  last_check_failed_ = false;
  last_peer_ = steady;
  last_peer_host_ = m.host;
  leader_ = false;
  grace_fraction_ = std::uniform_real_distribution<double>(0.25, 0.5)(random_);
  wake_.notify_all();
}

}  // namespace nixmon::exporter
