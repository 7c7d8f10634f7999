// spec/security.md 6.4: Secret prints as <redacted> every way it can be printed, compares in
// constant time, and leaves nothing behind when moved from.
#include "security/secret.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sstream>

namespace ironbus::security {
namespace {

TEST(SecretTest, EveryRenderingIsRedactedAndLengthFree) {
  const Secret a("hunter2-SENTINEL");
  const Secret b(std::string(4096, 'x'));
  for (const Secret* s : {&a, &b}) {
    std::ostringstream os;
    os << *s;
    EXPECT_EQ(os.str(), "<redacted>");
    EXPECT_EQ(s->ToString(), "<redacted>");
    EXPECT_EQ(fmt::format("{}", *s), "<redacted>");
    EXPECT_EQ(::testing::PrintToString(*s), "<redacted>");
  }
}

TEST(SecretTest, RevealGivesTheBytesAndATrailingNul) {
  const Secret s(std::string_view("a\0b", 3));
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.RevealBytesForUse(), std::string_view("a\0b", 3));
  EXPECT_EQ(s.RevealBytesForUse().data()[3], '\0');
  EXPECT_TRUE(Secret().empty());
  EXPECT_TRUE(Secret("").RevealBytesForUse().empty());
}

TEST(SecretTest, MoveLeavesTheSourceEmpty) {
  Secret a("key-bytes");
  Secret b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_TRUE(a.RevealBytesForUse().empty());
  EXPECT_EQ(b.RevealBytesForUse(), "key-bytes");
  Secret c("other");
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.RevealBytesForUse(), "key-bytes");
}

TEST(SecretTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals(Secret("abc"), Secret("abc")));
  EXPECT_FALSE(ConstantTimeEquals(Secret("abc"), Secret("abd")));
  EXPECT_FALSE(ConstantTimeEquals(Secret("abc"), Secret("abcd")));
  EXPECT_TRUE(ConstantTimeEquals(Secret(), Secret("")));
  EXPECT_TRUE(ConstantTimeEquals(std::string_view("xy"), std::string_view("xy")));
}

TEST(SecretTest, TakeFromWipesTheSourceString) {
  std::string pw = "correct horse battery staple";
  const char* buf = pw.data();
  const size_t cap = pw.capacity();
  Secret s = Secret::TakeFrom(&pw);
  EXPECT_TRUE(pw.empty());
  EXPECT_EQ(s.RevealBytesForUse(), "correct horse battery staple");
  // Same heap buffer, now zeros (the string was not shrunk).
  ASSERT_EQ(pw.data(), buf);
  EXPECT_EQ(std::string(buf, cap).find("horse"), std::string::npos);
}

TEST(SecretTest, CloneIsExplicitAndIndependent) {
  Secret a("k");
  Secret b = a.Clone();
  a = Secret("other");
  EXPECT_EQ(b.RevealBytesForUse(), "k");
}

}  // namespace
}  // namespace ironbus::security
