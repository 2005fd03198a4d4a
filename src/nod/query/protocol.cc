#include "query/protocol.hh"

#include <simdjson.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hh"

namespace nixmon::nod {

std::string query_magic_line() {
  return fmt::format("{}{}", query_magic_prefix, query_protocol_version);
}

void QueryService::add(std::string name, RequestHandler handler) {
  handlers_[std::move(name)] = std::move(handler);
}

std::string QueryService::answer(std::string_view line) const {
  try {
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(line);
    std::string_view name;
    simdjson::ondemand::document doc;
    if (parser.iterate(padded).get(doc) || doc["request"].get_string().get(name))
      throw Error(
          R"(a request is one JSON object with a "request" string, e.g. {"request":"status"})");
    auto it = handlers_.find(name);
    if (it == handlers_.end()) {
      std::string known;
      for (auto& [n, h] : handlers_) known += (known.empty() ? "" : ", ") + n;
      throw Error(fmt::format("unknown request '{}' (this daemon answers: {})", name, known));
    }
    // The whole answer through one writer (a handler that throws half-way leaves it unused).
    JsonWriter w;
    w.begin_object().field("ok", true).key("result").begin_object();
    it->second(line, w);
    w.end_object().end_object();
    return w.take();
  } catch (const std::exception& e) {
    return error_reply(e.what());
  }
}

std::string error_reply(std::string_view message) {
  JsonWriter w;
  w.begin_object().field("ok", false).field("error", message).end_object();
  return w.take();
}

bool no_daemon_answers(const SysError& e) {
  return e.is(ENOENT) || e.is(ENOTDIR) || e.is(ECONNREFUSED);
}

QueryClient::QueryClient(const std::string& path) : path_(path) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw SysError("cannot create a Unix socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    ::close(fd_);
    throw UsageError(fmt::format("socket path '{}' is too long", path));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    SysError e("no nod daemon answers on '{}'", path);
    ::close(fd_);
    throw e;
  }
  std::string magic = query_magic_line() + "\n";
  if (::send(fd_, magic.data(), magic.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(magic.size())) {
    SysError e("cannot write to '{}'", path);
    ::close(fd_);
    throw e;
  }
}

QueryClient::~QueryClient() {
  ::close(fd_);
}

std::string QueryClient::request(std::string_view json) {
  std::string out(json);
  out += '\n';
  // A daemon over its --max-connections answers the magic line with an error and closes without
  // reading the query: the send then fails (EPIPE), but the daemon's reason is already waiting
  // in our receive buffer, and that is what the user needs to see.
  int send_errno = 0;
  for (size_t off = 0; off < out.size();) {
    ssize_t n = ::send(fd_, out.data() + off, out.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      send_errno = errno;
      break;
    }
    off += n;
  }
  for (;;) {
    if (auto nl = pending_.find('\n'); nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    char buf[65536];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (send_errno != 0 && n <= 0) throw SysError(send_errno, "cannot send a query to '{}'", path_);
    if (n < 0) throw SysError("cannot read the answer from '{}'", path_);
    if (n == 0) throw Error(fmt::format("the daemon on '{}' closed the connection", path_));
    pending_.append(buf, n);
  }
}

}  // namespace nixmon::nod
