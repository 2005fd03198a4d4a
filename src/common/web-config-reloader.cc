#include "common/web-config-reloader.hh"

#include <utility>

#include "common/error.hh"
#include "common/log.hh"
#include "common/tls-context.hh"

namespace nixmon {

namespace {

// Between two checks the files are not looked at: a second is what an operator rotating a
// certificate cannot tell from "at once", and it bounds the cost to one stat per file and second.
constexpr auto check_interval = std::chrono::seconds(1);

bool same_time(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// The files a configuration depends on besides the config file itself.
std::vector<std::filesystem::path> named_files(const WebConfig& web) {
  std::vector<std::filesystem::path> out;
  if (web.tls) {
    for (const auto* p : {&web.tls->cert_file, &web.tls->key_file, &web.tls->client_ca_file})
      if (!p->empty()) out.push_back(*p);
  }
  return out;
}

// Fills `snap`'s basic auth and TLS context from its web config. Throws UsageError.
void complete(WebConfigReloader::Snapshot& snap) {
  snap.auth = std::make_unique<BasicAuth>(snap.web.basic_auth_users);
  if (!snap.web.tls) return;
  snap.tls.reset(SSL_CTX_new(TLS_server_method()));
  if (!snap.tls) throw UsageError("OpenSSL cannot create a TLS context");
  configure_server_tls(*snap.tls, *snap.web.tls);
}

}  // namespace

bool WebConfigReloader::Stamp::operator==(const Stamp& o) const {
  return exists == o.exists && dev == o.dev && ino == o.ino && size == o.size &&
         same_time(mtime, o.mtime) && same_time(ctime, o.ctime);
}

WebConfigReloader::Stamp WebConfigReloader::stamp(const std::filesystem::path& p) {
  Stamp s;
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return s;  // gone or unreadable: the load will say which
  s.exists = true;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = st.st_size;
  s.mtime = st.st_mtim;
  s.ctime = st.st_ctim;
  return s;
}

WebConfigReloader::WebConfigReloader(std::filesystem::path file, WebConfig initial,
                                     std::function<Clock::time_point()> now)
    : file_(std::move(file)), tls_(initial.tls.has_value()), now_(std::move(now)) {
  if (!file_.empty()) {
    watched_.push_back(file_);
    for (auto& p : named_files(initial)) watched_.push_back(std::move(p));
    for (const auto& p : watched_) stamps_.push_back(stamp(p));
  }
  auto snap = std::make_shared<Snapshot>();
  snap->web = std::move(initial);
  complete(*snap);
  current_ = std::move(snap);
  checked_ = now_();
}

std::shared_ptr<const WebConfigReloader::Snapshot> WebConfigReloader::current() {
  if (file_.empty()) return current_;  // never replaced
  std::lock_guard lock(mutex_);
  auto now = now_();
  if (now - checked_ < check_interval) return current_;
  checked_ = now;
  bool changed = false;
  for (std::size_t i = 0; i < watched_.size() && !changed; ++i)
    changed = !(stamp(watched_[i]) == stamps_[i]);
  if (changed) current_ = load();
  return current_;
}

// Each file is stamped before it is read, so a change made while reading is seen at the next check.
std::shared_ptr<const WebConfigReloader::Snapshot> WebConfigReloader::load() {
  auto snap = std::make_shared<Snapshot>();
  watched_ = {file_};
  stamps_ = {stamp(file_)};
  try {
    snap->web = read_web_config(file_);
    for (auto& p : named_files(snap->web)) {
      stamps_.push_back(stamp(p));
      watched_.push_back(std::move(p));
    }
    if (snap->web.tls.has_value() != tls_)
      throw UsageError(fmt::format(
          "web config file {}: tls_server_config was {}; switching TLS on or off needs a restart",
          file_.string(), tls_ ? "removed" : "added"));
    try {
      complete(*snap);
    } catch (const Error& e) {
      throw UsageError(fmt::format("web config file {}: {}", file_.string(), e.what()));
    }
  } catch (const std::exception& e) {
    snap->error = e.what();
    snap->auth.reset();
    snap->tls.reset();
    log::error("{}; until it is fixed every request gets 500{}", snap->error,
               tls_ ? " and every TLS handshake fails" : "");
    return snap;
  }
  log::info("web config file {} changed and was loaded again", file_.string());
  return snap;
}

}  // namespace nixmon
