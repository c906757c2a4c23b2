#include "common/base64.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace faultline {
namespace {

TEST(Base64Test, MatchesKnownVectors) {
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("a"), "YQ==");
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Decode("YmF6"), "baz");
  EXPECT_EQ(Base64Decode("YQ=="), "a");
  EXPECT_EQ(Base64Decode("YWI="), "ab");
}

TEST(Base64Test, RejectsMalformedText) {
  EXPECT_EQ(Base64Decode("YQ"), std::nullopt);
  EXPECT_EQ(Base64Decode("Y=Q="), std::nullopt);
  EXPECT_EQ(Base64Decode("Y!Q="), std::nullopt);
}

TEST(Base64Test, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); len += 17) {
    const std::string s = all.substr(0, len);
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s) << "length " << len;
  }
}

}  // namespace
}  // namespace faultline
