// Capability negotiation (5.2) and the auth material (5.3): the reference's rules and the
// decisions the spec leaves to us, one test each.
#include <gtest/gtest.h>

#include "protocol/codec.h"
#include "protocol/handshake.h"
#include "protocol_test_util.h"

namespace ironbus::protocol {
namespace {

Connect GoDefaultConnect() {
  Connect c;  // what the Go SDK sends by default: flags 0x84
  c.wants_gap_marker = true;
  c.understands_streams = true;
  return c;
}

TEST(Handshake, GoDefaultConnectGetsTheSpecsExampleInfo) {
  const Negotiated n = Negotiate(GoDefaultConnect(), HandshakePolicy{});
  EXPECT_EQ(n.credit, 64u);
  EXPECT_EQ(n.credit_bytes, 8u << 20);
  EXPECT_TRUE(n.gap_marker);
  EXPECT_TRUE(n.streams);
  // Section 5.2's example reply, byte for byte.
  EXPECT_EQ(HexEncode(*EncodeFrame(Frame(n.info))),
            "1d0000000201" "1900" "87" "40000000" "40000000" "0000800000000000" "0000800000000000");
}

TEST(Handshake, InfoAlwaysCarriesBothCreditAdvertsEvenForALegacyClient) {
  const Negotiated n = Negotiate(Connect{.legacy = true}, HandshakePolicy{});
  ASSERT_TRUE(n.info.credit.has_value());
  ASSERT_TRUE(n.info.credit_bytes.has_value());
  EXPECT_FALSE(n.info.legacy) << "the reply is always versioned";
  EXPECT_FALSE(n.info.gap_marker);
  EXPECT_FALSE(n.info.streams) << "a legacy client asked for nothing";
}

TEST(Handshake, RequestedCreditIsCappedAtTheServersCap) {
  Connect c;
  c.requested_credit = 4096;
  HandshakePolicy p;
  p.credit_cap = 2048;
  const Negotiated n = Negotiate(c, p);
  EXPECT_EQ(n.credit, 2048u);
  EXPECT_EQ(n.info.credit->negotiated, 2048u);
  EXPECT_EQ(n.info.credit->cap, 2048u);
}

TEST(Handshake, SmallerRequestedCreditIsGrantedAsAsked) {
  Connect c;
  c.requested_credit = 5;
  EXPECT_EQ(Negotiate(c, HandshakePolicy{}).credit, 5u);
}

TEST(Handshake, ZeroCreditIsNeverAdvertised) {
  Connect c;
  c.requested_credit = 0;
  EXPECT_EQ(Negotiate(c, HandshakePolicy{}).credit, 1u);
  HandshakePolicy p;
  p.default_credit = 0;
  p.credit_cap = 0;
  const Negotiated n = Negotiate(Connect{}, p);
  EXPECT_EQ(n.credit, 1u);
  EXPECT_EQ(n.info.credit->cap, 1u);
}

TEST(Handshake, RequestedByteBudgetIsCappedAtTheServersCap) {
  Connect c;
  c.requested_credit_bytes = 64u << 20;
  EXPECT_EQ(Negotiate(c, HandshakePolicy{}).credit_bytes, 8u << 20);
  c.requested_credit_bytes = 1 << 20;
  EXPECT_EQ(Negotiate(c, HandshakePolicy{}).credit_bytes, 1u << 20);
}

TEST(Handshake, ZeroByteRequestCountsAsNoRequestSoItCannotLiftTheCap) {
  Connect c;
  c.requested_credit_bytes = 0;  // 0 means "unlimited" downstream
  EXPECT_EQ(Negotiate(c, HandshakePolicy{}).credit_bytes, 8u << 20);
}

TEST(Handshake, ByteCapZeroMeansUnlimited) {
  HandshakePolicy p;
  p.credit_bytes_cap = 0;
  Connect c;
  c.requested_credit_bytes = uint64_t{1} << 40;
  const Negotiated n = Negotiate(c, p);
  EXPECT_EQ(n.credit_bytes, uint64_t{1} << 40);
  EXPECT_EQ(n.info.credit_bytes->cap, 0u);
}

TEST(Handshake, CapabilitiesAreWhatBothSidesSupport) {
  Connect c = GoDefaultConnect();
  c.understands_streaming = true;
  c.understands_deliver_batch = true;
  c.flags2 = kCap2CompressedDelivery | kCap2WantsEphemeralGroups;
  Negotiated n = Negotiate(c, HandshakePolicy{});  // first cut: no Tier-S, batch, compression, ephemeral
  EXPECT_FALSE(n.streaming);
  EXPECT_FALSE(n.deliver_batch);
  EXPECT_FALSE(n.compressed_delivery);
  EXPECT_FALSE(n.ephemeral_groups);
  EXPECT_EQ(n.info.flags2, 0);
  HandshakePolicy all;
  all.streaming = all.deliver_batch = all.compressed_delivery = all.ephemeral_groups = true;
  n = Negotiate(c, all);
  EXPECT_TRUE(n.info.streaming);
  EXPECT_TRUE(n.info.deliver_batch);
  EXPECT_TRUE(n.compressed_delivery);
  EXPECT_EQ(n.info.flags2, kInfo2EphemeralGroups);
  HandshakePolicy no_streams;
  no_streams.streams = false;
  EXPECT_FALSE(Negotiate(c, no_streams).info.streams);
}

TEST(Handshake, GapMarkerIsEchoedExactlyWhenAsked) {
  Connect c;
  EXPECT_FALSE(Negotiate(c, HandshakePolicy{}).info.gap_marker);
  c.wants_gap_marker = true;
  EXPECT_TRUE(Negotiate(c, HandshakePolicy{}).info.gap_marker);
}

TEST(Handshake, DefaultAckLevelIsKeptButNeverEchoed) {
  Connect c;
  c.default_ack_level = kAckLevelConsumed;
  Negotiated n = Negotiate(c, HandshakePolicy{});
  EXPECT_EQ(n.default_ack_level, kAckLevelConsumed);
  EXPECT_FALSE(n.info.default_ack_level.has_value());
  c.default_ack_level = kAckLevelReserved;
  EXPECT_EQ(Negotiate(c, HandshakePolicy{}).default_ack_level, kAckLevelDurable) << "3 is reserved";
}

TEST(Handshake, TierSIsEchoedOnlyWhenStreamingWasNegotiated) {
  Connect c;
  c.default_tier = kTierS;
  c.understands_streaming = true;
  EXPECT_FALSE(Negotiate(c, HandshakePolicy{}).info.default_tier.has_value());
  HandshakePolicy p;
  p.streaming = true;
  const Negotiated n = Negotiate(c, p);
  EXPECT_EQ(n.default_tier, kTierS);
  EXPECT_EQ(n.info.default_tier, kTierS);
  c.default_tier = 7;  // other values read as Tier-W
  EXPECT_EQ(Negotiate(c, p).default_tier, kTierW);
}

TEST(Handshake, RenegotiationIsFromScratch) {
  Connect first = GoDefaultConnect();
  first.requested_credit = 10;
  const Negotiated a = Negotiate(first, HandshakePolicy{});
  const Negotiated b = Negotiate(Connect{}, HandshakePolicy{});
  EXPECT_EQ(a.credit, 10u);
  EXPECT_EQ(b.credit, 64u);
  EXPECT_FALSE(b.streams);
}

TEST(Handshake, AuthMechanismsOneToThreeAreValid) {
  EXPECT_FALSE(IsValidAuthMechanism(0));
  EXPECT_TRUE(IsValidAuthMechanism(kAuthBearer));
  EXPECT_TRUE(IsValidAuthMechanism(kAuthPassword));
  EXPECT_TRUE(IsValidAuthMechanism(kAuthMtls));
  EXPECT_FALSE(IsValidAuthMechanism(4));
  EXPECT_FALSE(IsValidAuthMechanism(0xFF));
}

TEST(Handshake, PasswordMaterialIsUsernameThenPassword) {
  // The connect_password vector's material (21 bytes of password: the spec's prose says
  // "... staple", the vector's bytes stop at "battery"; the bytes win).
  Bytes material = {0x0c, 0x00};
  PutBytes(&material, AsBytes("svc-producer"));
  PutBytes(&material, Bytes{0x15, 0x00});
  PutBytes(&material, AsBytes("correct horse battery"));
  auto parsed = ParsePasswordMaterial(material);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(AsChars(parsed->username), "svc-producer");
  EXPECT_EQ(AsChars(parsed->password), "correct horse battery");
  EXPECT_EQ(HexEncode(material),
            "0c007376632d70726f6475636572150063" "6f727265637420686f7273652062617474657279");
  EXPECT_EQ(*PasswordMaterial(AsBytes("svc-producer"), AsBytes("correct horse battery")), material);
}

TEST(Handshake, PasswordMaterialCutShortIsRefused) {
  EXPECT_FALSE(ParsePasswordMaterial(Bytes{3, 0, 'a', 'b'}).ok());
  EXPECT_FALSE(ParsePasswordMaterial(Bytes{1, 0, 'a'}).ok()) << "no password field at all";
}

TEST(Handshake, PasswordMaterialWithBytesAfterThePasswordIsRefused) {
  EXPECT_FALSE(ParsePasswordMaterial(Bytes{1, 0, 'a', 1, 0, 'b', 0}).ok());
}

TEST(Handshake, PasswordFieldsOverAU16AreRefusedAtEncode) {
  EXPECT_EQ(PasswordMaterial(Bytes(70000, 'u'), AsBytes("p")).status().code(), StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace ironbus::protocol
