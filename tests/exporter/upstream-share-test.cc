#include "exporter/upstream-share.hh"

#include <gtest/gtest.h>

#include <thread>

#include "exporter/flake/flake-refresher.hh"

using namespace nixmon::exporter;
using namespace std::chrono_literals;

// Who announces before fetching: a follower whose wait ran out (the leader went quiet), never the
// leader of the last round. Without the announcement a large fleet fetched all at once when its
// fetching host died (bench/fleet-sharing.py).
TEST(UpstreamShare, FollowersAnnounceATakeoverTheLeaderDoesNot) {
  NatsSharing off("subject");  // no connection: the scheduling state alone
  UpstreamShare share(flake_share_traits, off, "host-b", 4ms, {});
  UpstreamShare::KeyState s;
  EXPECT_FALSE(UpstreamShare::announces_takeover(s));  // nothing heard yet: checks on its own

  share.checked_locked(s, "success", true, 4ms);
  EXPECT_FALSE(UpstreamShare::announces_takeover(s));  // its fetch was the last news: leader

  std::this_thread::sleep_for(5ms);  // past the collision window (1/4 period)
  ASSERT_TRUE(share.peer_news_locked(s, "host-c", false, 4ms));
  EXPECT_TRUE(UpstreamShare::announces_takeover(s));  // a peer leads: due means it went quiet

  share.checked_locked(s, "success", true, 4ms);
  EXPECT_FALSE(UpstreamShare::announces_takeover(s));  // took over: leads now

  // A collision with a lower host id (its news and this host's fetch within 1/4 period): that
  // host keeps the lead, this one follows and would announce.
  UpstreamShare::KeyState t;
  ASSERT_TRUE(share.peer_news_locked(t, "host-a", false, 10s));
  share.checked_locked(t, "success", true, 10s);
  EXPECT_TRUE(UpstreamShare::announces_takeover(t));
}
