// Transport: one connection's byte stream, plain TCP or TLS 1.3 over it, behind the two calls
// the broker and the client use (async_read_some, async_write_some), so the framing, the
// backpressure and the timeouts above it do not care which it is.
//
// It is an asio AsyncReadStream/AsyncWriteStream (asio::async_write works on it). Like an
// asio::ssl::stream, at most one read and one write may be outstanding at a time, from one strand
// (the session's reader and writer coroutines, or the client's single thread).
//
// A TLS transport keeps a reference on its TlsContext: a certificate reload replaces the
// broker's context for new connections while this one keeps the context it was made from.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <memory>
#include <optional>
#include <utility>

#include "security/tls.h"

namespace ironbus::security {

class Transport {
 public:
  using executor_type = asio::ip::tcp::socket::executor_type;
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket&>;

  // Plain TCP.
  explicit Transport(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}
  // TLS over `socket`; nothing is exchanged until async_handshake.
  Transport(asio::ip::tcp::socket socket, std::shared_ptr<const TlsContext> tls)
      : socket_(std::move(socket)), tls_context_(std::move(tls)) {
    if (tls_context_) tls_.emplace(socket_, tls_context_->asio_context());
  }
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  asio::ip::tcp::socket& socket() { return socket_; }
  bool is_tls() const { return tls_.has_value(); }
  // The connection's SSL object, or null for plain TCP.
  SSL* ssl() { return tls_ ? tls_->native_handle() : nullptr; }

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(asio::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_) {
            tls_->async_read_some(b, std::move(handler));
          } else {
            socket_.async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(asio::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_) {
            tls_->async_write_some(b, std::move(handler));
          } else {
            socket_.async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  // The TLS handshake (server or client side). Completes at once for plain TCP.
  template <typename Token>
  auto async_handshake(asio::ssl::stream_base::handshake_type side, Token&& token) {
    return asio::async_initiate<Token, void(asio::error_code)>(
        [this, side](auto handler) {
          if (tls_) {
            tls_->async_handshake(side, std::move(handler));
          } else {
            auto ex = asio::get_associated_executor(handler, socket_.get_executor());
            asio::post(ex, [h = std::move(handler)]() mutable { std::move(h)(asio::error_code()); });
          }
        },
        token);
  }

  // TLS: sends close_notify and waits for the peer's (bounded by the caller). Plain: at once.
  template <typename Token>
  auto async_shutdown(Token&& token) {
    return asio::async_initiate<Token, void(asio::error_code)>(
        [this](auto handler) {
          if (tls_) {
            tls_->async_shutdown(std::move(handler));
          } else {
            auto ex = asio::get_associated_executor(handler, socket_.get_executor());
            asio::post(ex, [h = std::move(handler)]() mutable { std::move(h)(asio::error_code()); });
          }
        },
        token);
  }

 private:
  asio::ip::tcp::socket socket_;
  std::shared_ptr<const TlsContext> tls_context_;
  std::optional<TlsStream> tls_;  // refers to socket_
};

}  // namespace ironbus::security
