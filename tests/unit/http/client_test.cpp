//! The outbound client against listeners on 127.0.0.1 started by the test (no other network): round trips,
//! no redirect following, the body cap, the deadline, the target policy (private/link-local/plain http
//! refused before any connection) and TLS verification with a throwaway self-signed certificate.
#include "http/client.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/text.hpp"

namespace pgwarden::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

//! What the test listener received.
struct Seen {
  int connections = 0;
  bool parsed = false;
  std::string method;
  std::string target;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  std::optional<std::string> Header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (IEquals(n, name)) return v;
    return std::nullopt;
  }
};

enum class Mode {
  kAnswer,  //!< read the request (if it parses), write the canned bytes, close
  kSilent,  //!< read the request, then hold the connection open without a word
};

template <class Stream>
asio::awaitable<void> ReadRequest(Stream& stream, std::shared_ptr<Seen> seen) {
  beast::flat_buffer buffer;
  bhttp::request<bhttp::string_body> req;
  auto [ec, n] = co_await bhttp::async_read(stream, buffer, req, kNoThrow);
  (void)n;
  if (ec) co_return;
  seen->parsed = true;
  seen->method = std::string(req.method_string());
  seen->target = std::string(req.target());
  seen->body = req.body();
  for (const auto& field : req)
    seen->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
}

asio::awaitable<void> HoldOpen() {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  timer.expires_after(std::chrono::hours(1));  // the test stops the io_context first
  auto [ec] = co_await timer.async_wait(kNoThrow);
  (void)ec;
}

//! Plain TCP: answers every connection with `response` (or silence).
asio::awaitable<void> ServePlain(tcp::acceptor& acceptor, std::shared_ptr<Seen> seen, std::string response, Mode mode) {
  for (;;) {
    auto [aec, socket] = co_await acceptor.async_accept(kNoThrow);
    if (aec) co_return;
    ++seen->connections;
    co_await ReadRequest(socket, seen);
    if (mode == Mode::kSilent) {
      co_await HoldOpen();
      co_return;
    }
    auto bytes = asio::buffer(response);
    auto [wec, written] = co_await asio::async_write(socket, bytes, kNoThrow);
    (void)wec;
    (void)written;
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
}

//! TLS: handshake with `tls`, then answer as ServePlain does.
asio::awaitable<void> ServeTls(tcp::acceptor& acceptor, ssl::context& tls, std::shared_ptr<Seen> seen,
                               std::string response) {
  for (;;) {
    auto [aec, socket] = co_await acceptor.async_accept(kNoThrow);
    if (aec) co_return;
    ++seen->connections;
    ssl::stream<tcp::socket> stream(std::move(socket), tls);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kNoThrow);
    if (hec) continue;  // the client refused our certificate
    co_await ReadRequest(stream, seen);
    auto bytes = asio::buffer(response);
    auto [wec, written] = co_await asio::async_write(stream, bytes, kNoThrow);
    (void)wec;
    (void)written;
    auto [sec] = co_await stream.async_shutdown(kNoThrow);
    (void)sec;
  }
}

//! One io_context, one listener on 127.0.0.1:<ephemeral>, and a way to run one Fetch to completion.
class ClientTest : public ::testing::Test {
 protected:
  std::uint16_t Port() const { return acceptor_.local_endpoint().port(); }
  std::string Url(std::string_view path, std::string_view scheme = "http") const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(Port()) + std::string(path);
  }

  void Serve(std::string response, Mode mode = Mode::kAnswer) {
    asio::co_spawn(io_, ServePlain(acceptor_, seen_, std::move(response), mode), asio::detached);
  }

  //! Runs `request` to completion (the listener keeps whatever it holds until the io_context goes).
  Result<ClientResponse> Run(const Client& client, ClientRequest request) {
    std::optional<Result<ClientResponse>> out;
    auto on_done = [&](std::exception_ptr e, Result<ClientResponse> r) {
      if (e) std::rethrow_exception(e);
      out = std::move(r);
      io_.stop();
    };
    asio::co_spawn(io_, client.Fetch(std::move(request)), on_done);
    const auto started = Clock::now();
    io_.run_for(std::chrono::seconds(20));
    elapsed_ = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
    if (!out) return MakeError(ErrorCode::kInternal, "the fetch did not finish");
    return std::move(*out);
  }

  static ClientRequest Get(std::string url) {
    ClientRequest r;
    r.url = std::move(url);
    return r;
  }

  static ClientOptions Options() { return ClientOptions(); }

  //! Serves `answer`, then expects the fetch to fail while reading it.
  void ExpectReadError(std::string answer) {
    Serve(std::move(answer));
    auto res = Run(Client(Options()), Get(Url("/")));
    ASSERT_FALSE(res.has_value());
    EXPECT_NE(res.error().Message().find("read: "), std::string_view::npos) << res.error().Message();
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::shared_ptr<Seen> seen_ = std::make_shared<Seen>();
  milliseconds elapsed_{0};
};

TEST_F(ClientTest, GetSendsPathQueryAndHeadersAndReturnsTheResponse) {
  Serve(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Custom: a b\r\nContent-Length: 11\r\n\r\n"
      "{\"ok\":true}");
  const Client client(Options());
  ClientRequest req = Get(Url("/oauth/userinfo?a=1&b=two%20words"));
  req.headers = {{"Accept", "application/json"}, {"Authorization", "Bearer tok"}};
  auto res = Run(client, std::move(req));
  ASSERT_TRUE(res.has_value()) << res.error().Message();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("content-type"), "application/json");
  EXPECT_EQ(res->Header("X-CUSTOM"), "a b");
  EXPECT_EQ(res->Header("x-absent"), "");
  EXPECT_EQ(res->body, "{\"ok\":true}");

  ASSERT_TRUE(seen_->parsed);
  EXPECT_EQ(seen_->method, "GET");
  EXPECT_EQ(seen_->target, "/oauth/userinfo?a=1&b=two%20words");
  EXPECT_EQ(seen_->Header("host"), "127.0.0.1:" + std::to_string(Port()));
  EXPECT_EQ(seen_->Header("user-agent"), "pgwarden");
  EXPECT_EQ(seen_->Header("connection"), "close");
  EXPECT_EQ(seen_->Header("accept"), "application/json");
  EXPECT_EQ(seen_->Header("authorization"), "Bearer tok");
  EXPECT_EQ(seen_->Header("content-length"), std::nullopt);
  EXPECT_EQ(seen_->Header("transfer-encoding"), std::nullopt);
  EXPECT_EQ(seen_->body, "");
}

TEST_F(ClientTest, PostSendsTheBodyWithContentLengthAndContentType) {
  Serve("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  const Client client(Options());
  ClientRequest req = Get(Url("/token"));
  req.method = bhttp::verb::post;
  req.body = "grant_type=authorization_code&code=abc%2B1";
  req.content_type = "application/x-www-form-urlencoded";
  req.headers = {{"Accept", "application/json"}, {"User-Agent", "pgwarden-test"}};
  const std::string sent = req.body;
  auto res = Run(client, std::move(req));
  ASSERT_TRUE(res.has_value()) << res.error().Message();
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, "hello world");

  ASSERT_TRUE(seen_->parsed);
  EXPECT_EQ(seen_->method, "POST");
  EXPECT_EQ(seen_->target, "/token");
  EXPECT_EQ(seen_->body, sent);
  EXPECT_EQ(seen_->Header("content-length"), std::to_string(sent.size()));
  EXPECT_EQ(seen_->Header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(seen_->Header("user-agent"), "pgwarden-test");  // the caller's own replaces the default
}

TEST_F(ClientTest, EmptyPostStillSaysContentLengthZero) {
  Serve("HTTP/1.1 204 No Content\r\n\r\n");
  const Client client(Options());
  ClientRequest req = Get(Url("/revoke"));
  req.method = bhttp::verb::post;
  auto res = Run(client, std::move(req));
  ASSERT_TRUE(res.has_value()) << res.error().Message();
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(seen_->Header("content-length"), "0");
}

TEST_F(ClientTest, ReadsABodyEndedByTheConnectionClose) {
  Serve("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end");
  const Client client(Options());
  auto res = Run(client, Get(Url("/")));
  ASSERT_TRUE(res.has_value()) << res.error().Message();
  EXPECT_EQ(res->body, "until the end");
}

TEST_F(ClientTest, SkipsAnInterimResponse) {
  Serve("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  const Client client(Options());
  auto res = Run(client, Get(Url("/")));
  ASSERT_TRUE(res.has_value()) << res.error().Message();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok");
}

TEST_F(ClientTest, ReturnsARedirectWithoutFollowingIt) {
  Serve("HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data\r\nContent-Length: 0\r\n\r\n");
  const Client client(Options());
  auto res = Run(client, Get(Url("/token")));
  ASSERT_TRUE(res.has_value()) << res.error().Message();
  EXPECT_EQ(res->status, 302);
  EXPECT_EQ(res->Header("location"), "http://169.254.169.254/latest/meta-data");
  EXPECT_EQ(seen_->connections, 1);
}

TEST_F(ClientTest, RefusesABodyOverTheCap) {
  Serve("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'));
  ClientOptions o;
  o.max_body_bytes = 16;
  const Client client(o);
  auto res = Run(client, Get(Url("/big")));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kServiceUnavailable);
  EXPECT_NE(res.error().Message().find("larger than 16 bytes"), std::string_view::npos) << res.error().Message();
}

TEST_F(ClientTest, RefusesAChunkedBodyOverTheCap) {
  Serve(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
      "chunked\r\n\r\n10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
  ClientOptions o;
  o.max_body_bytes = 20;
  const Client client(o);
  auto res = Run(client, Get(Url("/big")));
  ASSERT_FALSE(res.has_value());
  EXPECT_NE(res.error().Message().find("larger than 20 bytes"), std::string_view::npos) << res.error().Message();
}

// The response is parsed as it arrives (client.cpp feeds Beast's parser itself): bodies over many reads, chunked
// bodies, a HEAD answer without body, and every way an answer can end too early.
TEST_F(ClientTest, ReadsALargeBodyOverManyReads) {
  std::string body(300 * 1024, 'a');
  for (std::size_t i = 0; i < body.size(); i += 997) body[i] = static_cast<char>('b' + i % 20);
  Serve("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  const Client client(Options());
  auto res = Run(client, Get(Url("/large")));
  ASSERT_TRUE(res.has_value()) << res.error().Message();
  EXPECT_EQ(res->body, body);
}

TEST_F(ClientTest, AssemblesAChunkedBody) {
  Serve("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\n\r\n");
  const Client client(Options());
  auto res = Run(client, Get(Url("/chunked")));
  ASSERT_TRUE(res.has_value()) << res.error().Message();
  EXPECT_EQ(res->body, "hello world");
  EXPECT_EQ(res->Header("x-a"), "1");
}

TEST_F(ClientTest, AHeadAnswerHasNoBodyToWaitFor) {
  Serve("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", Mode::kAnswer);
  const Client client(Options());
  ClientRequest head = Get(Url("/"));
  head.method = bhttp::verb::head;
  auto res = Run(client, std::move(head));
  ASSERT_TRUE(res.has_value()) << res.error().Message();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "");
}

TEST_F(ClientTest, RefusesAHeaderBlockOverTheCap) {
  Serve("HTTP/1.1 200 OK\r\nX-Big: " + std::string(64 * 1024, 'h') + "\r\nContent-Length: 0\r\n\r\n");
  ClientOptions o;
  o.max_header_bytes = 8 * 1024;
  const Client client(o);
  auto res = Run(client, Get(Url("/")));
  ASSERT_FALSE(res.has_value());
  EXPECT_NE(res.error().Message().find("response header larger than 8192 bytes"), std::string_view::npos)
      << res.error().Message();
}

TEST_F(ClientTest, ReportsAConnectionClosedBeforeAnAnswer) {
  Serve("");
  const Client client(Options());
  auto res = Run(client, Get(Url("/")));
  ASSERT_FALSE(res.has_value());
  EXPECT_NE(res.error().Message().find("connection closed before a response"), std::string_view::npos)
      << res.error().Message();
}

// An answer that ends before its message does (one listener per test: a fixture serves one canned answer).
TEST_F(ClientTest, RefusesABodyShorterThanItsContentLength) {
  ExpectReadError("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
}

TEST_F(ClientTest, RefusesAHeaderCutShort) { ExpectReadError("HTTP/1.1 200 OK\r\nContent-Le"); }

TEST_F(ClientTest, RefusesAChunkedBodyCutShort) {
  ExpectReadError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
}

TEST_F(ClientTest, GivesUpOnASilentServerAtTheDeadline) {
  Serve("", Mode::kSilent);
  ClientOptions o;
  o.timeout = milliseconds(300);
  const Client client(o);
  auto res = Run(client, Get(Url("/token")));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kServiceUnavailable);
  EXPECT_NE(res.error().Message().find("read: timed out"), std::string_view::npos) << res.error().Message();
  EXPECT_GE(elapsed_, milliseconds(250));
  EXPECT_LT(elapsed_, milliseconds(2000));
  EXPECT_EQ(seen_->connections, 1);
}

TEST_F(ClientTest, ReportsAConnectionRefused) {
  const std::string url = Url("/");
  acceptor_.close();  // nothing listens on that port any more
  const Client client(Options());
  auto res = Run(client, Get(url));
  ASSERT_FALSE(res.has_value());
  EXPECT_TRUE(StartsWith(res.error().Message(), "connect: ")) << res.error().Message();
}

TEST_F(ClientTest, RefusesPrivateLinkLocalAndPlainHttpTargetsBeforeConnecting) {
  Serve("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");  // counts any connection that gets through
  struct Case {
    std::string url;
    std::string_view expected;
  };
  const std::string port = std::to_string(Port());
  const std::vector<Case> cases = {
      {"http://10.0.0.1/", "refused address 10.0.0.1 (private)"},
      {"http://169.254.169.254/latest/meta-data", "refused address 169.254.169.254 (link-local)"},
      {"https://169.254.169.254/latest/meta-data", "refused address 169.254.169.254 (link-local)"},
      {"https://192.168.1.1:8443/token", "refused address 192.168.1.1 (private)"},
      {"https://172.16.5.4/", "refused address 172.16.5.4 (private)"},
      {"https://100.100.100.200/", "refused address 100.100.100.200 (shared)"},
      {"https://[fd00::1]/", "refused address fd00::1 (private)"},
      {"https://[fe80::1]/", "refused address fe80::1 (link-local)"},
      {"https://[::ffff:169.254.169.254]/", "refused address ::ffff:169.254.169.254 (link-local)"},
      {"https://224.0.0.1/", "refused address 224.0.0.1 (multicast)"},
      // 0.0.0.0 would reach the listener on this machine: never a target, whatever the options say.
      {"http://0.0.0.0:" + port + "/", "refused address 0.0.0.0 (unspecified)"},
      {"http://[::]:" + port + "/", "refused address :: (unspecified)"},
      {"http://8.8.8.8/", "refused plain http to 8.8.8.8 (not loopback)"},
  };
  const Client client(Options());
  for (const auto& c : cases) {
    SCOPED_TRACE(c.url);
    auto res = Run(client, Get(c.url));
    io_.restart();
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error().code, ErrorCode::kServiceUnavailable);
    EXPECT_TRUE(StartsWith(res.error().Message(), c.expected)) << res.error().Message();
    EXPECT_LT(elapsed_, milliseconds(200));
  }
  EXPECT_EQ(seen_->connections, 0);
}

TEST_F(ClientTest, AllowPrivateStillRefusesPlainHttpAwayFromLoopback) {
  ClientOptions o;
  o.allow_private = true;
  const Client client(o);
  auto res = Run(client, Get("http://10.0.0.1/"));
  ASSERT_FALSE(res.has_value());
  EXPECT_TRUE(StartsWith(res.error().Message(), "refused plain http to 10.0.0.1 (not loopback)"))
      << res.error().Message();
}

TEST_F(ClientTest, LoopbackIsRefusedWhenNotAllowed) {
  Serve("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  ClientOptions o;
  o.allow_loopback = false;
  const Client client(o);
  for (const std::string host : {"127.0.0.1", "localhost", "[::ffff:127.0.0.1]"}) {
    SCOPED_TRACE(host);
    auto res = Run(client, Get("http://" + host + ":" + std::to_string(Port()) + "/"));
    io_.restart();
    ASSERT_FALSE(res.has_value());
    EXPECT_NE(res.error().Message().find("(loopback)"), std::string_view::npos) << res.error().Message();
  }
  EXPECT_EQ(seen_->connections, 0);
}

TEST_F(ClientTest, ResolvesLocalhost) {
  Serve("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
  const Client client(Options());
  auto res = Run(client, Get("http://localhost:" + std::to_string(Port()) + "/x"));
  ASSERT_TRUE(res.has_value()) << res.error().Message();
  EXPECT_EQ(res->body, "hi");
  EXPECT_EQ(seen_->Header("host"), "localhost:" + std::to_string(Port()));
}

TEST_F(ClientTest, RefusesBadUrlsAndHeadersWithoutEchoingSecrets) {
  struct Case {
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string_view expected;
  };
  const std::vector<Case> cases = {
      {"not a url?code=SECRET", {}, "invalid URL"},
      {"ftp://example.com/?code=SECRET", {}, "invalid URL: the scheme must be http or https"},
      {"https://user:SECRET@example.com/", {}, "invalid URL: user info is not allowed"},
      {"https://example.com:99999/?code=SECRET", {}, "invalid URL: bad port"},
      {"https://example.com/",
       {{"Authorization", "Bearer SECRET\r\nX-Injected: 1"}},
       "invalid value for request header Authorization"},
      {"https://example.com/", {{"Bad Name", "SECRET"}}, "invalid request header name"},
      {"https://example.com/", {{"Host", "SECRET"}}, "request header Host is set by the client"},
      {"https://example.com/", {{"Content-Length", "5"}}, "request header Content-Length is set by the client"},
      {"http://10.0.0.1/callback?code=SECRET", {{"Authorization", "Bearer SECRET"}}, "refused address 10.0.0.1"},
  };
  const Client client(Options());
  for (const auto& c : cases) {
    SCOPED_TRACE(c.expected);
    ClientRequest req = Get(c.url);
    req.method = bhttp::verb::post;
    req.headers = c.headers;
    req.body = "client_secret=SECRET";
    auto res = Run(client, std::move(req));
    io_.restart();
    ASSERT_FALSE(res.has_value());
    const std::string message(res.error().Message());
    EXPECT_TRUE(StartsWith(message, c.expected)) << message;
    EXPECT_EQ(message.find("SECRET"), std::string::npos) << message;
  }
}

TEST_F(ClientTest, HttpsToAPlainListenerFailsAtTheHandshake) {
  Serve("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  const Client client(Options());
  auto res = Run(client, Get(Url("/token", "https")));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kServiceUnavailable);
  EXPECT_TRUE(StartsWith(res.error().Message(), "TLS handshake: ")) << res.error().Message();
  EXPECT_EQ(seen_->connections, 1);
}

TEST(ClientOptionsTest, AnUnreadableCaFileIsAStartUpError) {
  ClientOptions o;
  o.ca_file = "/nonexistent/pgwarden-ca.pem";
  EXPECT_THROW(Client{o}, std::runtime_error);
}

// --- TLS with a throwaway self-signed certificate -------------------------------------------------------

struct Pem {
  std::string cert;
  std::string key;
};

std::string BioString(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

//! A P-256 self-signed certificate for `san` (e.g. "DNS:localhost,IP:127.0.0.1"), PEM-encoded.
Pem MakeSelfSigned(const std::string& common_name, const std::string& san) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!key || !cert) throw std::runtime_error("OpenSSL allocation failed");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()),
                   static_cast<long>(std::hash<std::string>()(common_name) & 0x7fffffff));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::pair<int, std::string> extensions[] = {{NID_subject_alt_name, san},
                                                    {NID_basic_constraints, "critical,CA:TRUE"}};
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!ext) throw std::runtime_error("bad extension");
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
  Pem out;
  std::unique_ptr<BIO, decltype(&BIO_free)> cbio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(cbio.get(), cert.get());
  out.cert = BioString(cbio.get());
  std::unique_ptr<BIO, decltype(&BIO_free)> kbio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(kbio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  out.key = BioString(kbio.get());
  return out;
}

class ClientTlsTest : public ClientTest {
 protected:
  void SetUp() override {
    const Pem pem = MakeSelfSigned("pgwarden test localhost", "DNS:localhost,IP:127.0.0.1");
    other_ = MakeSelfSigned("pgwarden test other", "DNS:other.example");
    UseCertificate(pem);
    static std::atomic<int> counter{0};
    ca_file_ = std::filesystem::temp_directory_path() /
               ("pgwarden-client-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".pem");
    std::ofstream(ca_file_) << pem.cert;
    other_ca_file_ = ca_file_.string() + ".other.pem";
    std::ofstream(other_ca_file_) << other_.cert;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove(ca_file_, ec);
    std::filesystem::remove(other_ca_file_, ec);
  }
  void UseCertificate(const Pem& pem) {
    server_tls_.use_certificate_chain(asio::buffer(pem.cert));
    server_tls_.use_private_key(asio::buffer(pem.key), ssl::context::pem);
  }
  void ServeTls(std::string response) {
    asio::co_spawn(io_, http::ServeTls(acceptor_, server_tls_, seen_, std::move(response)), asio::detached);
  }
  ClientOptions Trusting(const std::filesystem::path& file) const {
    ClientOptions o;
    o.ca_file = file.string();
    return o;
  }

  ssl::context server_tls_{ssl::context::tls_server};
  Pem other_;
  std::filesystem::path ca_file_;
  std::filesystem::path other_ca_file_;
};

TEST_F(ClientTlsTest, VerifiesAnIpAddressAgainstTheCaFile) {
  ServeTls("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure");
  const Client client(Trusting(ca_file_));
  auto res = Run(client, Get(Url("/.well-known/openid-configuration", "https")));
  ASSERT_TRUE(res.has_value()) << res.error().Message();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "secure");
  EXPECT_EQ(seen_->target, "/.well-known/openid-configuration");
}

TEST_F(ClientTlsTest, VerifiesAHostNameAgainstTheCaFile) {
  ServeTls("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nname");
  const Client client(Trusting(ca_file_));
  auto res = Run(client, Get("https://localhost:" + std::to_string(Port()) + "/jwks"));
  ASSERT_TRUE(res.has_value()) << res.error().Message();
  EXPECT_EQ(res->body, "name");
  EXPECT_EQ(seen_->Header("host"), "localhost:" + std::to_string(Port()));
}

TEST_F(ClientTlsTest, RefusesACertificateOutsideTheTrustStore) {
  ServeTls("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  const Client client(Options());  // the system store only
  auto res = Run(client, Get(Url("/", "https")));
  ASSERT_FALSE(res.has_value());
  const std::string message(res.error().Message());
  EXPECT_TRUE(StartsWith(message, "TLS handshake: ")) << message;
  EXPECT_NE(message.find("self-signed certificate"), std::string::npos) << message;
  EXPECT_FALSE(seen_->parsed);
}

TEST_F(ClientTlsTest, RefusesATrustedCertificateForAnotherHost) {
  UseCertificate(other_);
  ServeTls("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  const Client client(Trusting(other_ca_file_));
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    SCOPED_TRACE(host);
    auto res = Run(client, Get("https://" + host + ":" + std::to_string(Port()) + "/"));
    io_.restart();
    ASSERT_FALSE(res.has_value());
    const std::string message(res.error().Message());
    EXPECT_TRUE(StartsWith(message, "TLS handshake: ")) << message;
    EXPECT_NE(message.find("mismatch"), std::string::npos) << message;
  }
  EXPECT_FALSE(seen_->parsed);
}

// --- address classification -----------------------------------------------------------------------------

TEST(ClassifyAddress, NamesEveryRangeTheTargetPolicyUses) {
  struct Case {
    std::string_view address;
    AddressKind kind;
  };
  const Case cases[] = {
      {"8.8.8.8", AddressKind::kPublic},
      {"172.32.0.1", AddressKind::kPublic},
      {"100.128.0.1", AddressKind::kPublic},
      {"127.0.0.1", AddressKind::kLoopback},
      {"127.255.255.254", AddressKind::kLoopback},
      {"10.1.2.3", AddressKind::kPrivate},
      {"172.16.0.1", AddressKind::kPrivate},
      {"172.31.255.255", AddressKind::kPrivate},
      {"192.168.0.1", AddressKind::kPrivate},
      {"169.254.169.254", AddressKind::kLinkLocal},
      {"100.64.0.1", AddressKind::kShared},
      {"100.100.100.200", AddressKind::kShared},
      {"0.0.0.0", AddressKind::kUnspecified},
      {"0.1.2.3", AddressKind::kUnspecified},
      {"224.0.0.1", AddressKind::kMulticast},
      {"239.255.255.250", AddressKind::kMulticast},
      {"255.255.255.255", AddressKind::kReserved},
      {"192.0.2.1", AddressKind::kReserved},
      {"2606:4700::1111", AddressKind::kPublic},
      {"::1", AddressKind::kLoopback},
      {"::", AddressKind::kUnspecified},
      {"::ffff:127.0.0.1", AddressKind::kLoopback},
      {"::ffff:169.254.169.254", AddressKind::kLinkLocal},
      {"::ffff:10.0.0.1", AddressKind::kPrivate},
      {"::ffff:8.8.8.8", AddressKind::kPublic},
      {"::169.254.169.254", AddressKind::kLinkLocal},
      {"64:ff9b::a9fe:a9fe", AddressKind::kLinkLocal},
      {"2002:a9fe:a9fe::1", AddressKind::kLinkLocal},
      {"2002:0808:0808::1", AddressKind::kPublic},
      {"fc00::1", AddressKind::kPrivate},
      {"fd12:3456::1", AddressKind::kPrivate},
      {"fe80::1", AddressKind::kLinkLocal},
      {"febf::1", AddressKind::kLinkLocal},
      {"fec0::1", AddressKind::kPrivate},
      {"ff02::1", AddressKind::kMulticast},
      {"2001:db8::1", AddressKind::kReserved},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.address);
    EXPECT_EQ(AddressKindName(ClassifyAddress(asio::ip::make_address(c.address))), AddressKindName(c.kind));
  }
}

}  // namespace
}  // namespace pgwarden::http
