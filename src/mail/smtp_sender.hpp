//! SMTP delivery with libcurl (OpenSSL backend). Settings come from one URL (PGWARDEN_SMTP_URL):
//!   smtp://[user:pass@]host[:port][?starttls=…]       port 587 by default; STARTTLS when the server offers
//!                                                      it, mandatory with starttls=required and whenever
//!                                                      credentials are given (clear text only with an explicit
//!                                                      starttls=optional)
//!   smtps://user:pass@host[:port]                      implicit TLS, port 465 by default
//! User and password are percent-decoded; both are optional (no AUTH without them). TLS peers are always
//! verified (system CAs, or `ca_file` for tests). `Send` blocks for at most the total timeout; it is meant for
//! the Outbox's worker thread. One curl handle per Send: no state is shared between calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "mail/sender.hpp"

namespace pgwarden::mail {

enum class SmtpTls {
  kStartTlsIfOffered,  //!< smtp:// (curl CURLUSESSL_TRY)
  kStartTlsRequired,   //!< smtp://...?starttls=required (CURLUSESSL_ALL)
  kImplicit,           //!< smtps://
};

struct SmtpSettings {
  std::string host;  //!< as in the URL; IPv6 literals keep their brackets
  std::uint16_t port = 0;
  SmtpTls tls = SmtpTls::kStartTlsIfOffered;
  std::string username;
  std::string password;  //!< never logged, never in an error message
  std::string ca_file;   //!< CURLOPT_CAINFO override; empty = system store
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{30'000};
};

//! Parses PGWARDEN_SMTP_URL. Errors (kValidationError) never quote the URL, which may hold the password.
Result<SmtpSettings> ParseSmtpUrl(std::string_view url);

class SmtpSender final : public Sender {
 public:
  explicit SmtpSender(SmtpSettings settings);
  Result<void> Send(const Message& message) override;
  std::string_view Name() const override { return "smtp"; }

 private:
  SmtpSettings settings_;
};

}  // namespace pgwarden::mail
