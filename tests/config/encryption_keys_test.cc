// The at-rest encryption keys (docs/security.md): flags, file keys, the suite enum. Loading the
// key files themselves is serve's job (tests/storage/log_encryption_test.cc, tests/e2e).
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace ironbus::config {
namespace {

using testing::ConfigTest;
using EncryptionKeys = ConfigTest;

TEST_F(EncryptionKeys, OffByDefault) {
  const Loaded l = LoadFlags({});
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_EQ(l.config.encryption_key_file, "");
  EXPECT_TRUE(l.config.encryption_old_key_files.empty());
  EXPECT_EQ(l.config.encryption_suite, "auto");
}

TEST_F(EncryptionKeys, FlagsSetTheFileTheOldFilesAndTheSuite) {
  const Loaded l = LoadFlags({{"--encryption-key-file", "/k/new"},
                              {"--encryption-old-key-file", "/k/old1"},
                              {"--encryption-old-key-file", "/k/old2"},
                              {"--encryption-suite", "chacha20-poly1305"}});
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_EQ(l.config.encryption_key_file, "/k/new");
  EXPECT_EQ(l.config.encryption_old_key_files, (std::vector<std::string>{"/k/old1", "/k/old2"}));
  EXPECT_EQ(l.config.encryption_suite, "chacha20-poly1305");
}

TEST_F(EncryptionKeys, UnknownSuiteIsRefused) {
  const Loaded l = LoadFlags({{"--encryption-suite", "aes-128-gcm"}});
  ASSERT_FALSE(l.ok());
  EXPECT_NE(Joined(l.errors).find("--encryption-suite must be one of"), std::string::npos) << Joined(l.errors);
}

TEST_F(EncryptionKeys, FileKeysAreUnderStorage) {
  EXPECT_NE(FindByFileKey("storage.encryption_key_file"), nullptr);
  EXPECT_NE(FindByFileKey("storage.encryption_suite"), nullptr);
}

}  // namespace
}  // namespace ironbus::config
