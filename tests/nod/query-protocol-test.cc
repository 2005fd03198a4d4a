// The query client against a hand-driven Unix socket server: what a client sees when the daemon
// refuses it.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/error.hh"
#include "query/protocol.hh"
#include "support/test-support.hh"

namespace nixmon::nod {
namespace {

// A listening Unix socket at `path` that no daemon serves: the test accepts and answers by hand.
// -1 on failure.
int listen_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 1) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Regression: a daemon over its --max-connections answers the magic line with an error and
// closes without reading the query. The client's send of the query then fails (EPIPE), and it
// reported "Broken pipe" instead of the daemon's reason, which was already in its buffer.
TEST(QueryClient, ReportsTheRefusalOfADaemonThatClosedBeforeReadingTheQuery) {
  test::TempDir dir;
  std::string path = (dir.path() / "nod.sock").string();
  int listener = listen_unix(path);
  ASSERT_GE(listener, 0);

  QueryClient client(path);  // connects and sends the magic line; the backlog holds it
  int conn = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  std::string head;
  for (char c; head.find('\n') == std::string::npos && ::read(conn, &c, 1) == 1;) head += c;
  EXPECT_EQ(head, query_magic_line() + "\n");
  std::string refusal = error_reply("no room") + "\n";
  ASSERT_EQ(::write(conn, refusal.data(), refusal.size()), static_cast<ssize_t>(refusal.size()));
  ::close(conn);  // the query that follows is never read
  ::close(listener);

  EXPECT_EQ(client.request(R"({"request":"status"})"), error_reply("no room"));
}

// Without anything from the daemon, the failed send is the error, with its cause.
TEST(QueryClient, ASendToAClosedDaemonWithNoAnswerIsAnError) {
  test::TempDir dir;
  std::string path = (dir.path() / "nod.sock").string();
  int listener = listen_unix(path);
  ASSERT_GE(listener, 0);
  QueryClient client(path);
  int conn = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  ::close(conn);
  ::close(listener);
  try {
    client.request(R"({"request":"status"})");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_TRUE(what.find("closed the connection") != std::string::npos ||
                what.find("cannot send a query") != std::string::npos)
        << what;
  }
}

}  // namespace
}  // namespace nixmon::nod
