//! The HTTP/1.1 server: one io_context per thread, each with its own SO_REUSEPORT acceptor, so a request
//! and everything it awaits (database, timers) stays on one thread. Every read has a size limit (headers,
//! body) and every connection an idle deadline enforced by one watchdog timer. A handler's exception is
//! logged once and answered with 500; the connection boundary never lets one escape.
#pragma once

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "http/request.hpp"

namespace pgwarden::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 3000;
  int threads = 1;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 << 10;
  int idle_timeout_s = 60;
  int request_timeout_s = 30;
  //! Strict-Transport-Security value sent on every answer (empty: none; set when the public URL is https).
  std::string hsts;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  int Workers() const { return static_cast<int>(contexts_.size()); }
  asio::any_io_executor Executor(int worker) { return contexts_[worker]->get_executor(); }
  //! Binds every acceptor (throws on failure: a start-up error). Returns the bound port.
  std::uint16_t Listen();
  //! Runs until Stop(); `handler` serves every request.
  void Run(Handler handler);
  //! Stops accepting, lets in-flight requests finish up to `grace`, then stops the threads. Blocks; call it
  //! from a thread that is not an io thread (the signal thread).
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  struct Worker;
  struct Shared;
  using tcp_socket = asio::basic_stream_socket<asio::ip::tcp, asio::any_io_executor>;
  static asio::awaitable<void> Session(std::shared_ptr<const Shared> shared, tcp_socket socket, int worker);
  static asio::awaitable<void> AcceptLoop(std::shared_ptr<const Shared> shared, Worker* w);
  ServerOptions options_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> in_flight_{0};
  std::atomic<bool> stop_done_{false};
};

}  // namespace pgwarden::http
