#include "mail/smtp_sender.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <mutex>

#include "core/text.hpp"

namespace pgwarden::mail {
namespace {

Error Invalid(std::string message) { return MakeError(ErrorCode::kValidationError, std::move(message)); }

struct CurlDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

//! The upload cursor over the rendered message.
struct Upload {
  std::string_view data;
  std::size_t offset = 0;
};

std::size_t ReadCallback(char* buffer, std::size_t size, std::size_t nitems, void* userdata) {
  auto* up = static_cast<Upload*>(userdata);
  const std::size_t n = std::min(size * nitems, up->data.size() - up->offset);
  std::memcpy(buffer, up->data.data() + up->offset, n);
  up->offset += n;
  return n;
}

//! Removes every occurrence of `secret` from `text` (defence in depth: curl never sees the password in a URL, but a
//! server might echo something back).
std::string Redact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  for (std::size_t pos = text.find(secret); pos != text.npos; pos = text.find(secret, pos)) {
    text.replace(pos, secret.size(), "<redacted>");
    pos += 10;
  }
  return text;
}

}  // namespace

Result<SmtpSettings> ParseSmtpUrl(std::string_view url) {
  SmtpSettings s;
  std::string_view rest;
  if (StartsWith(url, "smtp://")) {
    rest = url.substr(7);
    s.port = 587;
  } else if (StartsWith(url, "smtps://")) {
    rest = url.substr(8);
    s.port = 465;
    s.tls = SmtpTls::kImplicit;
  } else {
    return Invalid("SMTP URL must start with smtp:// or smtps://");
  }
  std::string_view query;
  if (const std::size_t q = rest.find('?'); q != rest.npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (const std::size_t slash = rest.find('/'); slash != rest.npos) {
    if (rest.substr(slash) != "/") return Invalid("SMTP URL must not have a path");
    rest = rest.substr(0, slash);
  }
  // The password may contain a literal '@' when not encoded: the host is after the last one.
  if (const std::size_t at = rest.rfind('@'); at != rest.npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const std::size_t colon = userinfo.find(':');
    auto user = PercentDecode(userinfo.substr(0, colon));
    if (!user) return Invalid("SMTP URL: bad percent-encoding in the user name");
    s.username = std::move(*user);
    if (colon != userinfo.npos) {
      auto pass = PercentDecode(userinfo.substr(colon + 1));
      if (!pass) return Invalid("SMTP URL: bad percent-encoding in the password");
      s.password = std::move(*pass);
    }
  }
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close == rest.npos) return Invalid("SMTP URL: unterminated IPv6 address");
    s.host = std::string(rest.substr(0, close + 1));
    rest = rest.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Invalid("SMTP URL: unexpected text after the host");
      port = rest.substr(1);
      if (port.empty()) return Invalid("SMTP URL: empty port");
    }
  } else {
    const std::size_t colon = rest.find(':');
    s.host = std::string(rest.substr(0, colon));
    if (colon != rest.npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) return Invalid("SMTP URL: empty port");
    }
  }
  if (s.host.empty() || s.host == "[]") return Invalid("SMTP URL: missing host");
  for (const unsigned char c : s.host) {
    if (c <= 0x20 || c == 0x7f || c == '/' || c == '@' || c == '?' || c == '#') {
      return Invalid("SMTP URL: invalid character in the host");
    }
  }
  if (!port.empty()) {
    unsigned value = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return Invalid("SMTP URL: invalid port");
    }
    s.port = static_cast<std::uint16_t>(value);
  }
  bool optional_asked = false;
  for (const std::string_view param : Split(query, '&')) {
    if (param.empty()) continue;
    if (param == "starttls=required" && s.tls == SmtpTls::kStartTlsIfOffered) {
      s.tls = SmtpTls::kStartTlsRequired;
    } else if (param == "starttls=optional" && s.tls == SmtpTls::kStartTlsIfOffered) {
      optional_asked = true;
    } else {
      return Invalid("SMTP URL: unsupported parameter (only starttls=required|optional on smtp://)");
    }
  }
  // Credentials never travel in clear unless the operator asked for it: with a user or password, smtp:// needs
  // STARTTLS (a relay that does not offer it fails loudly) unless starttls=optional is spelled out.
  if ((!s.username.empty() || !s.password.empty()) && s.tls == SmtpTls::kStartTlsIfOffered && !optional_asked)
    s.tls = SmtpTls::kStartTlsRequired;
  return s;
}

SmtpSender::SmtpSender(SmtpSettings settings) : settings_(std::move(settings)) { GlobalInit(); }

Result<void> SmtpSender::Send(const Message& message) {
  auto rendered = RenderMessage(message);
  if (!rendered) return rendered.error();
  auto from = ParseMailbox(message.from);
  auto to = ParseMailbox(message.to);
  if (!from || !to) return Invalid("invalid envelope address");

  const std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return MakeError(ErrorCode::kServiceUnavailable, "smtp: curl_easy_init failed");
  CURL* h = curl.get();
  // Credentials go through CURLOPT_USERNAME/PASSWORD, never into the URL, so no curl message can show them.
  const std::string url = std::string(settings_.tls == SmtpTls::kImplicit ? "smtps://" : "smtp://") +
                          settings_.host + ":" + std::to_string(settings_.port);
  const std::string mail_from = "<" + from->address + ">";
  const std::string rcpt_to = "<" + to->address + ">";
  const std::unique_ptr<curl_slist, SlistDeleter> rcpt(curl_slist_append(nullptr, rcpt_to.c_str()));
  Upload upload{*rendered, 0};
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // worker thread: no SIGALRM-based DNS timeouts
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.total_timeout.count()));
  // smtps:// is TLS from the first byte; smtp:// upgrades with STARTTLS, mandatory only when asked (an
  // opportunistic upgrade would send AUTH in clear to a server that does not offer STARTTLS).
  if (settings_.tls == SmtpTls::kStartTlsIfOffered) {
    curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
  } else if (settings_.tls == SmtpTls::kStartTlsRequired) {
    curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  }
  // Peers are always verified, whatever the mode: a test CA is passed as a file, never by turning checks off.
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!settings_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, settings_.ca_file.c_str());
  if (!settings_.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, settings_.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, settings_.password.c_str());
  }
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(h, CURLOPT_READFUNCTION, &ReadCallback);
  curl_easy_setopt(h, CURLOPT_READDATA, &upload);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(rendered->size()));

  const CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_OK) return {};
  long response = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response);
  std::string what = "smtp: ";
  what += errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  if (response != 0) what += " (server replied " + std::to_string(response) + ")";
  what = Redact(std::move(what), settings_.password);
  // 5xx is the server's final word on this message (refused recipient, bad sender); everything else (4xx,
  // network, TLS, timeouts, authentication hiccups) may pass on a later attempt.
  const bool permanent = response >= 500 && response < 600 && rc != CURLE_LOGIN_DENIED;
  return MakeError(permanent ? ErrorCode::kBadRequest : ErrorCode::kServiceUnavailable, std::move(what));
}

}  // namespace pgwarden::mail
