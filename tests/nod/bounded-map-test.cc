#include "tracking/bounded-map.hh"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using nixmon::nod::BoundedMap;

TEST(BoundedMap, KeepsAtMostItsCapacityDroppingTheOldest) {
  BoundedMap<std::string, int> m(2);
  EXPECT_FALSE(m.put("a", 1, 10));
  EXPECT_FALSE(m.put("b", 2, 11));
  auto out = m.put("c", 3, 12);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->key, "a");
  EXPECT_EQ(m.size(), 2u);
  EXPECT_FALSE(m.contains("a"));
  EXPECT_EQ(*m.find("c"), 3);
}

TEST(BoundedMap, ReassigningMakesAnEntryRecent) {
  BoundedMap<std::string, int> m(2);
  m.put("a", 1, 10);
  m.put("b", 2, 11);
  m.put("a", 5, 12);  // a is now newer than b
  auto out = m.put("c", 3, 13);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->key, "b");
  EXPECT_EQ(*m.find("a"), 5);
}

TEST(BoundedMap, ExpiresByAgeOldestFirst) {
  BoundedMap<int, int> m(10);
  for (int i = 0; i < 5; ++i) m.put(i, i * 10, 100 + i);
  std::vector<int> gone;
  m.expire(103, [&](auto&& e) { gone.push_back(e.key); });
  EXPECT_EQ(gone, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(m.size(), 2u);
  std::vector<int> odd;
  m.remove_if([](auto& e) { return e.key % 2 == 1; }, [&](auto&& e) { odd.push_back(e.key); });
  EXPECT_EQ(odd, (std::vector<int>{3}));
  EXPECT_TRUE(m.contains(4));
  EXPECT_TRUE(m.erase(4));
  EXPECT_TRUE(m.empty());
}
