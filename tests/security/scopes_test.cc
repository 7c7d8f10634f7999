// spec/security.md 3 and protocol.md 5.3: every tag a client may send has exactly the scope
// requirement the spec gives it, pinned against the protocol's own constants; everything else
// is not a client verb.
#include "security/scopes.h"

#include <gtest/gtest.h>

#include <map>

#include "protocol/wire_format.h"

namespace ironbus::security {
namespace {

using protocol::Tag;
using R = ScopeRequirement;

const std::map<Tag, R>& Expected() {
  static const std::map<Tag, R> m = {
      {Tag::kConnect, R::kNone},
      {Tag::kPing, R::kNone},
      {Tag::kPub, R::kPublish},
      {Tag::kPubTo, R::kPublish},
      {Tag::kPubSubject, R::kPublish},
      {Tag::kSub, R::kSubscribe},
      {Tag::kUnsub, R::kSubscribe},
      {Tag::kAck, R::kSubscribe},
      {Tag::kFlow, R::kSubscribe},
      {Tag::kCumulativeAck, R::kSubscribe},
      {Tag::kFetch, R::kSubscribe},
      {Tag::kStreamFetch, R::kSubscribe},
      {Tag::kStreamCommit, R::kSubscribe},
      {Tag::kStreamInfo, R::kSubscribe},
      {Tag::kSubTo, R::kSubscribe},
      {Tag::kSubSubject, R::kSubscribe},
      {Tag::kStreamDeclare, R::kPublishOrSubscribe},
      {Tag::kBindSubject, R::kPublishOrSubscribe},
      {Tag::kTxnPrepare, R::kPublishOrSubscribe},
      {Tag::kTxnCommit, R::kPublishOrSubscribe},
      {Tag::kTxnRollback, R::kPublishOrSubscribe},
      {Tag::kTxnCheckResult, R::kPublishOrSubscribe},
      {Tag::kTxnListen, R::kPublishOrSubscribe},
      {Tag::kPauseGroup, R::kAdmin},
  };
  return m;
}

TEST(ScopesTest, EveryTagHasTheSpecRequirement) {
  for (int t = 0; t <= 255; ++t) {
    const auto tag = static_cast<uint8_t>(t);
    const protocol::Sender sender = protocol::SenderOf(tag);
    const bool client_may_send = sender == protocol::Sender::kClient || sender == protocol::Sender::kEither;
    const auto it = Expected().find(static_cast<Tag>(tag));
    if (client_may_send) {
      ASSERT_NE(it, Expected().end()) << "client tag " << t << " has no expected scope in this test";
      EXPECT_EQ(RequiredScope(tag), it->second) << "tag " << t;
    } else {
      EXPECT_EQ(it, Expected().end()) << t;
      EXPECT_EQ(RequiredScope(tag), R::kNotClientVerb) << "tag " << t;
    }
  }
}

TEST(ScopesTest, NoScopeImpliesAnother) {
  ScopeSet admin;
  admin.Add(Scope::kAdmin);
  EXPECT_FALSE(Permits(admin, static_cast<uint8_t>(Tag::kPub)));
  EXPECT_FALSE(Permits(admin, static_cast<uint8_t>(Tag::kSub)));
  EXPECT_TRUE(Permits(admin, static_cast<uint8_t>(Tag::kPauseGroup)));
  EXPECT_FALSE(Permits(admin, static_cast<uint8_t>(Tag::kStreamDeclare)));
  ScopeSet pub;
  pub.Add(Scope::kPublish);
  EXPECT_TRUE(Permits(pub, static_cast<uint8_t>(Tag::kPub)));
  EXPECT_FALSE(Permits(pub, static_cast<uint8_t>(Tag::kAck)));
  EXPECT_TRUE(Permits(pub, static_cast<uint8_t>(Tag::kBindSubject)));
  ScopeSet sub;
  sub.Add(Scope::kSubscribe);
  EXPECT_TRUE(Permits(sub, static_cast<uint8_t>(Tag::kStreamDeclare)));
  EXPECT_FALSE(Permits(sub, static_cast<uint8_t>(Tag::kPubTo)));
  const ScopeSet none;
  EXPECT_TRUE(Permits(none, static_cast<uint8_t>(Tag::kPing)));
  EXPECT_TRUE(Permits(none, static_cast<uint8_t>(Tag::kConnect)));
  EXPECT_FALSE(Permits(none, static_cast<uint8_t>(Tag::kTxnCommit)));
  EXPECT_FALSE(Permits(ScopeSet::All(), static_cast<uint8_t>(Tag::kDeliver)));  // a server frame
  EXPECT_FALSE(Permits(ScopeSet::All(), static_cast<uint8_t>(Tag::kRaft)));     // a peer frame
  EXPECT_FALSE(Permits(ScopeSet::All(), 9));
  EXPECT_FALSE(Permits(ScopeSet::All(), 200));
}

TEST(ScopesTest, ParseAndPrint) {
  Result<ScopeSet> s = ParseScopes({"admin", "publish"});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->ToString(), "publish,admin");
  EXPECT_TRUE(ParseScopes({}).ok());
  EXPECT_TRUE(ParseScopes({})->empty());
  EXPECT_FALSE(ParseScopes({"publish", "publish"}).ok());
  Result<ScopeSet> bad = ParseScopes({"Publish"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("Publish"), std::string::npos);
  EXPECT_EQ(ScopeRequirementName(R::kPublishOrSubscribe), "publish|subscribe");
}

}  // namespace
}  // namespace ironbus::security
