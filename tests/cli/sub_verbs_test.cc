// `sub` and `cumulative-ack` through the real binary against a real `ironbus serve` on a free
// loopback port (spec/cli-config-ops.md 3.2, 3.3): human lines, NDJSON, the dispositions and
// their batching, advisories, and every exit code.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/e2e_test_util.h"

namespace ironbus::cli {
namespace {

using e2e::Broker;
using e2e::RunResult;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (const std::string& line : Lines(text)) out.push_back(nlohmann::json::parse(line, nullptr, false));
  return out;
}

// The lines starting with '#' (one per delivered message).
std::vector<std::string> MessageLines(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& line : Lines(text)) {
    if (!line.empty() && line[0] == '#') out.push_back(line);
  }
  return out;
}

class SubVerbs : public ::testing::Test {
 protected:
  // Starts a broker with `extra` serve flags and publishes `records` records: payload p<i>,
  // key k<i>.
  void StartBroker(std::vector<std::string> extra = {}, int records = 0) {
    broker_ = std::make_unique<Broker>(scratch_.path() + "/data", scratch_.path(), std::move(extra));
    addr_ = broker_->WaitListening();
    ASSERT_FALSE(addr_.empty()) << broker_->output() << broker_->errors();
    for (int i = 0; i < records; ++i) {
      RunResult r = Run("pub --addr " + addr_ + " --key k" + std::to_string(i) + " p" + std::to_string(i));
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  RunResult Run(const std::string& args) { return e2e::RunIronbus(args, scratch_.path()); }
  RunResult Sub(const std::string& flags) { return Run("sub --addr " + addr_ + " " + flags); }
  // stdout of a `sub` that must exit 0.
  std::string SubOk(const std::string& flags) {
    RunResult r = Sub(flags);
    EXPECT_EQ(r.exit_code, 0) << "sub " << flags << ": " << r.err;
    return r.out;
  }

  io::testing::TempDir scratch_;
  std::unique_ptr<Broker> broker_;
  std::string addr_;
};

TEST_F(SubVerbs, PeekPrintsEachMessageAndTheCount) {
  StartBroker({}, 3);
  const std::string out = SubOk("");
  std::vector<std::string> lines = Lines(out);
  ASSERT_EQ(lines.size(), 4u) << out;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(lines[i].rfind("#" + std::to_string(i) + " gen=", 0), 0u) << lines[i];
    EXPECT_NE(lines[i].find(" key=k" + std::to_string(i) + " payload=p" + std::to_string(i)), std::string::npos)
        << lines[i];
  }
  EXPECT_EQ(lines[3], "fetched 3 message(s)");
  // Nothing was settled: the leases ended with the connection, so a second peek sees them all.
  const std::string again = SubOk("--max 2");
  EXPECT_EQ(MessageLines(again).size(), 2u) << again;
  EXPECT_NE(again.find("fetched 2 message(s)"), std::string::npos);
}

TEST_F(SubVerbs, AckDrainsBatchAfterBatchPastTheCredit) {
  StartBroker({"--consumer-credit", "4"}, 10);
  const std::string out = SubOk("--ack --max 100");
  std::vector<std::string> lines = Lines(out);
  ASSERT_EQ(lines.size(), 21u) << out;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(lines[2 * i].rfind("#" + std::to_string(i) + " ", 0), 0u) << lines[2 * i];
    EXPECT_EQ(lines[2 * i + 1], "  ack committed");
  }
  EXPECT_EQ(lines[20], "fetched 10 message(s)");
  const std::string after = SubOk("");
  EXPECT_EQ(after, "fetched 0 message(s)\n");
}

TEST_F(SubVerbs, MaxStopsTheDrainAndTheNextRunResumes) {
  StartBroker({}, 5);
  const std::string first = SubOk("--ack --max 2");
  EXPECT_EQ(MessageLines(first).size(), 2u) << first;
  const std::string rest = SubOk("--ack");
  std::vector<std::string> messages = MessageLines(rest);
  ASSERT_EQ(messages.size(), 3u) << rest;
  EXPECT_EQ(messages[0].rfind("#2 ", 0), 0u) << messages[0];
}

TEST_F(SubVerbs, TermDropsAndNackRequeuesWithAHigherGeneration) {
  StartBroker({}, 2);
  const std::string nack = SubOk("--nack --delay-ms 0 --max 1");
  std::vector<std::string> lines = Lines(nack);
  ASSERT_EQ(lines.size(), 3u) << nack;
  EXPECT_EQ(lines[1], "  nack requeued");
  const std::string first_gen = lines[0].substr(lines[0].find("gen="), lines[0].find(" key=") - lines[0].find("gen="));

  const std::string term = SubOk("--term");
  lines = Lines(term);
  ASSERT_EQ(lines.size(), 5u) << term;
  EXPECT_EQ(lines[0].rfind("#0 ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[0].find(first_gen + " "), std::string::npos) << "redelivered under a new generation: " << lines[0];
  EXPECT_EQ(lines[1], "  term dropped");
  EXPECT_EQ(lines[3], "  term dropped");
  EXPECT_EQ(Sub("").out, "fetched 0 message(s)\n");
}

TEST_F(SubVerbs, JsonWritesHeaderRecordsAndResult) {
  StartBroker({}, 2);
  const std::string out = SubOk("--json --group workers --ack");
  std::vector<nlohmann::json> lines = JsonLines(out);
  ASSERT_EQ(lines.size(), 4u) << out;
  EXPECT_EQ(lines[0]["schema"], "ironbus.cli.sub.header.v1");
  EXPECT_EQ(lines[0]["addr"], addr_);
  EXPECT_EQ(lines[0]["group"], "workers");
  EXPECT_EQ(lines[0]["max"], 10);
  EXPECT_EQ(lines[0]["disposition"], "ack");
  for (int i = 1; i <= 2; ++i) {
    EXPECT_EQ(lines[i]["schema"], "ironbus.cli.sub-record.v1");
    EXPECT_EQ(lines[i]["offset"], i - 1);
    EXPECT_TRUE(lines[i]["gen"].is_number_unsigned());
    EXPECT_EQ(lines[i]["key_bytes"], 2);
    EXPECT_EQ(lines[i]["bytes"], 2);
    EXPECT_TRUE(lines[i]["ts_ms"].is_number_unsigned());
    EXPECT_EQ(lines[i]["codec"], "none");
    EXPECT_EQ(lines[i]["disposition"], "ack");
    EXPECT_EQ(lines[i]["ack_status"], "committed");
    EXPECT_FALSE(lines[i].contains("payload")) << "payload bytes never appear in --json";
  }
  EXPECT_EQ(lines[3]["schema"], "ironbus.cli.sub.result.v1");
  EXPECT_EQ(lines[3]["delivered"], 2);
  EXPECT_EQ(lines[3]["ok"], true);
  EXPECT_EQ(lines[3]["exit_code"], 0);

  const std::string peek = SubOk("--json --group others --max 1");
  lines = JsonLines(peek);
  ASSERT_EQ(lines.size(), 3u) << peek;
  EXPECT_EQ(lines[1]["disposition"], "peek");
  EXPECT_FALSE(lines[1].contains("ack_status"));
}

TEST_F(SubVerbs, ADeadLetterIsReportedInBand) {
  StartBroker({"--max-deliver", "1"}, 1);
  ASSERT_EQ(Sub("--nack --delay-ms 0").exit_code, 0);
  const std::string out = SubOk("--json");
  std::vector<nlohmann::json> lines = JsonLines(out);
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_EQ(lines[1]["schema"], "ironbus.cli.sub.dead-letter.v1");
  EXPECT_EQ(lines[1]["offset"], 0);
  EXPECT_EQ(lines[1]["reason"], "max-deliver");
  EXPECT_EQ(lines[2]["delivered"], 0);
}

TEST_F(SubVerbs, ADeadLetterLineInHumanOutput) {
  StartBroker({"--max-deliver", "1"}, 1);
  ASSERT_EQ(Sub("--nack --delay-ms 0").exit_code, 0);
  const std::string out = SubOk("--ack");
  EXPECT_EQ(out, "dead-letter offset=0 reason=max-deliver\nfetched 0 message(s)\n");
}

TEST_F(SubVerbs, UsageErrorsExitOneWithoutJson) {
  StartBroker();
  for (const std::string flags : {"--ack --term", "--ack --nack", "--nack --term", "--ack --ack", "--delay-ms 5",
                                  "--ack --delay-ms 5", "--max x", "--delay-ms=x --nack", "--bogus"}) {
    RunResult r = Sub("--json " + flags);
    EXPECT_EQ(r.exit_code, 1) << flags << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << flags << ": " << r.out;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << flags << ": " << r.err;
  }
  RunResult equals = Sub("--nack --delay-ms=0 --max=1");
  EXPECT_EQ(equals.exit_code, 0) << equals.err;
}

TEST_F(SubVerbs, AnUnreachableBrokerExitsFive) {
  StartBroker();
  broker_->Stop();
  RunResult human = Sub("--ack");
  EXPECT_EQ(human.exit_code, 5) << human.err;
  EXPECT_EQ(human.err.rfind("error: ", 0), 0u) << human.err;
  RunResult json = Sub("--json");
  EXPECT_EQ(json.exit_code, 5);
  std::vector<nlohmann::json> lines = JsonLines(json.out);
  ASSERT_EQ(lines.size(), 1u) << json.out;
  EXPECT_EQ(lines[0]["schema"], "ironbus.cli.sub.result.v1");
  EXPECT_EQ(lines[0]["ok"], false);
  EXPECT_EQ(lines[0]["exit_code"], 5);
  EXPECT_EQ(lines[0]["error"]["kind"], "unreachable");
}

TEST_F(SubVerbs, ABrokerRefusalExitsSeventyWithItsCode) {
  StartBroker({}, 1);
  RunResult human = Sub("--group 'no spaces'");
  EXPECT_EQ(human.exit_code, 70) << human.err;
  EXPECT_NE(human.err.find("ERR_INVALID_GROUP_NAME"), std::string::npos) << human.err;
  RunResult json = Sub("--json --group 'no spaces'");
  EXPECT_EQ(json.exit_code, 70);
  std::vector<nlohmann::json> lines = JsonLines(json.out);
  ASSERT_FALSE(lines.empty());
  const nlohmann::json& last = lines.back();
  EXPECT_EQ(last["schema"], "ironbus.cli.sub.result.v1");
  EXPECT_EQ(last["exit_code"], 70);
  EXPECT_EQ(last["error"]["kind"], "internal");
  EXPECT_EQ(last["error"]["detail"]["broker_code"], "ERR_INVALID_GROUP_NAME");
}

TEST_F(SubVerbs, CumulativeAckCommitsABroadcastGroup) {
  StartBroker({"--broadcast-group", "bcast"}, 5);
  RunResult r = Run("cumulative-ack --addr " + addr_ + " --group bcast --up-to 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "cumulative ack committed group `bcast` up to offset 3\n");
  const std::string sub = SubOk("--group bcast");
  std::vector<std::string> messages = MessageLines(sub);
  ASSERT_EQ(messages.size(), 2u) << sub;
  EXPECT_EQ(messages[0].rfind("#3 ", 0), 0u) << messages[0];

  RunResult json = Run("cumulative-ack --json --addr=" + addr_ + " --group bcast --up-to 2");
  ASSERT_EQ(json.exit_code, 0) << json.err << " (at or below the commit is a no-op success)";
  auto j = nlohmann::json::parse(json.out, nullptr, false);
  EXPECT_EQ(j["schema"], "ironbus.cli.cumulative-ack.v1");
  EXPECT_EQ(j["group"], "bcast");
  EXPECT_EQ(j["up_to"], 2);
  EXPECT_EQ(j["ok"], true);
}

TEST_F(SubVerbs, CumulativeAckRefusalsAndUsage) {
  StartBroker({"--broadcast-group", "bcast"}, 2);
  RunResult default_group = Run("cumulative-ack --addr " + addr_ + " --up-to 1");
  EXPECT_EQ(default_group.exit_code, 70);
  EXPECT_NE(default_group.err.find("ERR_CUMULATIVE_ACK_NOT_ALLOWED"), std::string::npos) << default_group.err;

  RunResult past_head = Run("cumulative-ack --json --addr " + addr_ + " --group bcast --up-to 99");
  EXPECT_EQ(past_head.exit_code, 70);
  auto j = nlohmann::json::parse(past_head.out, nullptr, false);
  EXPECT_EQ(j["schema"], "ironbus.cli.result.v1");
  EXPECT_EQ(j["command"], "cumulative-ack");
  EXPECT_EQ(j["error"]["detail"]["broker_code"], "ERR_CUMULATIVE_ACK_OUT_OF_RANGE");

  RunResult missing = Run("cumulative-ack --addr " + addr_ + " --group bcast");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("--up-to"), std::string::npos) << missing.err;

  broker_->Stop();
  RunResult unreachable = Run("cumulative-ack --addr " + addr_ + " --group bcast --up-to 1");
  EXPECT_EQ(unreachable.exit_code, 5) << unreachable.err;
}

}  // namespace
}  // namespace ironbus::cli
