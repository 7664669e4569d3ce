//! SmtpSender against a scripted SMTP peer on 127.0.0.1 (loopback only, no TLS): the envelope, AUTH with the
//! decoded credentials, the uploaded message, and how refusals and unreachable servers are reported.
#include "mail/smtp_sender.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pgwarden::mail {
namespace {

//! Serves one SMTP session: EHLO offers AUTH PLAIN only (no STARTTLS), records every command and the DATA.
class FakeSmtpPeer {
 public:
  explicit FakeSmtpPeer(bool refuse_rcpt = false) : refuse_rcpt_(refuse_rcpt) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 1);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeSmtpPeer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }
  std::vector<std::string> Commands() {
    std::lock_guard lock(mutex_);
    return commands_;
  }
  std::string Data() {
    std::lock_guard lock(mutex_);
    return data_;
  }

 private:
  void Serve() {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    std::string buffer;
    const auto read_line = [&](std::string& line) {
      for (;;) {
        if (const std::size_t eol = buffer.find("\r\n"); eol != std::string::npos) {
          line = buffer.substr(0, eol);
          buffer.erase(0, eol + 2);
          return true;
        }
        pollfd q{fd, POLLIN, 0};
        if (::poll(&q, 1, 5000) <= 0) return false;
        char chunk[4096];
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) return false;
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
    };
    const auto reply = [&](std::string_view text) { (void)!::write(fd, text.data(), text.size()); };
    reply("220 fake ESMTP\r\n");
    std::string line;
    while (read_line(line)) {
      {
        std::lock_guard lock(mutex_);
        commands_.push_back(line);
      }
      if (line.rfind("EHLO", 0) == 0) {
        reply("250-fake\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n");
      } else if (line == "AUTH PLAIN") {
        reply("334 \r\n");
      } else if (line.rfind("AUTH PLAIN ", 0) == 0 || (!commands_.empty() && commands_.size() >= 2 &&
                                                         commands_[commands_.size() - 2] == "AUTH PLAIN")) {
        reply("235 ok\r\n");
      } else if (line.rfind("MAIL FROM:", 0) == 0) {
        reply("250 ok\r\n");
      } else if (line.rfind("RCPT TO:", 0) == 0) {
        reply(refuse_rcpt_ ? "550 no such user\r\n" : "250 ok\r\n");
      } else if (line == "DATA") {
        reply("354 go\r\n");
        std::string data, l;
        while (read_line(l) && l != ".") data += l + "\r\n";
        {
          std::lock_guard lock(mutex_);
          data_ = data;
        }
        reply("250 queued\r\n");
      } else if (line == "QUIT") {
        reply("221 bye\r\n");
        break;
      } else {
        reply("502 unknown\r\n");
      }
    }
    ::close(fd);
  }

  bool refuse_rcpt_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> commands_;
  std::string data_;
};

Message Mail() {
  Message m;
  m.from = "Pgwarden <no-reply@auth.example.com>";
  m.to = "Alice <alice@example.org>";
  m.subject = "Réinitialiser";
  m.text = "Your code: 123456";
  m.html = "<b>123456</b>";
  return m;
}

SmtpSettings Settings(int port, std::string_view query = "") {
  auto s = ParseSmtpUrl("smtp://mailer:p%40ss%3Aw0rd@127.0.0.1:" + std::to_string(port) + std::string(query));
  EXPECT_TRUE(s);
  s->connect_timeout = std::chrono::seconds(2);
  s->total_timeout = std::chrono::seconds(5);
  return *s;
}

TEST(SmtpSender, SendsTheEnvelopeAuthAndRenderedMessage) {
  FakeSmtpPeer peer;
  // The fake peer speaks no TLS: clear-text credentials must be asked for explicitly.
  SmtpSender sender(Settings(peer.port(), "?starttls=optional"));
  const auto sent = sender.Send(Mail());
  ASSERT_TRUE(sent) << sent.error().Message();
  const auto commands = peer.Commands();
  const auto has = [&](std::string_view c) {
    for (const auto& line : commands) {
      if (line.rfind(c, 0) == 0) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("MAIL FROM:<no-reply@auth.example.com>"));
  EXPECT_TRUE(has("RCPT TO:<alice@example.org>"));
  // base64("\0mailer\0p@ss:w0rd"): the URL's percent-encoded credentials, decoded.
  EXPECT_TRUE(has("AG1haWxlcgBwQHNzOncwcmQ=") || has("AUTH PLAIN AG1haWxlcgBwQHNzOncwcmQ="));
  const std::string data = peer.Data();
  EXPECT_NE(data.find("To: Alice <alice@example.org>\r\n"), std::string::npos) << data;
  EXPECT_NE(data.find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(data.find("Your code: 123456"), std::string::npos);
}

TEST(SmtpSender, ARefusedRecipientIsPermanent) {
  FakeSmtpPeer peer(/*refuse_rcpt=*/true);
  SmtpSender sender(Settings(peer.port(), "?starttls=optional"));
  const auto sent = sender.Send(Mail());
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kBadRequest) << sent.error().Message();
  EXPECT_NE(std::string(sent.error().Message()).find("550"), std::string::npos) << sent.error().Message();
}

TEST(SmtpSender, CredentialsWithoutStartTlsAreNeverSent) {
  FakeSmtpPeer peer;
  SmtpSender sender(Settings(peer.port()));
  const auto sent = sender.Send(Mail());
  ASSERT_FALSE(sent);
  for (const auto& line : peer.Commands()) EXPECT_EQ(line.find("AUTH"), std::string::npos) << line;
}

TEST(SmtpSender, RequiredStartTlsFailsWhenTheServerDoesNotOfferIt) {
  FakeSmtpPeer peer;
  SmtpSender sender(Settings(peer.port(), "?starttls=required"));
  const auto sent = sender.Send(Mail());
  ASSERT_FALSE(sent);
  for (const auto& line : peer.Commands()) EXPECT_NE(line.rfind("AUTH", 0), 0u) << "credentials sent in clear";
}

TEST(SmtpSender, AnUnreachableServerIsTransientAndTheErrorHidesThePassword) {
  int port = 0;
  {
    FakeSmtpPeer closed;  // grab a free port, then let it close
    port = closed.port();
    SmtpSender warmup(Settings(port));
    (void)warmup.Send(Mail());
  }
  SmtpSender sender(Settings(port));
  const auto sent = sender.Send(Mail());
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kServiceUnavailable);
  EXPECT_EQ(std::string(sent.error().Message()).find("p@ss:w0rd"), std::string::npos);
  EXPECT_EQ(std::string(sent.error().Message()).find("p%40ss"), std::string::npos);
}

}  // namespace
}  // namespace pgwarden::mail
