#include "http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <chrono>

#include "core/log.hpp"

namespace pgwarden::http {
namespace {
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

struct ConnState {
  explicit ConnState(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
  tcp::socket socket;
  asio::steady_timer timer;
  Clock::time_point deadline;
  bool closed = false;
};

// Closes the socket once the deadline passes; re-arms while the session keeps moving it forward.
asio::awaitable<void> Watchdog(std::shared_ptr<ConnState> st) {
  while (!st->closed) {
    st->timer.expires_at(st->deadline);
    co_await st->timer.async_wait(kNoThrow);
    if (st->closed) break;
    if (Clock::now() >= st->deadline) {
      beast::error_code ec;
      st->socket.shutdown(tcp::socket::shutdown_both, ec);
      st->socket.close(ec);
      break;
    }
  }
}

// Writes an error answer, then closes gracefully: stop sending, read and discard what the client is still
// uploading (bounded), then close. Closing with unread data would make the kernel reset the connection and
// the client could lose the answer (RFC 9112 §9.6).
asio::awaitable<void> CloseAfterError(ConnState& st, bhttp::response<bhttp::string_body>& res) {
  auto [wec, n] = co_await bhttp::async_write(st.socket, res, kNoThrow);
  (void)n;
  if (wec) co_return;
  beast::error_code ec;
  st.socket.shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 16 * 1024> sink;
  std::size_t drained = 0;
  while (drained < (64u << 20)) {  // at most 64 MiB or the watchdog deadline, whichever comes first
    auto [rec, got] = co_await st.socket.async_read_some(asio::buffer(sink), kNoThrow);
    if (rec) break;
    drained += got;
  }
}

Response PlainError(unsigned version, bhttp::status status, std::string_view message, const ServerOptions& opts) {
  Response res{status, version};
  res.set(bhttp::field::content_type, "application/json");
  res.set("X-Content-Type-Options", "nosniff");
  if (!opts.hsts.empty()) res.set(bhttp::field::strict_transport_security, opts.hsts);
  res.body() = std::string("{\"message\":\"") + std::string(message) + "\"}";
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

}  // namespace

struct Server::Worker {
  int index;
  asio::io_context* ctx;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread thread;
};

Server::Server(ServerOptions options) : options_(std::move(options)) {
  const int n = std::max(1, options_.threads);
  for (int i = 0; i < n; ++i) contexts_.push_back(std::make_unique<asio::io_context>(1));
}

Server::~Server() {
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

std::uint16_t Server::Listen() {
  const auto address = asio::ip::make_address(options_.host);
  std::uint16_t port = options_.port;
  for (size_t i = 0; i < contexts_.size(); ++i) {
    auto w = std::make_unique<Worker>();
    w->index = static_cast<int>(i);
    w->ctx = contexts_[i].get();
    w->acceptor = std::make_unique<tcp::acceptor>(*w->ctx);
    const tcp::endpoint ep(address, port);
    w->acceptor->open(ep.protocol());
    w->acceptor->set_option(asio::socket_base::reuse_address(true));
    // One acceptor per thread on the same port: the kernel spreads connections across threads.
    const int one = 1;
    ::setsockopt(w->acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    w->acceptor->bind(ep);
    w->acceptor->listen(asio::socket_base::max_listen_connections);
    port = w->acceptor->local_endpoint().port();  // port 0: the others join the one the kernel chose
    workers_.push_back(std::move(w));
  }
  return port;
}

// Coroutines are free functions taking their state by value: a lambda coroutine's captures would die with
// the temporary lambda object while its frame still points at them.
struct Server::Shared {
  ServerOptions opts;
  Handler handler;
  Server* server;
};

namespace {
}  // namespace

asio::awaitable<void> Server::Session(std::shared_ptr<const Shared> shared, tcp_socket socket, int worker) {
  const ServerOptions& opts = shared->opts;
  auto st = std::make_shared<ConnState>(std::move(socket));
  beast::error_code ec;
  st->socket.set_option(tcp::no_delay(true), ec);
  std::string remote_ip;
  if (auto ep = st->socket.remote_endpoint(ec); !ec) {
    auto addr = ep.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped())
      addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
    remote_ip = addr.to_string();
  }
  st->deadline = Clock::now() + std::chrono::seconds(opts.idle_timeout_s);
  asio::co_spawn(st->socket.get_executor(), Watchdog(st), asio::detached);
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opts.max_header_bytes));
    parser.body_limit(opts.max_body_bytes);
    st->deadline = Clock::now() + std::chrono::seconds(opts.idle_timeout_s);
    // Header pre-scan on the raw bytes: obs-fold (a header line continued with SP/HTAB) is refused, since
    // Beast would silently unfold it and proxies may disagree on the result (IV-01, smuggling).
    const std::size_t header_budget = opts.max_header_bytes;
    const std::size_t line_budget = opts.max_header_bytes / 2;  // request line (the URL): 414 beyond it
    bool folded = false, too_big = false, too_long = false, closed = false;
    for (;;) {
      const auto bytes = buffer.cdata();
      const std::string_view raw(static_cast<const char*>(bytes.data()), bytes.size());
      const auto line_end = raw.find("\r\n");
      if ((line_end == std::string_view::npos ? raw.size() : line_end) > line_budget) {
        too_long = true;
        break;
      }
      const auto end = raw.find("\r\n\r\n");
      if (end != std::string_view::npos) {
        const auto head = raw.substr(0, end + 2);
        folded = head.find("\r\n ") != std::string_view::npos || head.find("\r\n\t") != std::string_view::npos;
        break;
      }
      if (raw.size() > header_budget) {
        too_big = true;
        break;
      }
      auto [rec0, got] = co_await st->socket.async_read_some(buffer.prepare(4096), kNoThrow);
      if (rec0) {
        closed = true;
        break;
      }
      buffer.commit(got);
    }
    if (closed) break;
    if (too_long) {
      auto res = PlainError(11, bhttp::status::uri_too_long, "Request URI is too long", opts);
      st->deadline = Clock::now() + std::chrono::seconds(5);
      co_await CloseAfterError(*st, res);
      break;
    }
    if (folded || too_big) {
      auto res = PlainError(11, too_big ? bhttp::status::request_header_fields_too_large : bhttp::status::bad_request,
                            too_big ? "Request headers are too large" : "Malformed HTTP request: obsolete line folding", opts);
      st->deadline = Clock::now() + std::chrono::seconds(5);
      co_await CloseAfterError(*st, res);
      break;
    }
    auto [rec, nread] = co_await bhttp::async_read(st->socket, buffer, parser, kNoThrow);
    (void)nread;
    if (rec) {
      if (rec == bhttp::error::end_of_stream || rec == asio::error::eof || rec == asio::error::operation_aborted ||
          rec == asio::error::connection_reset || rec == asio::error::bad_descriptor)
        break;
      // Malformed or over-limit requests get one clear answer, then the connection is closed.
      bhttp::status status = bhttp::status::bad_request;
      std::string_view message = "Malformed HTTP request";
      if (rec == bhttp::error::body_limit) {
        status = bhttp::status::payload_too_large;
        message = "Request body is too large";
      } else if (rec == bhttp::error::header_limit) {
        status = bhttp::status::request_header_fields_too_large;
        message = "Request headers are too large";
      }
      auto res = PlainError(11, status, message, opts);
      st->deadline = Clock::now() + std::chrono::seconds(5);
      co_await CloseAfterError(*st, res);
      break;
    }

    st->deadline = Clock::now() + std::chrono::seconds(opts.request_timeout_s);
    Request req;
    req.raw = parser.release();
    req.remote_ip = remote_ip;
    req.worker = worker;
    const std::string_view target(req.raw.target());
    const auto q = target.find('?');
    req.path = target.substr(0, q);
    req.query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
    Response res;
    shared->server->in_flight_.fetch_add(1, std::memory_order_relaxed);
    try {
      res = co_await shared->handler(req);
    } catch (const std::exception& e) {
      log::Error("http.handler_exception", {{"what", e.what()}, {"path", req.path}});
      res = PlainError(req.raw.version(), bhttp::status::internal_server_error, "Internal server error", opts);
    }
    shared->server->in_flight_.fetch_sub(1, std::memory_order_relaxed);
    const bool keep_alive = res.keep_alive() && !shared->server->stopping_.load(std::memory_order_relaxed);
    res.keep_alive(keep_alive);
    // On every answer (CS-07): no MIME sniffing; HSTS when the public URL is https.
    res.set("X-Content-Type-Options", "nosniff");
    if (!opts.hsts.empty()) res.set(bhttp::field::strict_transport_security, opts.hsts);
    auto [wec, n] = co_await bhttp::async_write(st->socket, res, kNoThrow);
    (void)n;
    if (wec || !keep_alive) break;
  }
  st->closed = true;
  st->timer.cancel();
  beast::error_code ignored;
  st->socket.shutdown(tcp::socket::shutdown_send, ignored);
  st->socket.close(ignored);
}

asio::awaitable<void> Server::AcceptLoop(std::shared_ptr<const Shared> shared, Worker* w) {
  for (;;) {
    auto [ec, socket] = co_await w->acceptor->async_accept(kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !w->acceptor->is_open()) co_return;
      log::Warn("http.accept_failed", {{"error", ec.message()}});
      continue;
    }
    asio::co_spawn(w->ctx->get_executor(), Session(shared, std::move(socket), w->index), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::Error("http.session_exception", {{"what", ex.what()}});
      }
    });
  }
}

void Server::Run(Handler handler) {
  auto shared = std::make_shared<const Shared>(Shared{options_, std::move(handler), this});
  for (auto& w : workers_) asio::co_spawn(*w->ctx, AcceptLoop(shared, w.get()), asio::detached);
  for (size_t i = 1; i < workers_.size(); ++i) {
    workers_[i]->thread = std::thread([ctx = workers_[i]->ctx] { ctx->run(); });
  }
  workers_[0]->ctx->run();
  for (size_t i = 1; i < workers_.size(); ++i)
    if (workers_[i]->thread.joinable()) workers_[i]->thread.join();
  if (stopping_.load()) stop_done_.wait(false);
}

void Server::Stop(std::chrono::milliseconds grace) {
  if (stopping_.exchange(true)) return;
  for (auto& w : workers_) {
    asio::post(*w->ctx, [a = w->acceptor.get()] {
      beast::error_code ec;
      a->close(ec);
    });
  }
  // In-flight requests finish (their responses say Connection: close); then the loops stop. This runs on the
  // caller's thread (the signal thread), and Run() does not return before it is done, so ~Server can never
  // race it.
  const auto until = Clock::now() + grace;
  while (in_flight_.load() > 0 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (auto& c : contexts_) c->stop();
  stop_done_.store(true);
  stop_done_.notify_all();
}

}  // namespace pgwarden::http
