#include "exporter/upstream-share.hh"

#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>

#include "common/log.hh"
#include "exporter/flake/nats-share.hh"

namespace nixmon::exporter {

void add_nats_sharing_flags(CLI::App& app, NatsSharing& f, std::string_view collector,
                            const std::string& enable_help, const std::string& subject_help) {
  auto flag = [&](std::string_view name) { return fmt::format("--{}.nats.{}", collector, name); };
  app.add_flag(flag("enable"), f.nats_enable, enable_help);
  app.add_option(flag("url"), f.nats_url,
                 "NATS server URL, or several comma-separated (servers of one cluster): the first "
                 "is tried first, the others on failure in random order")
      ->capture_default_str();
  app.add_option(flag("subject"), f.nats_subject, subject_help)->capture_default_str();
  app.add_option(flag("credentials-file"), f.nats_credentials_file,
                 "NATS credentials file (optional)");
  // The flag keeps the Go nixos-exporter's name, so its configurations run unchanged.
  app.add_option(flag("nkey-seed-file"), f.nats_nkey_file,
                 "NATS user key file (an NKey, optional)");
}

void check_nats_sharing_flags(const NatsSharing& f, std::string_view collector) {
  if (!f.nats_credentials_file.empty() && !f.nats_nkey_file.empty())
    throw UsageError(fmt::format(
        "--{0}.nats.credentials-file and --{0}.nats.nkey-seed-file exclude each other", collector));
  if (f.nats_enable && f.nats_subject.empty())
    throw UsageError(fmt::format("--{}.nats.subject must not be empty", collector));
  if (f.nats_enable) nats_servers(f.nats_url, fmt::format("--{}.nats.url", collector));
}

std::vector<std::string> nats_servers(std::string_view urls, std::string_view flag) {
  std::vector<std::string> servers;
  constexpr std::string_view blanks = " \t";
  for (std::size_t start = 0;;) {
    auto comma = urls.find(',', start);
    auto entry = urls.substr(start, comma == std::string_view::npos ? urls.npos : comma - start);
    auto b = entry.find_first_not_of(blanks);
    if (b == std::string_view::npos)
      throw UsageError(
          fmt::format("{} \"{}\": server {} of the list is empty", flag, urls, servers.size() + 1));
    entry = entry.substr(b, entry.find_last_not_of(blanks) - b + 1);
    servers.emplace_back(entry);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return servers;
}

namespace {

std::string default_host_id(std::mt19937_64& random) {
  char name[256] = "";
  if (::gethostname(name, sizeof name - 1) != 0 || !name[0])
    std::snprintf(name, sizeof name, "host");
  return fmt::format("{}-{:08x}", name, static_cast<std::uint32_t>(random()));
}

}  // namespace

UpstreamShare::UpstreamShare(const UpstreamShareTraits& traits, const NatsSharing& nats,
                             std::string host_id, std::chrono::milliseconds check_interval,
                             OnMessage on_message)
    : traits_(traits),
      subject_(nats.nats_subject),
      random_(std::random_device{}()),
      host_id_(std::move(host_id)),
      started_(Steady::now()) {
  if (host_id_.empty()) host_id_ = default_host_id(random_);
  for (const char* r : traits_.check_results) checks_[r] = 0;
  for (const char* r : traits_.reject_reasons) rejected_[r] = 0;
  if (nats.nats_enable) {
    // Hosts started together should not all fetch at once: a peer's message may come first.
    auto spread = std::min(check_interval / 4, std::chrono::milliseconds(10'000));
    startup_delay_ = std::chrono::milliseconds(
        std::uniform_int_distribution<long long>(0, spread.count())(random_));
    nats_ = std::make_unique<NatsShare>(
        NatsShareConfig{
            nats_servers(nats.nats_url, fmt::format("--{}.nats.url", traits_.collector)),
            nats.nats_subject, nats.nats_credentials_file, nats.nats_nkey_file,
            fmt::format("--{}.nats", traits_.collector)},
        std::move(on_message));
  }
}

UpstreamShare::~UpstreamShare() = default;

UpstreamShare::Steady::time_point UpstreamShare::due_locked(
    const KeyState& s, std::chrono::milliseconds period) const {
  if (!s.last_fresh && !s.last_attempt) return started_ + startup_delay_;
  auto last = std::max(s.last_fresh.value_or(Steady::time_point{}),
                       s.last_attempt.value_or(Steady::time_point{}));
  auto due = last + period;
  if (nats_ && !s.leader)
    due += std::chrono::duration_cast<std::chrono::milliseconds>(period * s.grace);
  return due;
}

void UpstreamShare::checked_locked(KeyState& s, const std::string& result, bool success,
                                   std::chrono::milliseconds period) {
  auto steady = Steady::now();
  ++checks_[result];
  s.last_attempt = steady;
  s.last_check_failed = !success;
  if (!success) return;
  s.last_fresh = steady;
  s.last_own_success = steady;
  // A collision with a lower host id's fetch: that host keeps the lead, everywhere alike.
  auto window = period / 4;
  s.leader = !(s.last_peer && steady - *s.last_peer < window && s.last_peer_host < host_id_);
  s.grace = std::uniform_real_distribution<double>(0.25, 0.5)(random_);
}

void UpstreamShare::publish(std::string_view message) {
  if (!message.empty() && nats_ && nats_->publish(message)) ++published_;
}

void UpstreamShare::reject_locked(const std::string& reason, const std::string& detail) {
  ++rejected_[reason];
  if (reason == "malformed" && !logged_malformed_) {
    logged_malformed_ = true;
    log::warn("NATS subject {}: ignoring a malformed message ({}); later ones are only counted",
              subject_, detail);
  } else {
    log::debug("NATS: ignoring a {} ({}: {})", traits_.message, reason, detail);
  }
}

bool UpstreamShare::peer_news_locked(KeyState& s, const std::string& peer, bool fetching,
                                     std::chrono::milliseconds period) {
  auto steady = Steady::now();
  auto window = period / 4;
  bool colliding = fetching || (s.last_own_success && steady - *s.last_own_success < window);
  // We fetched at the same time and keep the lead; the peer steps back when it sees ours.
  if (colliding && host_id_ < peer) return false;
  s.last_fresh = steady;
  s.last_check_failed = false;
  s.last_peer = steady;
  s.last_peer_host = peer;
  s.leader = false;
  s.grace = std::uniform_real_distribution<double>(0.25, 0.5)(random_);
  return true;
}

UpstreamShare::Counters UpstreamShare::counters_locked() const {
  Counters c;
  c.checks = checks_;
  c.nats_received = received_;
  c.nats_published = published_;
  c.nats_rejected = rejected_;
  return c;
}

void UpstreamShare::add_nats_state(Counters& c) const {
  if (!nats_) return;
  c.nats_enabled = true;
  c.nats_connected = nats_->connected();
  c.nats_reconnects = nats_->reconnects();
}

void collect_share_counters(MetricSet& out, const UpstreamShareTraits& t,
                            const UpstreamShare::Counters& c) {
  auto labels = [](std::span<const char* const> values) {
    return fmt::format("{}", fmt::join(values.begin(), values.end(), ", "));
  };
  for (const auto& [result, n] : c.checks) {
    out.counter(t.checks_name,
                fmt::format("{}, by result ({})", t.checks_help, labels(t.check_results)),
                static_cast<double>(n), {{"result", result}});
  }
  if (!c.nats_enabled) return;
  auto name = [&](std::string_view series) {
    return fmt::format("nixos_{}_nats_{}", t.collector, series);
  };
  out.gauge(name("connected"), "1 if connected to the NATS server", c.nats_connected ? 1 : 0);
  out.counter(name("reconnects_total"), "Reconnections to the NATS server",
              static_cast<double>(c.nats_reconnects));
  out.counter(name("messages_published_total"), t.published_help,
              static_cast<double>(c.nats_published));
  out.counter(name("messages_received_total"),
              fmt::format("Messages received on the {} (accepted or not)", t.subject),
              static_cast<double>(c.nats_received));
  for (const auto& [reason, n] : c.nats_rejected) {
    out.counter(name("messages_rejected_total"),
                fmt::format("Messages on the {} that were not used, by reason ({})", t.subject,
                            labels(t.reject_reasons)),
                static_cast<double>(n), {{"reason", reason}});
  }
}

}  // namespace nixmon::exporter
