// `ironbus server passwd` (spec/security.md 2.2): a piped password comes back as an Argon2id PHC
// string with the edge profile that libargon2 verifies; the plaintext is never echoed.
#include <argon2.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_test_util.h"
#include "io/temp_dir.h"

namespace ironbus::cli {
namespace {

using testing::RunResult;
using testing::Slurp;

// Like RunIronbus, with `stdin_text` piped in (written to a file first: no shell quoting).
RunResult RunWithStdin(const std::string& args, const std::string& stdin_text, const std::string& scratch) {
  const std::string in = scratch + "/stdin.txt";
  std::ofstream(in, std::ios::binary) << stdin_text;
  const std::string cmd = std::string(IRONBUS_BINARY) + " " + args + " <" + in + " >" + scratch + "/out.txt 2>" +
                          scratch + "/err.txt";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = Slurp(scratch + "/out.txt");
  r.err = Slurp(scratch + "/err.txt");
  return r;
}

TEST(ServerPasswdTest, PipedPasswordGivesAVerifiableEdgeProfilePhc) {
  io::testing::TempDir dir;
  const RunResult r = RunWithStdin("server passwd", "correct horse battery staple\n", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  ASSERT_EQ(r.out.back(), '\n');
  const std::string phc = r.out.substr(0, r.out.size() - 1);
  EXPECT_EQ(phc.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << phc;
  EXPECT_EQ(argon2id_verify(phc.c_str(), "correct horse battery staple", 28), ARGON2_OK);
  EXPECT_NE(argon2id_verify(phc.c_str(), "correct horse battery staple\n", 29), ARGON2_OK);
  EXPECT_EQ(r.out.find("horse"), std::string::npos);
  EXPECT_EQ(r.err.find("horse"), std::string::npos);
}

TEST(ServerPasswdTest, CrLfIsStrippedAndJsonWorks) {
  io::testing::TempDir dir;
  const RunResult r = RunWithStdin("server passwd --json", "pw\r\n", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema"], "ironbus.cli.server-passwd.v1");
  const std::string phc = j["password_phc"];
  EXPECT_EQ(argon2id_verify(phc.c_str(), "pw", 2), ARGON2_OK);
}

TEST(ServerPasswdTest, EmptyInputIsRefused) {
  io::testing::TempDir dir;
  for (const char* in : {"", "\n"}) {
    const RunResult r = RunWithStdin("server passwd", in, dir.path());
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find("no password given"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace ironbus::cli
