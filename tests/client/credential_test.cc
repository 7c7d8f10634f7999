// The client's credential (spec/protocol.md 5.3): what its Connect carries for each mechanism,
// byte for byte against the golden vectors' material, and how a refusal surfaces.
#include <gtest/gtest.h>

#include "client/client.h"
#include "client/fake_broker.h"
#include "protocol/wire_format.h"

namespace ironbus::client {
namespace {

using testing::FakeBroker;
namespace pr = protocol;

std::optional<pr::Connect> HelloWith(std::optional<pr::AuthSection> credential) {
  FakeBroker fake({});
  ClientOptions options;
  options.request_timeout = std::chrono::milliseconds(2'000);
  options.credential = std::move(credential);
  auto c = Client::Connect(fake.addr(), options);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  auto hello = fake.hello();
  if (!hello || !std::holds_alternative<pr::Connect>(*hello)) return std::nullopt;
  return std::get<pr::Connect>(*hello);
}

TEST(ClientCredential, NoCredentialSendsNoAuthSection) {
  auto hello = HelloWith(std::nullopt);
  ASSERT_TRUE(hello);
  EXPECT_FALSE(hello->auth.has_value());
  EXPECT_TRUE(hello->unparsed_auth.empty());
}

TEST(ClientCredential, BearerSendsTheTokenAsMaterial) {
  // The connect_bearer golden vector's material.
  auto hello = HelloWith(BearerCredential(AsBytes("s3cr3t-bearer-token")));
  ASSERT_TRUE(hello && hello->auth);
  EXPECT_EQ(hello->auth->mechanism, pr::kAuthBearer);
  EXPECT_EQ(hello->auth->material, ToBytes("s3cr3t-bearer-token"));
}

TEST(ClientCredential, PasswordSendsUsernameThenPasswordEachLengthPrefixed) {
  auto credential = PasswordCredential(AsBytes("svc-producer"), AsBytes("correct horse battery"));
  ASSERT_TRUE(credential.ok());
  auto hello = HelloWith(*credential);
  ASSERT_TRUE(hello && hello->auth);
  EXPECT_EQ(hello->auth->mechanism, pr::kAuthPassword);
  // The connect_password golden vector's material: 0c00 "svc-producer" 1500 "correct horse battery".
  Bytes expected = {0x0c, 0x00};
  PutBytes(&expected, AsBytes("svc-producer"));
  expected.insert(expected.end(), {0x15, 0x00});
  PutBytes(&expected, AsBytes("correct horse battery"));
  EXPECT_EQ(hello->auth->material, expected);
  EXPECT_FALSE(PasswordCredential(AsBytes(std::string(65536, 'u')), AsBytes("p")).ok());
}

TEST(ClientCredential, MtlsSendsAnEmptyMaterial) {
  auto hello = HelloWith(MtlsCredential());
  ASSERT_TRUE(hello && hello->auth);
  EXPECT_EQ(hello->auth->mechanism, pr::kAuthMtls);
  EXPECT_TRUE(hello->auth->material.empty());
}

TEST(ClientCredential, ARefusalIsAFailedConnectWithTheBrokersText) {
  FakeBroker fake({}, std::chrono::milliseconds(0), pr::Err{"", "Authorization Violation"});
  ClientOptions options;
  options.request_timeout = std::chrono::milliseconds(2'000);
  options.credential = BearerCredential(AsBytes("wrong"));
  auto c = Client::Connect(fake.addr(), options);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsFailedPrecondition()) << c.status().ToString();
  EXPECT_NE(c.status().message().find("Authorization Violation"), std::string::npos) << c.status().ToString();
}

}  // namespace
}  // namespace ironbus::client
