// `serve` logs through base/log.h (docs/logging.md): --log-format / --log-level and their env
// vars are applied, JSON lines parse with typed numbers, recovery loss events are one WARN line
// each, and the stop is logged.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_test_util.h"

namespace ironbus::cli::testing {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The JSON log lines (the plain `WARN: ...` config lines of spec 2.2 come before logging starts).
std::vector<nlohmann::json> JsonEvents(const std::string& err) {
  std::vector<nlohmann::json> out;
  for (const std::string& line : Lines(err)) {
    if (line.rfind("WARN: ", 0) == 0) continue;
    EXPECT_TRUE(nlohmann::json::accept(line)) << "not a JSON line: " << line;
    if (nlohmann::json::accept(line)) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

const nlohmann::json* Find(const std::vector<nlohmann::json>& events, const std::string& name) {
  for (const auto& e : events) {
    if (e.value("event", "") == name) return &e;
  }
  return nullptr;
}

std::string SegmentPath(const std::string& dir, int id) {
  char name[64];
  std::snprintf(name, sizeof(name), "/seg-%016x.log", id);
  return dir + name;
}

class ServeLog : public ::testing::Test {
 protected:
  io::testing::TempDir scratch_;
  std::string data_ = scratch_.path() + "/data";
};

TEST_F(ServeLog, AutoIsJsonWhenStderrIsAFileWithTypedFields) {
  ServeProcess serve(data_, scratch_.path(), {});
  ASSERT_TRUE(serve.WaitReady()) << serve.output() << serve.errors();
  EXPECT_EQ(serve.Stop(SIGTERM), 0) << serve.errors();
  const auto events = JsonEvents(serve.errors());
  const nlohmann::json* started = Find(events, "broker.started");
  ASSERT_NE(started, nullptr) << serve.errors();
  EXPECT_EQ((*started)["level"], "info");
  EXPECT_TRUE((*started)["ts"].is_string());
  EXPECT_EQ((*started)["data_dir"], data_);
  EXPECT_TRUE((*started)["durable_offset"].is_number_unsigned()) << *started;
  EXPECT_TRUE((*started)["frozen"].is_boolean()) << *started;
  const nlohmann::json* stopped = Find(events, "broker.stopped");
  ASSERT_NE(stopped, nullptr) << serve.errors();
  EXPECT_EQ((*stopped)["signal"], "SIGTERM");
  EXPECT_EQ((*stopped)["exit_code"], 0);
  // stdout keeps the banner only.
  EXPECT_EQ(serve.output().find("\"event\""), std::string::npos) << serve.output();
}

TEST_F(ServeLog, TextFormatAndWarnLevelFromFlags) {
  WriteLog(data_, 10, 1 << 20);
  const std::string seg = SegmentPath(data_, 0);
  const auto size = std::filesystem::file_size(seg);
  std::filesystem::resize_file(seg, size - 5);
  ServeProcess serve(data_, scratch_.path(), {"--log-format", "text", "--log-level", "warn"});
  ASSERT_TRUE(serve.WaitReady()) << serve.output() << serve.errors();
  EXPECT_EQ(serve.Stop(SIGINT), 0) << serve.errors();
  const std::string err = serve.errors();
  EXPECT_EQ(err.find('{'), std::string::npos) << "text, not JSON:\n" << err;
  EXPECT_EQ(err.find("broker.started"), std::string::npos) << "INFO is below --log-level warn:\n" << err;
  EXPECT_EQ(err.find("broker.stopped"), std::string::npos) << err;
  // One WARN line for the torn tail, with its segment, byte range and reason.
  size_t loss_lines = 0;
  for (const std::string& line : Lines(err)) {
    if (line.find(" recovery.loss ") == std::string::npos) continue;
    ++loss_lines;
    EXPECT_NE(line.find("Z WARN  recovery.loss data_dir="), std::string::npos) << line;
    EXPECT_NE(line.find(" segment=0 "), std::string::npos) << line;
    EXPECT_NE(line.find(" byte_end=" + std::to_string(size - 5) + " "), std::string::npos) << line;
    EXPECT_NE(line.find(" reason=torn_tail "), std::string::npos) << line;
    EXPECT_NE(line.find(" data_loss=false "), std::string::npos) << line;
  }
  EXPECT_EQ(loss_lines, 1u) << err;
}

TEST_F(ServeLog, EnvironmentSelectsTheFormat) {
  ServeProcess serve(data_, scratch_.path(), {}, {{"IRONBUS_LOG_FORMAT", "text"}});
  ASSERT_TRUE(serve.WaitReady()) << serve.output() << serve.errors();
  EXPECT_EQ(serve.Stop(SIGTERM), 0) << serve.errors();
  EXPECT_NE(serve.errors().find(" INFO  broker.started addr=127.0.0.1:"), std::string::npos) << serve.errors();
  EXPECT_NE(serve.errors().find(" INFO  broker.stopped signal=SIGTERM exit_code=0"), std::string::npos) << serve.errors();
}

TEST_F(ServeLog, AnUnknownLevelIsAConfigError) {
  const RunResult r = RunIronbus("serve --addr 127.0.0.1:0 --data-dir " + data_ + " --log-level loud", scratch_.path());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(data_)) << "refused before the data dir is touched";
}

}  // namespace
}  // namespace ironbus::cli::testing
