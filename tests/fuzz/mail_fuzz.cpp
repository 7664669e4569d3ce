//! mail: ParseSmtpUrl (PGWARDEN_SMTP_URL), ParseMailbox + RenderMessage (RFC 5322 / MIME output),
//! EncodeQuotedPrintable and the built-in Templates, all on the same input. The input is tried whole as an SMTP
//! URL (and as the password of fixed URLs) and as quoted-printable text; split on 0x1e it is a message
//! (from, to, subject, text, html, message_id) rendered with a fixed date and boundary, and template values
//! (app_name, email, new_email, url, code, expires_minutes) for every built-in template. Properties:
//!  - ParseSmtpUrl: a parsed host is non-empty without control characters, space, '/', '@', '?', '#'; the port
//!    is 1..65535; credentials with smtp:// mean STARTTLS required unless starttls=optional is spelled out; the
//!    settings re-serialise (percent-encoded credentials) and re-parse to the same settings; user and password
//!    are the percent-decoded parts of the documented grammar. An error never shows the password: the error is
//!    the same when every letter/digit/punctuation byte of the password is swapped for another of its class,
//!    and a canary at the start of the password never appears in it;
//!  - ParseMailbox: an accepted address has one '@' with non-empty sides, no control/space/<>()[],;:"\ bytes;
//!    the display name has no control character;
//!  - RenderMessage fails exactly for a CR/LF/NUL in the subject or message id, a bad mailbox, or an id not
//!    in <...>. A rendered message has CRLF line ends only and no NUL; its header block holds each header of a
//!    known-good render exactly once (the set for text-only and for multipart) and no other header line;
//!    continuation lines start with a space and are not blank; From/To re-parse to the same mailbox, Subject and
//!    non-ASCII display names decode (RFC 2047) back to the input; Date/Message-ID are the fixed/generated ones;
//!    body lines are <= 998 bytes; the multipart body has exactly the two part delimiters and the close
//!    delimiter; every part decodes back to its text (CRLF normalised to LF);
//!  - EncodeQuotedPrintable: strict RFC 2045 output (lines <= 76, '=' only as =XX upper-case hex or a final soft
//!    break, no trailing white space, printable ASCII only, no line starting with '.') that decodes back to the
//!    input with CRLF normalised to LF;
//!  - Templates::Render: every part equals the built-in rendered with sentinel values, each sentinel replaced by
//!    the value (text), its HTML escape (html) or its control-free form (subject). Hence: the subject has no C0,
//!    DEL or C1 control; the HTML has exactly the template's own raw '<' '>' '"' (none comes from a value); every
//!    value used by the text part appears in it verbatim; every "{{" left lies inside an inserted value; the
//!    result renders as a message (from a fixed sender to the e-mail value when that is a mailbox).
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.hpp"
#include "fuzz_check.hpp"
#include "mail/message.hpp"
#include "mail/smtp_sender.hpp"
#include "mail/templates.hpp"

using namespace pgwarden;
using namespace pgwarden::mail;

namespace {

constexpr char kSep = '\x1e';
// "=_" cannot occur in quoted-printable output: the boundary shape RenderMessage generates ("=_pgw_" + hex).
constexpr std::string_view kBoundary = "=_pgw_0123456789abcdef01234567";
constexpr std::string_view kDateText = "Fri, 27 Nov 2026 14:59:13 +0000";
const std::chrono::system_clock::time_point kDate{std::chrono::seconds(1'795'791'553)};
constexpr std::string_view kCanary = "PWcanary7";
constexpr std::string_view kFrom = "App <noreply@example.com>";

bool IsPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

std::string Normalize(std::string_view s) {  // CRLF -> LF
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out += s[i];
  }
  return out;
}

std::vector<std::string_view> Lines(std::string_view s) {  // split on CRLF
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t pos = s.find("\r\n", start);
    if (pos == s.npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 2;
  }
}

std::size_t CountChar(std::string_view s, char c) {  // memchr, not an instrumented loop
  std::size_t n = 0;
  for (std::size_t p = s.find(c); p != s.npos; p = s.find(c, p + 1)) ++n;
  return n;
}

int UpperHex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ---- quoted-printable ------------------------------------------------------------------------------------------

//! Strict decoder of RenderMessage's quoted-printable; checks the RFC 2045 shape of every line on the way. Hard
//! line breaks decode to LF.
std::string DecodeQp(std::string_view qp) {
  FUZZ_CHECK(qp.find('\0') == qp.npos);
  const auto lines = Lines(qp);
  std::string out;
  for (std::size_t li = 0; li < lines.size(); ++li) {
    const std::string_view line = lines[li];
    FUZZ_CHECK(line.size() <= 76);
    FUZZ_CHECK(line.find_first_of("\r\n") == line.npos);
    FUZZ_CHECK(line.empty() || (line.back() != ' ' && line.back() != '\t'));
    FUZZ_CHECK(line.empty() || line.front() != '.');  // documented: a leading '.' is encoded
    const bool soft = !line.empty() && line.back() == '=';
    FUZZ_CHECK(!soft || li + 1 < lines.size());  // the text never ends in a soft break
    const std::size_t end = soft ? line.size() - 1 : line.size();
    for (std::size_t i = 0; i < end; ++i) {
      const unsigned char c = static_cast<unsigned char>(line[i]);
      if (c == '=') {
        FUZZ_CHECK(i + 2 < end);  // "=XX" whole, before a soft break's '='
        const int hi = UpperHex(line[i + 1]), lo = UpperHex(line[i + 2]);
        FUZZ_CHECK(hi >= 0 && lo >= 0);
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
      } else {
        FUZZ_CHECK((c >= 33 && c <= 126) || c == ' ' || c == '\t');
        out += static_cast<char>(c);
      }
    }
    if (!soft && li + 1 < lines.size()) out += '\n';
  }
  return out;
}

void CheckQuotedPrintable(std::string_view text) {
  const std::string qp = EncodeQuotedPrintable(text);
  FUZZ_CHECK(DecodeQp(qp) == Normalize(text));
}

// ---- RFC 2047 / base64 -----------------------------------------------------------------------------------------

std::optional<std::string> DecodeBase64(std::string_view s) {
  constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (s.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 4) {
    std::uint32_t v = 0;
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = s[i + k];
      if (c == '=' && k >= 2 && i + 4 == s.size()) {
        ++pad;
        v <<= 6;
        continue;
      }
      if (pad > 0) return std::nullopt;
      const std::size_t d = kAlphabet.find(c);
      if (d == kAlphabet.npos) return std::nullopt;
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out += static_cast<char>((v >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
  }
  return out;
}

//! "=?UTF-8?B?...?= =?UTF-8?B?...?=" (unfolded) -> the bytes; nullopt when not exactly such words.
std::optional<std::string> DecodeWords(std::string_view s) {
  constexpr std::string_view kPrefix = "=?UTF-8?B?", kSuffix = "?=";
  if (s.empty()) return std::nullopt;
  std::string out;
  for (const std::string_view word : Split(s, ' ')) {
    if (word.size() > 75 || word.size() < kPrefix.size() + kSuffix.size() || !word.starts_with(kPrefix) ||
        !word.ends_with(kSuffix)) {
      return std::nullopt;
    }
    auto bytes = DecodeBase64(word.substr(kPrefix.size(), word.size() - kPrefix.size() - kSuffix.size()));
    if (!bytes || bytes->empty()) return std::nullopt;
    out += *bytes;
  }
  return out;
}

// ---- mailboxes and messages ------------------------------------------------------------------------------------

void CheckMailbox(std::string_view input, const Result<Mailbox>& mb) {
  if (!mb) return;
  const std::string& a = mb->address;
  FUZZ_CHECK(!a.empty() && a.size() <= 254);
  for (const unsigned char c : a) {
    FUZZ_CHECK(c > 0x20 && c != 0x7f);
    FUZZ_CHECK(std::string_view("<>()[],;:\"\\").find(static_cast<char>(c)) == std::string_view::npos);
  }
  const std::size_t at = a.find('@');
  FUZZ_CHECK(at != a.npos && at > 0 && at + 1 < a.size() && a.find('@', at + 1) == a.npos);
  for (const unsigned char c : mb->display_name) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
  if (Trim(input).empty() || Trim(input).back() != '>') FUZZ_CHECK(mb->display_name.empty() && a == Trim(input));
}

struct HeaderSets {
  std::vector<std::string> plain, multipart;
};

std::vector<std::string> HeaderNames(std::string_view rendered) {
  std::vector<std::string> names;
  const std::size_t end = rendered.find("\r\n\r\n");
  FUZZ_CHECK(end != rendered.npos);
  for (const std::string_view line : Lines(rendered.substr(0, end))) {
    if (line.empty() || line.front() == ' ') continue;
    names.emplace_back(line.substr(0, line.find(':')));
  }
  return names;
}

//! The header names a known-good render emits, with and without an HTML part.
const HeaderSets& KnownHeaders() {
  static const HeaderSets sets = [] {
    Message m{std::string(kFrom), "user@example.com", "Hi", "text", "<p>html</p>", "<id@example.com>"};
    const RenderOptions opts{kDate, std::string(kBoundary)};
    auto multipart = RenderMessage(m, opts);
    m.html.clear();
    auto plain = RenderMessage(m, opts);
    FUZZ_CHECK(multipart && plain);
    HeaderSets s{HeaderNames(*plain), HeaderNames(*multipart)};
    for (const auto* set : {&s.plain, &s.multipart}) {
      for (const std::string_view must : {"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"}) {
        FUZZ_CHECK(std::count(set->begin(), set->end(), must) == 1);
      }
    }
    return s;
  }();
  return sets;
}

void CheckAddressHeader(std::string_view value, const Mailbox& original) {
  const auto again = ParseMailbox(value);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->address == original.address);
  if (IsPrintableAscii(original.display_name)) {
    // Quoted names keep their blanks; an unquoted (atext) name loses leading/trailing ones (not significant).
    FUZZ_CHECK(again->display_name == original.display_name || again->display_name == Trim(original.display_name));
  } else {
    FUZZ_CHECK(DecodeWords(again->display_name) == original.display_name);
  }
}

//! One MIME part "headers CRLF CRLF content": the declared type and the decoded content.
void CheckPart(std::string_view part, std::string_view type, std::string_view expected) {
  const std::size_t end = part.find("\r\n\r\n");
  FUZZ_CHECK(end != part.npos);
  const std::string_view headers = part.substr(0, end);
  FUZZ_CHECK(headers.starts_with("Content-Type: " + std::string(type) + ";"));
  FUZZ_CHECK(headers.find("Content-Transfer-Encoding: quoted-printable") != headers.npos);
  FUZZ_CHECK(DecodeQp(part.substr(end + 4)) == Normalize(expected));
}

void CheckRendered(const std::string& out, const Message& m, const Mailbox& from, const Mailbox& to) {
  // CRLF only, no NUL, anywhere.
  FUZZ_CHECK(out.find('\0') == out.npos);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\r') FUZZ_CHECK(i + 1 < out.size() && out[i + 1] == '\n');
    if (out[i] == '\n') FUZZ_CHECK(i > 0 && out[i - 1] == '\r');
  }
  FUZZ_CHECK(out.ends_with("\r\n"));
  const std::size_t header_end = out.find("\r\n\r\n");
  FUZZ_CHECK(header_end != out.npos);

  // Header block: known names once each, folded lines start with a space and are not blank.
  const std::vector<std::string>& expected = m.html.empty() ? KnownHeaders().plain : KnownHeaders().multipart;
  std::vector<int> seen(expected.size(), 0);
  std::vector<std::string> values(expected.size());
  std::size_t current = expected.size();
  const auto header_lines = Lines(std::string_view(out).substr(0, header_end));
  for (std::size_t li = 0; li < header_lines.size(); ++li) {
    const std::string_view line = header_lines[li];
    FUZZ_CHECK(!line.empty());
    if (line.front() == ' ') {
      FUZZ_CHECK(li > 0);
      FUZZ_CHECK(line.find_first_not_of(" \t") != line.npos);
      values[current] += line;  // unfolding: the CRLF goes, the space stays
      continue;
    }
    const std::size_t colon = line.find(": ");
    FUZZ_CHECK(colon != line.npos);
    const auto it = std::find(expected.begin(), expected.end(), line.substr(0, colon));
    FUZZ_CHECK(it != expected.end());
    current = static_cast<std::size_t>(it - expected.begin());
    ++seen[current];
    values[current] = std::string(line.substr(colon + 2));
  }
  for (const int n : seen) FUZZ_CHECK(n == 1);
  const auto value = [&](std::string_view name) -> const std::string& {
    return values[static_cast<std::size_t>(std::find(expected.begin(), expected.end(), name) - expected.begin())];
  };

  FUZZ_CHECK(value("Date") == kDateText);
  FUZZ_CHECK(value("MIME-Version") == "1.0");
  CheckAddressHeader(value("From"), from);
  CheckAddressHeader(value("To"), to);
  const std::string& subject = value("Subject");
  FUZZ_CHECK(IsPrintableAscii(subject));
  FUZZ_CHECK(subject == m.subject || DecodeWords(subject) == m.subject);
  if (!IsPrintableAscii(m.subject)) FUZZ_CHECK(subject != m.subject);
  const std::string& id = value("Message-ID");
  if (!m.message_id.empty()) {
    FUZZ_CHECK(id == m.message_id);
  } else {
    const std::string domain = from.address.substr(from.address.find('@') + 1);
    FUZZ_CHECK(id.size() == 1 + 32 + 1 + domain.size() + 1 && id.front() == '<' && id.back() == '>');
    FUZZ_CHECK(id.substr(33, 1) == "@" && id.substr(34, domain.size()) == domain);
    FUZZ_CHECK(id.substr(1, 32).find_first_not_of("0123456789abcdef") == std::string::npos);
  }

  // Body.
  const std::string_view body = std::string_view(out).substr(header_end + 4);
  for (const std::string_view line : Lines(body)) FUZZ_CHECK(line.size() <= 998);
  if (m.html.empty()) {
    FUZZ_CHECK(value("Content-Type").starts_with("text/plain;"));
    FUZZ_CHECK(DecodeQp(body.substr(0, body.size() - 2)) == Normalize(m.text));
    return;
  }
  FUZZ_CHECK(value("Content-Type") == "multipart/alternative; boundary=\"" + std::string(kBoundary) + "\"");
  const std::string delimiter = "--" + std::string(kBoundary);
  std::size_t delimiters = 0, closes = 0;
  for (const std::string_view line : Lines(body)) {
    delimiters += line == delimiter;
    closes += line == delimiter + "--";
  }
  FUZZ_CHECK(delimiters == 2 && closes == 1);
  const std::string open = delimiter + "\r\n", middle = "\r\n" + delimiter + "\r\n", close = "\r\n" + delimiter + "--\r\n";
  FUZZ_CHECK(body.starts_with(open) && body.ends_with(close));
  const std::size_t mid = body.find(middle);
  FUZZ_CHECK(mid != body.npos && mid + middle.size() <= body.size() - close.size());
  CheckPart(body.substr(open.size(), mid - open.size()), "text/plain", m.text);
  CheckPart(body.substr(mid + middle.size(), body.size() - close.size() - mid - middle.size()), "text/html", m.html);
}

void CheckMessage(const Message& m) {
  const auto from = ParseMailbox(m.from);
  const auto to = ParseMailbox(m.to);
  CheckMailbox(m.from, from);
  CheckMailbox(m.to, to);
  const auto bad = [](std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != s.npos; };
  const bool id_ok = m.message_id.empty() || (m.message_id.front() == '<' && m.message_id.back() == '>');
  const bool should_render = !bad(m.subject) && !bad(m.message_id) && from && to && id_ok;
  const auto out = RenderMessage(m, RenderOptions{kDate, std::string(kBoundary)});
  FUZZ_CHECK(out.has_value() == should_render);
  if (out) CheckRendered(*out, m, *from, *to);
}

// ---- SMTP URL --------------------------------------------------------------------------------------------------

//! [begin, end) of the password in `url` by the documented grammar: after "smtp(s)://", before the first '?'
//! and '/', userinfo up to the last '@', password after the first ':' of the userinfo.
std::optional<std::pair<std::size_t, std::size_t>> PasswordRange(std::string_view url) {
  std::size_t start;
  if (url.starts_with("smtp://")) {
    start = 7;
  } else if (url.starts_with("smtps://")) {
    start = 8;
  } else {
    return std::nullopt;
  }
  std::string_view rest = url.substr(start);
  rest = rest.substr(0, rest.find('?'));
  rest = rest.substr(0, rest.find('/'));
  const std::size_t at = rest.rfind('@');
  if (at == rest.npos) return std::nullopt;
  const std::size_t colon = rest.substr(0, at).find(':');
  if (colon == rest.npos) return std::nullopt;
  return std::pair{start + colon + 1, start + at};
}

//! Another byte of the same class, where the class cannot change how the URL splits or whether the password
//! percent-decodes ('0', '%', ':', '@', controls and space stay).
char Rotate(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  const auto cycle = [&](unsigned char lo, unsigned char hi) {
    return static_cast<char>(c == hi ? lo : c + 1);
  };
  if (c >= '1' && c <= '9') return cycle('1', '9');
  if (c >= 'a' && c <= 'f') return cycle('a', 'f');
  if (c >= 'A' && c <= 'F') return cycle('A', 'F');
  if (c >= 'g' && c <= 'z') return cycle('g', 'z');
  if (c >= 'G' && c <= 'Z') return cycle('G', 'Z');
  if (c >= 0x80) return cycle(0x80, 0xff);
  constexpr std::string_view kPunct = "!\"#$&'()*+,;<=>[\\]^_`{|}~-.";
  if (const std::size_t p = kPunct.find(ch); p != kPunct.npos) return kPunct[(p + 1) % kPunct.size()];
  return ch;
}

std::string Encode(std::string_view s) {
  constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Serialize(const SmtpSettings& s) {
  std::string url = s.tls == SmtpTls::kImplicit ? "smtps://" : "smtp://";
  const bool creds = !s.username.empty() || !s.password.empty();
  if (creds) {
    url += Encode(s.username);
    if (!s.password.empty()) url += ":" + Encode(s.password);
    url += "@";
  }
  url += s.host + ":" + std::to_string(s.port);
  if (s.tls == SmtpTls::kStartTlsRequired) url += "?starttls=required";
  if (s.tls == SmtpTls::kStartTlsIfOffered && creds) url += "?starttls=optional";
  return url;
}

void CheckSmtpUrl(std::string_view url, bool canary) {
  const auto r = ParseSmtpUrl(url);
  const auto range = PasswordRange(url);
  if (r) {
    const SmtpSettings& s = *r;
    FUZZ_CHECK(!s.host.empty() && s.host != "[]");
    for (const unsigned char c : s.host) {
      FUZZ_CHECK(c > 0x20 && c != 0x7f && c != '/' && c != '@' && c != '?' && c != '#');
    }
    FUZZ_CHECK(s.port >= 1);  // std::uint16_t: <= 65535
    FUZZ_CHECK((s.tls == SmtpTls::kImplicit) == url.starts_with("smtps://"));
    if ((!s.username.empty() || !s.password.empty()) && s.tls == SmtpTls::kStartTlsIfOffered) {
      FUZZ_CHECK(url.find("starttls=optional") != url.npos);
    }
    if (range) FUZZ_CHECK(PercentDecode(url.substr(range->first, range->second - range->first)) == s.password);
    // A raw NUL passes PercentDecode (only %00 is refused): such credentials cannot be spelled percent-encoded.
    if (s.username.find('\0') == std::string::npos && s.password.find('\0') == std::string::npos) {
      const auto again = ParseSmtpUrl(Serialize(s));
      FUZZ_CHECK(again.has_value());
      FUZZ_CHECK(again->host == s.host && again->port == s.port && again->tls == s.tls &&
                 again->username == s.username && again->password == s.password);
    }
    return;
  }
  const std::string message(r.error().Message());  // error() returns a copy
  FUZZ_CHECK(!message.empty());
  if (!range) return;
  std::string rotated(url);
  for (std::size_t i = range->first; i < range->second; ++i) rotated[i] = Rotate(rotated[i]);
  const auto r2 = ParseSmtpUrl(rotated);
  FUZZ_CHECK(!r2.has_value());
  FUZZ_CHECK(r2.error().Message() == message);  // the error does not depend on the password's bytes
  if (canary && url.substr(range->first).starts_with(kCanary)) FUZZ_CHECK(message.find(kCanary) == std::string::npos);
}

// ---- templates -------------------------------------------------------------------------------------------------

constexpr std::size_t kKinds = static_cast<std::size_t>(Template::kCount);

//! Sentinels: plain alphanumerics, unchanged by every context, found in no template.
const std::array<std::string, 6> kSentinels = {"Q7xAPPx7Q", "Q7xEMAILx7Q", "Q7xNEWx7Q", "Q7xURLx7Q", "Q7xCODEx7Q",
                                               "918273645"};

//! A built-in part rendered with the sentinels, cut into template text and value slots (done once: the
//! per-input expansion is then a concatenation).
struct Piece {
  std::string literal;
  int slot = -1;  //!< index into kSentinels, or -1 for literal text
};
using Pieces = std::vector<Piece>;

Pieces Cut(std::string_view rendered) {
  Pieces out;
  std::size_t i = 0;
  while (i < rendered.size()) {
    std::size_t best = rendered.npos;
    int slot = -1;
    for (std::size_t k = 0; k < kSentinels.size(); ++k) {
      const std::size_t p = rendered.find(kSentinels[k], i);
      if (p < best) best = p, slot = static_cast<int>(k);
    }
    if (best == rendered.npos) {
      out.push_back({std::string(rendered.substr(i)), -1});
      break;
    }
    if (best > i) out.push_back({std::string(rendered.substr(i, best - i)), -1});
    out.push_back({{}, slot});
    i = best + kSentinels[static_cast<std::size_t>(slot)].size();
  }
  return out;
}

struct SentinelPart {
  std::string rendered;
  Pieces pieces;
};
struct SentinelRender {
  std::array<std::array<SentinelPart, 3>, kKinds> parts;  //!< subject, text, html
};

const SentinelRender& Sentinels() {
  static const SentinelRender r = [] {
    const Templates t;
    const TemplateVars v{kSentinels[0], kSentinels[1], kSentinels[2], kSentinels[3], kSentinels[4], 918273645};
    SentinelRender out;
    for (std::size_t k = 0; k < kKinds; ++k) {
      const RenderedMail m = t.Render(static_cast<Template>(k), v);
      std::size_t i = 0;
      for (const std::string* p : {&m.subject, &m.text, &m.html}) {
        FUZZ_CHECK(p->find('{') == std::string::npos && p->find('}') == std::string::npos);
        FUZZ_CHECK(!p->empty());
        out.parts[k][i++] = {*p, Cut(*p)};
      }
    }
    return out;
  }();
  return r;
}

enum class Ctx { kSubject, kText, kHtml };

std::string Transform(std::string_view v, Ctx ctx) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (ctx == Ctx::kText) {
      out += v[i];
    } else if (ctx == Ctx::kHtml) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += v[i];
      }
    } else if (c < 0x20 || c == 0x7f) {  // subject: C0 and DEL, and C1 in UTF-8 form, become a space
      out += ' ';
    } else if (c == 0xc2 && i + 1 < v.size() && static_cast<unsigned char>(v[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(v[i + 1]) <= 0x9f) {
      out += ' ';
      ++i;
    } else {
      out += v[i];
    }
  }
  return out;
}

struct Expected {
  std::string text;
  std::vector<std::pair<std::size_t, std::size_t>> spans;  //!< where values were inserted
  std::array<bool, 6> used{};
};

Expected Expand(const SentinelPart& part, const std::array<std::string, 6>& values, Ctx ctx) {
  Expected e;
  for (const Piece& piece : part.pieces) {
    if (piece.slot < 0) {
      e.text += piece.literal;
      continue;
    }
    const auto k = static_cast<std::size_t>(piece.slot);
    const std::string v = Transform(values[k], ctx);
    e.spans.emplace_back(e.text.size(), e.text.size() + v.size());
    e.text += v;
    e.used[k] = true;
  }
  return e;
}

void CheckTemplates(const std::vector<std::string_view>& f, std::size_t pick) {
  static const Templates templates;
  const auto field = [&](std::size_t i) { return i < f.size() ? std::string(f[i]) : std::string(); };
  TemplateVars vars{field(0), field(1), field(2), field(3), field(4), 15};
  if (f.size() > 5) {
    int n = 0;
    const auto [end, ec] = std::from_chars(f[5].data(), f[5].data() + f[5].size(), n);
    if (ec == std::errc() && end == f[5].data() + f[5].size()) vars.expires_minutes = n;
  }
  const std::array<std::string, 6> values = {vars.app_name, vars.email, vars.new_email,
                                             vars.url,      vars.code,  std::to_string(vars.expires_minutes)};
  for (std::size_t k = 0; k < kKinds; ++k) {
    const RenderedMail got = templates.Render(static_cast<Template>(k), vars);
    const auto& ref = Sentinels().parts[k];  // subject, text, html

    // Subject: one header line whatever the values hold.
    for (std::size_t i = 0; i < got.subject.size(); ++i) {
      const auto c = static_cast<unsigned char>(got.subject[i]);
      FUZZ_CHECK(c >= 0x20 && c != 0x7f);
      FUZZ_CHECK(!(c == 0xc2 && i + 1 < got.subject.size() && static_cast<unsigned char>(got.subject[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(got.subject[i + 1]) <= 0x9f));
    }
    FUZZ_CHECK(got.subject == Expand(ref[0], values, Ctx::kSubject).text);

    // Text: the values verbatim, in one pass.
    const Expected text = Expand(ref[1], values, Ctx::kText);
    FUZZ_CHECK(got.text == text.text);
    for (std::size_t v = 0; v < values.size(); ++v) {
      if (text.used[v]) FUZZ_CHECK(got.text.find(values[v]) != std::string::npos);
    }
    for (std::size_t p = got.text.find("{{"); p != std::string::npos; p = got.text.find("{{", p + 1)) {
      FUZZ_CHECK(std::any_of(text.spans.begin(), text.spans.end(),
                             [&](const auto& s) { return s.first <= p && p + 2 <= s.second; }));
    }

    // HTML: values escaped, so the only raw < > " are the template's.
    const Expected html = Expand(ref[2], values, Ctx::kHtml);
    FUZZ_CHECK(got.html == html.text);
    for (const char c : {'<', '>', '"'}) FUZZ_CHECK(CountChar(got.html, c) == CountChar(ref[2].rendered, c));
    for (std::size_t p = got.html.find("{{"); p != std::string::npos; p = got.html.find("{{", p + 1)) {
      FUZZ_CHECK(std::any_of(html.spans.begin(), html.spans.end(),
                             [&](const auto& s) { return s.first <= p && p + 2 <= s.second; }));
    }

    // As the Mailer sends it: from the configured sender to the address the values name.
    if (k == pick % kKinds) {
      const Message m{std::string(kFrom), ParseMailbox(vars.email) ? vars.email : "user@example.com", got.subject,
                      got.text, got.html, ""};
      const auto out = RenderMessage(m, RenderOptions{kDate, std::string(kBoundary)});
      FUZZ_CHECK(out.has_value());
      CheckRendered(*out, m, *ParseMailbox(m.from), *ParseMailbox(m.to));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = pgwarden::fuzz::AsView(data, size);

  // --- the input as PGWARDEN_SMTP_URL, and as the password of fixed URLs ----------------------------------
  CheckSmtpUrl(in, false);
  CheckSmtpUrl("smtp://u:" + std::string(kCanary) + std::string(in) + "@h", true);
  CheckSmtpUrl("smtps://user:" + std::string(kCanary) + std::string(in) + "@mail.example.com:2465", true);
  CheckSmtpUrl("smtp://user:" + std::string(kCanary) + std::string(in) + "@[::1]:2525?starttls=required", true);

  // --- the input as body text ---------------------------------------------------------------------------
  CheckQuotedPrintable(in);

  // --- the input as message fields / template values ----------------------------------------------------
  const auto f = Split(in, kSep);
  const auto field = [&](std::size_t i, std::string_view dflt) { return std::string(i < f.size() ? f[i] : dflt); };
  Message m{field(0, kFrom), field(1, "user@example.com"), field(2, ""), field(3, ""), field(4, ""), field(5, "")};
  CheckMessage(m);
  CheckTemplates(f, size);
  return 0;
}
