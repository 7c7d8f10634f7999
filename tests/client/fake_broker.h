// A scripted broker for the client's wire-shape tests: one loopback connection, answered frame
// by frame from a script, so a test can send exactly the replies a real broker never would
// (a wrong tag, too many window frames, a payload that does not decompress) and check what
// the client put on the wire. POSIX sockets with poll() deadlines on its own thread, so a
// client that misbehaves fails the test instead of hanging it.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "protocol/codec.h"
#include "protocol/frame_decoder.h"

namespace ironbus::client::testing {

namespace pr = protocol;

class FakeBroker {
 public:
  // After the Connect/Info handshake, request i (in arrival order) is answered with
  // script[i], frame by frame, `reply_delay` after it arrived; requests past the script get
  // no answer.
  // `greeting` answers the Connect (default Info); anything else is sent and the connection closed,
  // as a broker refusing a credential does.
  explicit FakeBroker(std::vector<std::vector<pr::Frame>> script,
                      std::chrono::milliseconds reply_delay = std::chrono::milliseconds(0),
                      pr::Frame greeting = pr::Info{})
      : script_(std::move(script)), reply_delay_(reply_delay), greeting_(std::move(greeting)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(listen_fd_, 1), 0);
    socklen_t len = sizeof(a);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeBroker() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  FakeBroker(const FakeBroker&) = delete;
  FakeBroker& operator=(const FakeBroker&) = delete;

  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  // The Connect the client opened with (nothing before it arrived).
  std::optional<pr::Frame> hello() {
    std::lock_guard<std::mutex> lock(mu_);
    return hello_;
  }
  // The requests received after the handshake, decoded.
  std::vector<pr::Frame> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    pollfd p{listen_fd_, POLLIN, 0};
    if (!WaitReadable(&p)) return;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    pr::FrameDecoder decoder;
    bool greeted = false;
    size_t answered = 0;
    while (!stop_) {
      pr::RawFrame raw;
      const auto state = decoder.Next(&raw);
      if (state == pr::FrameDecoder::State::kBroken) break;
      if (state == pr::FrameDecoder::State::kFrame) {
        auto frame = pr::DecodeBody(raw.tag, raw.body, pr::Direction::kToServer);
        EXPECT_TRUE(frame.ok()) << frame.status().ToString();
        if (!greeted) {
          greeted = true;
          if (frame.ok()) {
            std::lock_guard<std::mutex> lock(mu_);
            hello_ = *frame;
          }
          Send(fd, greeting_);
          if (!std::holds_alternative<pr::Info>(greeting_)) break;  // refused: close
          continue;
        }
        if (frame.ok()) {
          std::lock_guard<std::mutex> lock(mu_);
          requests_.push_back(*frame);
        }
        if (answered < script_.size()) {
          std::this_thread::sleep_for(reply_delay_);
          for (const pr::Frame& reply : script_[answered]) Send(fd, reply);
        }
        ++answered;
        continue;
      }
      pollfd c{fd, POLLIN, 0};
      if (!WaitReadable(&c)) continue;
      uint8_t buf[64 * 1024];
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      decoder.Feed(ByteView(buf, static_cast<size_t>(n)));
    }
    ::close(fd);
  }
  // Polls in short slices so the destructor can stop the thread.
  bool WaitReadable(pollfd* p) {
    for (int i = 0; i < 200 && !stop_; ++i) {
      if (::poll(p, 1, 50) > 0) return true;
    }
    return false;
  }
  static void Send(int fd, const pr::Frame& frame) {
    auto bytes = pr::EncodeFrame(frame);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    size_t done = 0;
    while (done < bytes->size()) {
      const ssize_t n = ::send(fd, bytes->data() + done, bytes->size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

  std::vector<std::vector<pr::Frame>> script_;
  std::chrono::milliseconds reply_delay_;
  pr::Frame greeting_;
  std::optional<pr::Frame> hello_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<pr::Frame> requests_;
};

}  // namespace ironbus::client::testing
