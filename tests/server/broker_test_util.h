// Helpers for the broker tests: an in-process broker on an ephemeral loopback port over the
// simulated file system (fast, and faults can be injected), and RawConn, a plain POSIX socket
// that speaks frames byte by byte with poll() deadlines, so a broken server fails a test
// instead of hanging it.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "io/sim_file_system.h"
#include "protocol/codec.h"
#include "protocol/frame_decoder.h"
#include "queue/groups.h"
#include "recovery/open_data_dir.h"
#include "server/broker.h"
#include "storage/appender.h"

namespace ironbus::server::testing {

namespace pr = protocol;

inline constexpr char kDataDir[] = "/data";

// An in-process broker on 127.0.0.1:<free port>, on a SimFileSystem data directory.
class BrokerHarness {
 public:
  explicit BrokerHarness(BrokerOptions options = {}, storage::AppenderOptions appender_options = {},
                         uint64_t segment_bytes = 1u << 20, queue::QueueOptions queue_options = {}) {
    storage::LogOptions lo;
    lo.max_segment_bytes = segment_bytes;
    lo.compression = format::Compression::kNone;
    recovery::RecoveryOptions ro;
    ro.max_segment_bytes = segment_bytes;
    auto opened = recovery::OpenDataDir(&fs_, kDataDir, ro, lo, SystemClock::Default());
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (!opened.ok()) return;
    opened_ = std::move(*opened);
    auto groups = queue::Groups::Open(&fs_, kDataDir, opened_.log.get(), std::move(opened_.dlq_log), queue_options,
                                      SystemClock::Default());
    EXPECT_TRUE(groups.ok()) << groups.status().ToString();
    if (!groups.ok()) return;
    groups_ = std::move(*groups);
    appender_options.retention_floor = [g = groups_.get()] { return g->RetentionFloor(); };
    appender_options.on_appended = [this] {
      if (Broker* b = broker_for_wakeups_.load()) b->NotifyAppended();
    };
    auto appender = storage::Appender::Start(opened_.log.get(), SystemClock::Default(), appender_options);
    EXPECT_TRUE(appender.ok()) << appender.status().ToString();
    appender_ = std::move(*appender);
    options.port = 0;
    options.log_sink = [this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    };
    broker_ = std::make_unique<Broker>(opened_.log.get(), appender_.get(), groups_.get(), options);
    Status started = broker_->Start();
    EXPECT_TRUE(started.ok()) << started.ToString();
    broker_for_wakeups_ = broker_.get();
  }
  ~BrokerHarness() {
    if (broker_) broker_->Stop();
    broker_for_wakeups_ = nullptr;
    if (appender_) (void)appender_->Stop();
    if (groups_) (void)groups_->Close();
  }

  Broker& broker() { return *broker_; }
  queue::Groups& groups() { return *groups_; }
  storage::Log& log() { return *opened_.log; }
  io::SimFileSystem& fs() { return fs_; }
  uint16_t port() const { return broker_->port(); }
  std::string addr() const { return broker_->address(); }
  // Diagnostic lines the broker logged, joined.
  std::string lines() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
  }

 private:
  io::SimFileSystem fs_;
  recovery::OpenedDataDir opened_;
  std::unique_ptr<queue::Groups> groups_;
  std::unique_ptr<storage::Appender> appender_;
  std::unique_ptr<Broker> broker_;
  std::atomic<Broker*> broker_for_wakeups_{nullptr};
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// A blocking client socket with deadlines (milliseconds) on every read.
class RawConn {
 public:
  explicit RawConn(uint16_t port, int receive_buffer_bytes = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer_bytes > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof(receive_buffer_bytes));
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~RawConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  // False when the peer is gone (EPIPE/ECONNRESET).
  bool Send(ByteView bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }
  bool SendFrame(const pr::Frame& frame) {
    auto bytes = pr::EncodeFrame(frame);
    EXPECT_TRUE(bytes.ok());
    return bytes.ok() && Send(*bytes);
  }
  // A frame with an arbitrary tag and body (for tags the codec has no struct for).
  bool SendRaw(uint8_t tag, ByteView body) {
    Bytes out;
    PutFixed32(&out, static_cast<uint32_t>(body.size() + 1));
    out.push_back(tag);
    PutBytes(&out, body);
    return Send(out);
  }

  // The next frame, or an error: Unavailable("closed") on EOF/reset, Unavailable("timeout").
  Result<pr::Frame> Read(int timeout_ms = 10'000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      pr::RawFrame raw;
      const auto state = decoder_.Next(&raw);
      if (state == pr::FrameDecoder::State::kFrame) return pr::DecodeBody(raw.tag, raw.body, pr::Direction::kToClient);
      if (state == pr::FrameDecoder::State::kBroken) return Status::Corruption(decoder_.error());
      Status s = ReadSome(deadline);
      if (!s.ok()) return s;
    }
  }
  template <typename T>
  T ReadAs(int timeout_ms = 10'000) {
    auto frame = Read(timeout_ms);
    EXPECT_TRUE(frame.ok()) << frame.status().ToString();
    if (!frame.ok()) return T{};
    EXPECT_TRUE(std::holds_alternative<T>(*frame)) << "got tag " << static_cast<int>(pr::TagOf(*frame));
    if (!std::holds_alternative<T>(*frame)) return T{};
    return std::get<T>(*frame);
  }
  // True once the server closed the connection (EOF or reset) and no whole frame is left.
  bool WaitClosed(int timeout_ms = 10'000) {
    auto frame = Read(timeout_ms);
    return !frame.ok() && frame.status().message() == "closed";
  }
  pr::Info Handshake(pr::Connect connect = {}) {
    EXPECT_TRUE(SendFrame(connect));
    return ReadAs<pr::Info>();
  }

 private:
  Status ReadSome(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::Unavailable("timeout");
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r == 0) return Status::Unavailable("timeout");
    uint8_t buf[64 * 1024];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return Status::Unavailable("closed");
    decoder_.Feed(ByteView(buf, static_cast<size_t>(n)));
    return Status::Ok();
  }

  int fd_ = -1;
  bool connected_ = false;
  pr::FrameDecoder decoder_;
};

inline std::string Str(ByteView b) { return std::string(AsChars(b)); }

// A level-1 Pub of `payload` (optionally keyed).
inline pr::Pub MakePub(const std::string& payload, const std::string& key = "") {
  pr::Pub p;
  p.timestamp_ms = 1;
  p.key = ToBytes(key);
  p.payload = ToBytes(payload);
  return p;
}

}  // namespace ironbus::server::testing
