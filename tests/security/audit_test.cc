// spec/security.md 6.5: the frozen audit event set, field names and order, the sequence, and the
// file sink.
#include "security/audit.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "io/temp_dir.h"

namespace ironbus::security {
namespace {

class AuditTest : public ::testing::Test {
 protected:
  ManualClock clock_{1'700'000'000'123};
  std::vector<std::string> lines_;
  AuditLog log_{[this](std::string_view l) { lines_.emplace_back(l); }, &clock_};
};

// The frozen set: changing any of these lines is a format change for operators' tooling.
TEST_F(AuditTest, EventSetAndFieldNamesAreFrozen) {
  log_.Authn("svc-producer", Mechanism::kBearer, true);
  log_.Authn("", Mechanism::kPassword, false, AuthFailure::kUnknownUser);
  log_.Authn("edge", Mechanism::kMtls, false, AuthFailure::kUnknownSan);
  log_.AuthzDenial("svc-producer", ScopeRequirementName(ScopeRequirement::kSubscribe), "Sub");
  log_.PreauthRejection("203.0.113.9", PreauthVerdict::kRateLimited);
  log_.PreauthRejection("203.0.113.9", PreauthVerdict::kHalfOpenCap);
  log_.PreauthRejection("203.0.113.9", PreauthVerdict::kLockedOut);
  log_.PreauthRejection("203.0.113.9", PreauthVerdict::kAdmit);  // not an event
  log_.SecretPermissionRefusal("/etc/ironbus/auth.toml", SecretFileCondition::kGroupWorldReadable);
  log_.IdentityReload(IdentityDiff{{"new"}, {}, {"a", "b"}});
  const std::vector<std::string> want = {
      R"({"seq":1,"ts_ms":1700000000123,"event":"authn","identity":"svc-producer","mechanism":"bearer","outcome":"success"})",
      R"({"seq":2,"ts_ms":1700000000123,"event":"authn","identity":"<unknown>","mechanism":"password","outcome":"failure","reason":"unknown_user"})",
      R"({"seq":3,"ts_ms":1700000000123,"event":"authn","identity":"edge","mechanism":"mtls","outcome":"failure","reason":"unknown_san"})",
      R"({"seq":4,"ts_ms":1700000000123,"event":"authz_denial","identity":"svc-producer","scope":"subscribe","verb":"Sub"})",
      R"({"seq":5,"ts_ms":1700000000123,"event":"preauth_rejection","source_ip":"203.0.113.9","reason":"rate_limited"})",
      R"({"seq":6,"ts_ms":1700000000123,"event":"preauth_rejection","source_ip":"203.0.113.9","reason":"half_open_cap"})",
      R"({"seq":7,"ts_ms":1700000000123,"event":"preauth_rejection","source_ip":"203.0.113.9","reason":"locked_out"})",
      R"({"seq":8,"ts_ms":1700000000123,"event":"secret_permission_refusal","path":"/etc/ironbus/auth.toml","condition":"group_world_readable"})",
      R"({"seq":9,"ts_ms":1700000000123,"event":"identity_reload","added_count":1,"removed_count":0,"changed_count":2,"added":["new"],"removed":[],"changed":["a","b"]})",
  };
  EXPECT_EQ(lines_, want);
  EXPECT_EQ(log_.last_seq(), 9u);
}

TEST_F(AuditTest, SeqOnlyIncreasesWhileWallClockMayJumpBack) {
  log_.Authn("a", Mechanism::kBearer, true);
  clock_.SetUnixMs(5);  // the wall clock stepped back
  log_.Authn("a", Mechanism::kBearer, true);
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_NE(lines_[1].find(R"("seq":2,"ts_ms":5,)"), std::string::npos) << lines_[1];
}

TEST_F(AuditTest, HostileStringsCannotBreakTheLine) {
  log_.AuthzDenial("a\"b\\c\nd\x01\xff", "admin", "x");
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_EQ(lines_[0].find('\n'), std::string::npos);
  EXPECT_NE(lines_[0].find(R"("identity":"a\"b\\c\nd\u0001\u00ff")"), std::string::npos) << lines_[0];
}

TEST(AuditOpenTest, FileSinkAppendsOneLinePerEvent) {
  io::testing::TempDir dir;
  const std::string path = dir.path() + "/audit.log";
  std::ofstream(path) << "earlier line\n";
  ManualClock clock;
  {
    auto log = AuditLog::Open("@" + path, &clock);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    (*log)->Authn("a", Mechanism::kBearer, true);
    (*log)->PreauthRejection("::1", PreauthVerdict::kLockedOut);
  }
  std::ifstream in(path);
  std::vector<std::string> got;
  for (std::string l; std::getline(in, l);) got.push_back(l);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "earlier line");
  EXPECT_NE(got[1].find(R"("event":"authn")"), std::string::npos);
  EXPECT_NE(got[2].find(R"("event":"preauth_rejection")"), std::string::npos);
  EXPECT_TRUE(AuditLog::Open("stderr", &clock).ok());
  EXPECT_FALSE(AuditLog::Open("audit.log", &clock).ok());
  EXPECT_FALSE(AuditLog::Open("@" + dir.path() + "/missing-dir/a.log", &clock).ok());
}

TEST(AuditOpenTest, NewFileIsOwnerOnly) {
  io::testing::TempDir dir;
  const std::string path = dir.path() + "/audit.log";
  ManualClock clock;
  ASSERT_TRUE(AuditLog::Open("@" + path, &clock).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
}

}  // namespace
}  // namespace ironbus::security
