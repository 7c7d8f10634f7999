#include "base/log.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace ironbus::logging {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetSinkForTest([this](std::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override {
    SetSinkForTest(nullptr);
    Configure(Level::kInfo, Format::kText);
  }
  std::vector<std::string> lines_;
};

TEST_F(LogTest, TextLineHasTimestampLevelEventAndFields) {
  Configure(Level::kInfo, Format::kText);
  Warn("produce.shed", {{"reason", "at_capacity"}, {"policy", "drop-new"}, {"bytes", uint64_t{123}}});
  ASSERT_EQ(lines_.size(), 1u);
  const std::regex re(
      R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z WARN  produce\.shed reason=at_capacity policy=drop-new bytes=123$)");
  EXPECT_TRUE(std::regex_match(lines_[0], re)) << lines_[0];
}

TEST_F(LogTest, TextLevelsArePaddedToFive) {
  EXPECT_EQ(RenderForTest(Format::kText, "T", Level::kInfo, "a.b", {}), "T INFO  a.b");
  EXPECT_EQ(RenderForTest(Format::kText, "T", Level::kError, "a.b", {}), "T ERROR a.b");
  EXPECT_EQ(RenderForTest(Format::kText, "T", Level::kTrace, "a.b", {}), "T TRACE a.b");
  EXPECT_EQ(RenderForTest(Format::kText, "T", Level::kDebug, "a.b", {}), "T DEBUG a.b");
}

TEST_F(LogTest, TextQuotesAndEscapesOnlyWhenNeeded) {
  EXPECT_EQ(RenderForTest(Format::kText, "T", Level::kWarn, "e",
                          {{"plain", "abc/def:1"},
                           {"space", "a b"},
                           {"quote", "say \"hi\""},
                           {"eq", "k=v"},
                           {"ctl", std::string("a\nb\tc\x01", 6)},
                           {"bs", "a\\b"},
                           {"empty", ""}}),
            "T WARN  e plain=abc/def:1 space=\"a b\" quote=\"say \\\"hi\\\"\" eq=\"k=v\" ctl=\"a\\nb\\tc\\x01\" "
            "bs=\"a\\\\b\" empty=\"\"");
}

TEST_F(LogTest, TextNumbersAndBools) {
  EXPECT_EQ(RenderForTest(Format::kText, "T", Level::kInfo, "e",
                          {{"u", uint64_t{18446744073709551615ull}},
                           {"i", int64_t{-5}},
                           {"n", 7},
                           {"un", 8u},
                           {"b", true},
                           {"d", 1.5}}),
            "T INFO  e u=18446744073709551615 i=-5 n=7 un=8 b=true d=1.5");
  const short s = -3;
  const uint16_t port = 7777;
  EXPECT_EQ(RenderForTest(Format::kText, "T", Level::kInfo, "e",
                          {{"ll", -9LL}, {"ull", 9ULL}, {"s", s}, {"port", port}, {"z", size_t{4}}, {"l", 5L}}),
            "T INFO  e ll=-9 ull=9 s=-3 port=7777 z=4 l=5");
}

TEST_F(LogTest, JsonLineParsesWithTypedFields) {
  Configure(Level::kInfo, Format::kJson);
  const std::string tricky = "line1\nline2 \"q\" \\ =\x02";
  Warn("produce.shed", {{"reason", "at_capacity"},
                        {"bytes", uint64_t{123}},
                        {"delta", int64_t{-4}},
                        {"count", 3},
                        {"frozen", false},
                        {"ratio", 0.25},
                        {"msg", tricky}});
  ASSERT_EQ(lines_.size(), 1u);
  const auto j = nlohmann::json::parse(lines_[0]);
  EXPECT_TRUE(j["ts"].is_string());
  EXPECT_TRUE(std::regex_match(j["ts"].get<std::string>(),
                               std::regex(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)")));
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["event"], "produce.shed");
  EXPECT_EQ(j["reason"], "at_capacity");
  ASSERT_TRUE(j["bytes"].is_number_unsigned());
  EXPECT_EQ(j["bytes"].get<uint64_t>(), 123u);
  ASSERT_TRUE(j["delta"].is_number_integer());
  EXPECT_EQ(j["delta"].get<int64_t>(), -4);
  EXPECT_TRUE(j["count"].is_number_integer());
  ASSERT_TRUE(j["frozen"].is_boolean());
  EXPECT_FALSE(j["frozen"].get<bool>());
  ASSERT_TRUE(j["ratio"].is_number_float());
  EXPECT_DOUBLE_EQ(j["ratio"].get<double>(), 0.25);
  EXPECT_EQ(j["msg"], tricky);
  // Keys keep the order they were given in.
  EXPECT_LT(lines_[0].find("\"ts\""), lines_[0].find("\"level\""));
  EXPECT_LT(lines_[0].find("\"event\""), lines_[0].find("\"reason\""));
}

TEST_F(LogTest, JsonInvalidUtf8StillParses) {
  const std::string line = RenderForTest(Format::kJson, "T", Level::kError, "e",
                                         {{"path", std::string("a\xff\xc3(b\xe2\x82\xac", 8)}});
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["path"], "a\xEF\xBF\xBD\xEF\xBF\xBD(b\xe2\x82\xac");
}

TEST_F(LogTest, NonFiniteDoubleIsAStringInJson) {
  const std::string line =
      RenderForTest(Format::kJson, "T", Level::kInfo, "e", {{"x", std::numeric_limits<double>::infinity()}});
  const auto j = nlohmann::json::parse(line);
  EXPECT_TRUE(j["x"].is_string());
}

TEST_F(LogTest, LevelsBelowTheMinimumAreDropped) {
  Configure(Level::kWarn, Format::kText);
  Trace("a");
  Debug("b");
  Info("c");
  Warn("d");
  Error("e");
  Log(Level::kInfo, "f");
  Log(Level::kError, "g");
  ASSERT_EQ(lines_.size(), 3u);
  EXPECT_NE(lines_[0].find(" d"), std::string::npos);
  EXPECT_NE(lines_[1].find(" e"), std::string::npos);
  EXPECT_NE(lines_[2].find(" g"), std::string::npos);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kWarn));
  EXPECT_TRUE(Enabled(Level::kError));

  Configure(Level::kTrace, Format::kText);
  EXPECT_TRUE(Enabled(Level::kTrace));
  Trace("h");
  EXPECT_EQ(lines_.size(), 4u);
}

TEST_F(LogTest, DefaultIsInfoText) {
  Configure(Level::kInfo, Format::kText);  // what TearDown restores; the process default matches
  Debug("hidden");
  Info("shown");
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_EQ(lines_[0].find('{'), std::string::npos);
}

TEST_F(LogTest, LongValuesAreCutAndTheLineStaysBounded) {
  const std::string huge(100000, 'x');
  for (Format f : {Format::kText, Format::kJson}) {
    const std::string line =
        RenderForTest(f, "2026-11-27T05:33:07.123Z", Level::kWarn, "e", {{"a", huge}, {"b", huge}, {"n", 5}});
    EXPECT_LE(line.size(), kMaxLineBytes) << static_cast<int>(f);
    EXPECT_NE(line.find("..."), std::string::npos);
    if (f == Format::kJson) {
      const auto j = nlohmann::json::parse(line);
      EXPECT_TRUE(j["a"].is_string());
      EXPECT_EQ(j.value("truncated", false), true);
    } else {
      EXPECT_NE(line.find("truncated=true"), std::string::npos);
    }
  }
  // Escapes are never cut in half.
  const std::string quotes(20000, '"');
  const std::string line = RenderForTest(Format::kJson, "T", Level::kWarn, "e", {{"q", quotes}});
  EXPECT_LE(line.size(), kMaxLineBytes);
  EXPECT_TRUE(nlohmann::json::accept(line));
}

TEST_F(LogTest, ParseHelpers) {
  EXPECT_EQ(ParseLevel("warn"), Level::kWarn);
  EXPECT_EQ(ParseLevel("trace"), Level::kTrace);
  EXPECT_EQ(ParseLevel("error"), Level::kError);
  EXPECT_EQ(ParseLevel("loud"), std::nullopt);
  EXPECT_EQ(ParseFormat("json"), Format::kJson);
  EXPECT_EQ(ParseFormat("text"), Format::kText);
  EXPECT_EQ(ParseFormat("auto"), std::nullopt);
  EXPECT_TRUE(ResolveFormat("auto").has_value());
  EXPECT_EQ(ResolveFormat("xml"), std::nullopt);
}

TEST_F(LogTest, ConcurrentWritersProduceWholeLines) {
  Configure(Level::kInfo, Format::kJson);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) Info("worker.tick", {{"thread", t}, {"i", i}});
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(lines_.size(), 800u);
  for (const auto& l : lines_) EXPECT_TRUE(nlohmann::json::accept(l)) << l;
}

TEST_F(LogTest, AThrowingSinkDoesNotEscape) {
  SetSinkForTest([](std::string_view) { throw std::runtime_error("boom"); });
  EXPECT_NO_THROW(Error("x.y", {{"k", "v"}}));
}

TEST_F(LogTest, LogToRendersIntoItsOwnSinkWithTheSameFilter) {
  Configure(Level::kWarn, Format::kJson);
  std::vector<std::string> own;
  const std::function<void(std::string_view)> sink = [&own](std::string_view l) { own.emplace_back(l); };
  LogTo(sink, Level::kInfo, "hidden");
  LogTo(sink, Level::kWarn, "session.closed", {{"peer", "127.0.0.1:5"}, {"reason", "idle"}});
  ASSERT_EQ(own.size(), 1u);
  EXPECT_TRUE(lines_.empty()) << "went to the component's sink, not the global one";
  const auto j = nlohmann::json::parse(own[0]);
  EXPECT_EQ(j["event"], "session.closed");
  EXPECT_EQ(j["reason"], "idle");
  LogTo(nullptr, Level::kError, "to.global");
  EXPECT_EQ(lines_.size(), 1u);
}

TEST(LogRateLimitTest, OneLinePerIntervalCountingTheRest) {
  RateLimit limit(std::chrono::milliseconds(200));
  uint64_t suppressed = 99;
  EXPECT_TRUE(limit.Allow(&suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_FALSE(limit.Allow(&suppressed));
  EXPECT_FALSE(limit.Allow(&suppressed));
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_TRUE(limit.Allow(&suppressed));
  EXPECT_EQ(suppressed, 2u);
}

TEST(LogStderrTest, WritesToStderrWhenNoSinkIsSet) {
  SetSinkForTest(nullptr);
  Configure(Level::kInfo, Format::kText);
  testing::internal::CaptureStderr();
  Info("stderr.check", {{"k", 1}});
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("INFO  stderr.check k=1\n"), std::string::npos) << err;
}

}  // namespace
}  // namespace ironbus::logging
