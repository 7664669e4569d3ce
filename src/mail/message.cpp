#include "mail/message.hpp"

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <random>

#include "core/text.hpp"

namespace pgwarden::mail {
namespace {

constexpr std::string_view kHexUpper = "0123456789ABCDEF";
constexpr std::string_view kHexLower = "0123456789abcdef";
constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::size_t kQpLineLimit = 76;
constexpr std::size_t kEncodedWordLimit = 75;
constexpr std::size_t kHeaderLineLimit = 78;

Error Invalid(std::string message) { return MakeError(ErrorCode::kValidationError, std::move(message)); }

//! CR, LF and NUL end a header line (or the string, in some MTA): none may reach a header value.
bool HasLineBreakOrNul(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != s.npos; }

bool IsPrintableAscii(std::string_view s) {
  for (const unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

//! Hex of `n` bytes from std::random_device (ids only need uniqueness, not secrecy: no CSPRNG dependency here).
std::string RandomHex(std::size_t n) {
  std::random_device rd;
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned v = rd() & 0xffu;
    out += kHexLower[v >> 4];
    out += kHexLower[v & 0xf];
  }
  return out;
}

std::string Base64(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                            static_cast<unsigned char>(in[i + 2]);
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += kBase64[v & 63];
  }
  if (const std::size_t rest = in.size() - i; rest > 0) {
    std::uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += rest == 2 ? kBase64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

//! RFC 5322 atext plus space: a display name made only of these needs no quoting.
bool IsPhraseSafe(std::string_view s) {
  for (const char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ' ||
                    std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::string FormatMailbox(const Mailbox& m) {
  if (m.display_name.empty()) return m.address;
  std::string out;
  if (!IsPrintableAscii(m.display_name)) {
    out = EncodeHeaderText(m.display_name);
  } else if (IsPhraseSafe(m.display_name)) {
    out = m.display_name;
  } else {
    out += '"';
    for (const char c : m.display_name) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += " <";
  out += m.address;
  out += '>';
  return out;
}

bool IsValidAddress(std::string_view a) {
  if (a.empty() || a.size() > 254) return false;
  for (const unsigned char c : a) {
    if (c <= 0x20 || c == 0x7f) return false;
    if (std::string_view("<>()[],;:\"\\").find(static_cast<char>(c)) != std::string_view::npos) return false;
  }
  const std::size_t at = a.find('@');
  return at != a.npos && at > 0 && at + 1 < a.size() && a.find('@', at + 1) == a.npos;
}

void AppendHeader(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void AppendPart(std::string& out, std::string_view boundary, std::string_view content_type, std::string_view body) {
  out += "--";
  out += boundary;
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  out += EncodeQuotedPrintable(body);
  out += "\r\n";
}

}  // namespace

Result<Mailbox> ParseMailbox(std::string_view mailbox) {
  if (HasLineBreakOrNul(mailbox)) return Invalid("mailbox contains a line break");
  Mailbox out;
  const std::string_view trimmed = Trim(mailbox);
  if (!trimmed.empty() && trimmed.back() == '>') {
    const std::size_t open = trimmed.rfind('<');
    if (open == trimmed.npos) return Invalid("mailbox has '>' without '<'");
    out.address = std::string(trimmed.substr(open + 1, trimmed.size() - open - 2));
    std::string_view name = Trim(trimmed.substr(0, open));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
      for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '\\' && i + 1 < name.size()) ++i;
        out.display_name += name[i];
      }
    } else {
      out.display_name = std::string(name);
    }
    for (const unsigned char c : out.display_name) {
      if (c < 0x20 || c == 0x7f) return Invalid("display name contains a control character");
    }
  } else {
    out.address = std::string(trimmed);
  }
  if (!IsValidAddress(out.address)) return Invalid("invalid e-mail address");
  return out;
}

std::string GenerateMessageId(std::string_view from) {
  std::string domain = "localhost";
  if (auto mb = ParseMailbox(from); mb) domain = mb->address.substr(mb->address.find('@') + 1);
  return "<" + RandomHex(16) + "@" + domain + ">";
}

std::string FormatRfc5322Date(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  const std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);  // "C" locale names
  return std::string(buf, n);
}

std::string EncodeQuotedPrintable(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8 + 8);
  std::size_t col = 0;
  // Appends one already-encoded token ("a" or "=E2"), inserting a soft break so the line (with its '=') stays <= 76.
  const auto put = [&](std::string_view token) {
    if (col + token.size() > kQpLineLimit - 1) {
      out += "=\r\n";
      col = 0;
    }
    out += token;
    col += token.size();
  };
  std::size_t i = 0;
  while (i <= text.size()) {
    const std::size_t eol = std::min(text.find('\n', i), text.size());
    std::string_view line = text.substr(i, eol - i);
    if (!line.empty() && line.back() == '\r' && eol < text.size()) line.remove_suffix(1);
    for (std::size_t j = 0; j < line.size(); ++j) {
      const unsigned char c = static_cast<unsigned char>(line[j]);
      const bool last = j + 1 == line.size();
      // White space before a line end would be stripped in transit; a leading '.' could be taken for SMTP's
      // end of data by a careless relay: both are encoded.
      // (A '.' that put() would move past a soft break also starts a line.)
      const bool line_start = col == 0 || col + 1 > kQpLineLimit - 1;
      const bool literal = (c >= 33 && c <= 126 && c != '=' && !(c == '.' && line_start)) ||
                           ((c == ' ' || c == '\t') && !last);
      if (literal) {
        const char ch = static_cast<char>(c);
        put(std::string_view(&ch, 1));
      } else {
        const char enc[3] = {'=', kHexUpper[c >> 4], kHexUpper[c & 0xf]};
        put(std::string_view(enc, 3));
      }
    }
    if (eol >= text.size()) break;
    out += "\r\n";
    col = 0;
    i = eol + 1;
  }
  return out;
}

std::string EncodeHeaderText(std::string_view text) {
  // "Subject: " takes 9 columns of the 78 recommended.
  if (IsPrintableAscii(text) && text.size() + 9 <= kHeaderLineLimit) return std::string(text);
  constexpr std::string_view kPrefix = "=?UTF-8?B?";
  constexpr std::string_view kSuffix = "?=";
  // 75 - 12 = 63 base64 characters at most -> 45 bytes of UTF-8 per word.
  constexpr std::size_t kMaxBytes = (kEncodedWordLimit - kPrefix.size() - kSuffix.size()) / 4 * 3;
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = std::min(kMaxBytes, text.size() - i);
    // Never split a UTF-8 sequence across two words (RFC 2047 section 5): back up over continuation bytes.
    while (n > 0 && i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xc0) == 0x80) --n;
    if (n == 0) n = std::min(kMaxBytes, text.size() - i);
    if (!out.empty()) out += "\r\n ";
    out += kPrefix;
    out += Base64(text.substr(i, n));
    out += kSuffix;
    i += n;
  }
  return out;
}

Result<std::string> RenderMessage(const Message& message, const RenderOptions& options) {
  if (HasLineBreakOrNul(message.subject)) return Invalid("subject contains a line break");
  if (HasLineBreakOrNul(message.message_id)) return Invalid("message id contains a line break");
  auto from = ParseMailbox(message.from);
  if (!from) return Invalid("from: " + std::string(from.error().Message()));
  auto to = ParseMailbox(message.to);
  if (!to) return Invalid("to: " + std::string(to.error().Message()));
  if (!message.message_id.empty() && (message.message_id.front() != '<' || message.message_id.back() != '>')) {
    return Invalid("message id must be <...>");
  }

  std::string out;
  out.reserve(512 + message.text.size() * 11 / 10 + message.html.size() * 11 / 10);
  AppendHeader(out, "Date", FormatRfc5322Date(options.date.value_or(std::chrono::system_clock::now())));
  AppendHeader(out, "From", FormatMailbox(*from));
  AppendHeader(out, "To", FormatMailbox(*to));
  AppendHeader(out, "Subject", EncodeHeaderText(message.subject));
  AppendHeader(out, "Message-ID", message.message_id.empty() ? GenerateMessageId(message.from) : message.message_id);
  AppendHeader(out, "MIME-Version", "1.0");
  if (message.html.empty()) {
    AppendHeader(out, "Content-Type", "text/plain; charset=UTF-8");
    AppendHeader(out, "Content-Transfer-Encoding", "quoted-printable");
    out += "\r\n";
    out += EncodeQuotedPrintable(message.text);
    out += "\r\n";
    return out;
  }
  // "=_" cannot occur in quoted-printable output ('=' is always followed by a hex digit or CRLF), so the boundary
  // can never collide with a body line.
  const std::string boundary = options.boundary.empty() ? "=_pgw_" + RandomHex(12) : options.boundary;
  AppendHeader(out, "Content-Type", "multipart/alternative; boundary=\"" + boundary + "\"");
  out += "\r\n";
  AppendPart(out, boundary, "text/plain", message.text);
  AppendPart(out, boundary, "text/html", message.html);
  out += "--";
  out += boundary;
  out += "--\r\n";
  return out;
}

}  // namespace pgwarden::mail
