// Numbers in nod's JSON: no binary noise in the last digits, and every value still exact where
// the double holds it exactly.
#include "common/json-writer.hh"

#include <gtest/gtest.h>

using namespace nixmon;

namespace {

std::string number(double d) {
  JsonWriter w;
  w.value(d);
  return w.take();
}

}  // namespace

// A mean of stored milliseconds was written 1736.2000000000003 in `nod --output json`.
TEST(JsonWriter, NoFloatNoiseInSumsAndMeans) {
  double sum = 0;
  for (double v : {1000.1, 736.1}) sum += v;  // 1736.1999999999998 in binary
  EXPECT_EQ(number(sum), "1736.2");
  EXPECT_EQ(number(1736.2000000000003), "1736.2");
  EXPECT_EQ(number(0.1 + 0.2), "0.3");
  EXPECT_EQ(number(8681.0 / 5), "1736.2");
}

TEST(JsonWriter, ExactValuesStayExact) {
  EXPECT_EQ(number(0), "0");
  EXPECT_EQ(number(-2.5), "-2.5");
  EXPECT_EQ(number(1736.25), "1736.25");
  EXPECT_EQ(number(0.05), "0.05");
  EXPECT_EQ(number(1e15), "1000000000000000");
  EXPECT_EQ(number(123456789012.345), "123456789012.345");
  EXPECT_EQ(number(1.5e-7), "1.5e-07");
  EXPECT_EQ(format_number(3.0), "3");
}
