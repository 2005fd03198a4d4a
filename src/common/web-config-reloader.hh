#pragma once
// Keeps `--web.config.file` current while the server runs, so that rotated certificates, edited
// users and headers take effect without a restart, as with the exporter-toolkit.
//
// What the toolkit does (web/handler.go and web/tls_config.go, v0.17.1): every HTTP request parses
// the file again (headers and basic_auth_users), and every TLS handshake parses it and reads the
// certificate and key again (Serve's GetConfigForClient). A file that has become broken fails each
// request with 500 and each handshake with an alert, and the error is logged; it does not keep the
// previous configuration. Whether TLS is on, http2 and rate_limit are decided once, at startup.
//
// nixmon does the same, but reads only what changed: the request or handshake that finds the last
// check more than a second old stats the config file and the certificate, key and client CA files
// it names (device, inode, size, mtime, ctime; following links, so a renamed-over file or a
// re-pointed symlink counts), and loads them again only when one of them differs. A broken new
// configuration is reported like the toolkit's (500, failed handshakes) and logged once per change;
// a later change that repairs it is taken up the same way. A new file that turns TLS on or off is
// broken in this sense (that takes a restart, as in the toolkit).
//
// Thread-safety: current() may be called from many threads at once; the returned snapshot is
// immutable and stays valid as long as it is held.
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/basic-auth.hh"
#include "common/web-config.hh"

namespace nixmon {

class WebConfigReloader {
 public:
  using Clock = std::chrono::steady_clock;

  struct Snapshot {
    WebConfig web;
    std::unique_ptr<BasicAuth> auth;
    // With TLS: a server context configured from web.tls (whose verify callback reads web.tls, so
    // whoever uses the context holds the snapshot).
    std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> tls{nullptr, SSL_CTX_free};
    std::string error;  // non-empty: the file changed and what it says now cannot be used
  };

  // `file` is the web config file (empty: no file, nothing to watch); `initial` what
  // load_web_config read from it at startup. Throws UsageError when the TLS context cannot be set
  // up from `initial`.
  WebConfigReloader(std::filesystem::path file, WebConfig initial,
                    std::function<Clock::time_point()> now = Clock::now);

  // The configuration to use for this request or handshake (see above for when it is re-read).
  std::shared_ptr<const Snapshot> current();

  bool tls() const { return tls_; }

 private:
  struct Stamp {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    timespec mtime{}, ctime{};
    bool operator==(const Stamp& o) const;
  };
  static Stamp stamp(const std::filesystem::path& p);
  std::shared_ptr<const Snapshot> load();  // with mutex_ held

  const std::filesystem::path file_;
  const bool tls_;
  std::function<Clock::time_point()> now_;
  std::mutex mutex_;
  std::shared_ptr<const Snapshot> current_;
  std::vector<std::filesystem::path> watched_;  // the config file, then the files it names
  std::vector<Stamp> stamps_;                   // of watched_, as they were when last read
  Clock::time_point checked_;
};

}  // namespace nixmon
