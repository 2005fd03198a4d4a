#pragma once
// Asks a channel's upstream which revision it is at: GET <channel URL>/git-revision, following
// redirects. channels.nixos.org answers a channel URL (and any file below it) with a redirect to
// the release directory on releases.nixos.org, which holds `git-revision` beside
// `nixexprs.tar.xz`; nix-channel itself follows that redirect and takes the tarball from where it
// landed (NixOS/nix src/nix-channel/nix-channel.cc, tag 2.28.0, lines 113-119).
//
// Thread-safety: one UpstreamFetch per request; cancel() may be called from any other thread.
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace httplib {
class Client;
}

namespace nixmon::exporter {

struct UpstreamResult {
  // "success"; "http_error" (a status other than 200 after redirects); "failed" (no answer:
  // connection, TLS, timeout); "bad_output" (not a git revision); "unsupported" (not http(s)).
  std::string result;
  std::optional<std::string> revision;  // lower-case hex, on success
  std::string detail;                   // for the log, on failure
};

// "http://h:1/a/b" -> {"http://h:1", "/a/b"}; nullopt for anything but http(s) URLs with a host.
struct SplitUrl {
  std::string scheme_host_port;
  std::string path;
};
std::optional<SplitUrl> split_http_url(std::string_view url);

// A git-revision file's text: 7 to 64 hex digits, surrounding blanks ignored. nullopt otherwise.
std::optional<std::string> parse_git_revision(std::string_view text);

class UpstreamFetch {
 public:
  UpstreamFetch();
  ~UpstreamFetch();
  // Blocks for at most a few times `timeout` (connect, each read, each redirect).
  UpstreamResult fetch(const std::string& channel_url, std::chrono::milliseconds timeout);
  // Makes a running fetch() return soon (with "failed"), also in the middle of redirects.
  void cancel();

  static constexpr std::size_t max_body = 4096;
  static constexpr int max_redirects = 10;

 private:
  struct Reply {
    std::string result;  // set when there was no HTTP answer (result, detail as UpstreamResult's)
    std::string detail;
    int status = 0;
    std::optional<std::string> location;
    std::string body;
    bool too_large = false;
  };
  Reply get_once(const SplitUrl& url, std::chrono::milliseconds timeout);

  std::mutex mutex_;
  httplib::Client* active_ = nullptr;
  bool cancelled_ = false;
};

}  // namespace nixmon::exporter
