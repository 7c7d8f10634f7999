// spec/security.md 6.2: the permission check names the path and the condition, refuses any
// group/other bit, a foreign owner and a foreign directory owner, and never reads a refused file.
#include "security/secret_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "security_test_util.h"

namespace ironbus::security {
namespace {

using testing::WriteFileWithMode;

class SecretFileTest : public ::testing::Test {
 protected:
  io::testing::TempDir dir_;
  const uid_t uid_ = ::geteuid();
};

TEST_F(SecretFileTest, OwnerOnlyFileIsAcceptedAndRead) {
  const std::string p = WriteFileWithMode(dir_.path(), "key", "s3cret\n", 0600);
  EXPECT_TRUE(CheckSecretFile(p, uid_).ok());
  Result<Secret> s = ReadSecretFile(p, uid_);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->RevealBytesForUse(), "s3cret\n");  // bytes as they are: a trailing newline is kept
  EXPECT_TRUE(CheckSecretFile(WriteFileWithMode(dir_.path(), "ro", "x", 0400), uid_).ok());
}

TEST_F(SecretFileTest, AnyGroupOrOtherBitIsRefused) {
  for (mode_t mode : {0640, 0604, 0620, 0602, 0610, 0601, 0660, 0644}) {
    const std::string p = WriteFileWithMode(dir_.path(), "key", "x", mode);
    SecretFileCondition c{};
    const Status s = CheckSecretFile(p, uid_, &c);
    ASSERT_FALSE(s.ok()) << std::oct << mode;
    EXPECT_TRUE(s.IsFailedPrecondition());
    EXPECT_EQ(c, SecretFileCondition::kGroupWorldReadable);
    EXPECT_NE(s.message().find(p), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("group_world_readable"), std::string::npos) << s.message();
    // ReadSecretFile refuses the same way and never returns the bytes.
    Result<Secret> r = ReadSecretFile(p, uid_);
    EXPECT_FALSE(r.ok());
  }
}

TEST_F(SecretFileTest, MissingAndUnreadable) {
  SecretFileCondition c{};
  Status s = CheckSecretFile(dir_.path() + "/nope", uid_, &c);
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_EQ(c, SecretFileCondition::kMissing);
  EXPECT_NE(s.message().find("missing"), std::string::npos);
  EXPECT_NE(s.message().find(dir_.path() + "/nope"), std::string::npos);

  // A directory where a file is expected: unreadable.
  ::mkdir((dir_.path() + "/d").c_str(), 0700);
  s = CheckSecretFile(dir_.path() + "/d", uid_, &c);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(c, SecretFileCondition::kUnreadable);
  EXPECT_NE(s.message().find("unreadable"), std::string::npos);
}

TEST_F(SecretFileTest, WrongOwnerIsRefused) {
  const std::string p = WriteFileWithMode(dir_.path(), "key", "x", 0600);
  SecretFileCondition c{};
  // The expected uid is not the file's owner: refused without needing root.
  const Status s = CheckSecretFile(p, uid_ + 4242, &c);
  EXPECT_TRUE(s.IsFailedPrecondition());
  EXPECT_EQ(c, SecretFileCondition::kWrongOwner);
  EXPECT_NE(s.message().find("wrong_owner"), std::string::npos);
}

TEST_F(SecretFileTest, FileChownedToAnotherUidIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown needs root";
  const std::string p = WriteFileWithMode(dir_.path(), "key", "x", 0600);
  ASSERT_EQ(::chown(p.c_str(), 4242, 4242), 0);
  SecretFileCondition c{};
  const Status s = CheckSecretFile(p, 0, &c);
  EXPECT_EQ(c, SecretFileCondition::kWrongOwner) << s.ToString();
  EXPECT_NE(s.message().find("uid 4242"), std::string::npos) << s.message();
}

TEST_F(SecretFileTest, DirectoryOwnedBySomeoneElseIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown needs root";
  const std::string sub = dir_.path() + "/foreign";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  const std::string p = WriteFileWithMode(sub, "key", "x", 0600);
  ASSERT_EQ(::chown(sub.c_str(), 4242, 4242), 0);
  SecretFileCondition c{};
  const Status s = CheckSecretFile(p, 0, &c);
  EXPECT_EQ(c, SecretFileCondition::kWrongOwner) << s.ToString();
  EXPECT_NE(s.message().find("directory"), std::string::npos) << s.message();
  // A root-owned directory is fine for any broker uid: the file is chowned to 4242 and checked
  // against 4242 inside the (root-owned) scratch directory.
  const std::string q = WriteFileWithMode(dir_.path(), "k2", "x", 0600);
  ASSERT_EQ(::chown(q.c_str(), 4242, 4242), 0);
  EXPECT_TRUE(CheckSecretFile(q, 4242).ok());
}

TEST_F(SecretFileTest, EmptyFileIsAnError) {
  const std::string p = WriteFileWithMode(dir_.path(), "key", "", 0600);
  Result<Secret> r = ReadSecretFile(p, uid_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("empty"), std::string::npos);
}

TEST_F(SecretFileTest, ConditionNames) {
  EXPECT_EQ(SecretFileConditionName(SecretFileCondition::kGroupWorldReadable), "group_world_readable");
  EXPECT_EQ(SecretFileConditionName(SecretFileCondition::kWrongOwner), "wrong_owner");
  EXPECT_EQ(SecretFileConditionName(SecretFileCondition::kMissing), "missing");
  EXPECT_EQ(SecretFileConditionName(SecretFileCondition::kUnreadable), "unreadable");
}

TEST(SecretEnvTest, ReadsTheVariableAndNamesItOnError) {
  ::setenv("IRONBUS_TEST_SECRET_X", "from-env", 1);
  Result<Secret> s = ReadSecretFromEnv("IRONBUS_TEST_SECRET_X");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->RevealBytesForUse(), "from-env");
  ::setenv("IRONBUS_TEST_SECRET_X", "", 1);
  s = ReadSecretFromEnv("IRONBUS_TEST_SECRET_X");
  EXPECT_FALSE(s.ok());
  ::unsetenv("IRONBUS_TEST_SECRET_X");
  s = ReadSecretFromEnv("IRONBUS_TEST_SECRET_X");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.status().IsNotFound());
  EXPECT_NE(s.status().message().find("IRONBUS_TEST_SECRET_X"), std::string::npos);
}

}  // namespace
}  // namespace ironbus::security
