//! An outgoing e-mail and its RFC 5322 / MIME rendering. `Message` holds plain values (mailboxes as
//! "a@b.example" or "Display Name <a@b.example>", UTF-8 subject and bodies); `RenderMessage` turns it into the
//! bytes handed to SMTP: CRLF line endings, Date, Message-ID, MIME-Version, a multipart/alternative body with
//! text/plain and text/html parts in UTF-8 quoted-printable (text/plain alone when there is no HTML), and RFC 2047
//! encoded words for non-ASCII subjects and display names. A CR, LF or NUL in any header value is refused, so no
//! caller input can add a header or a recipient. Pure: no I/O, no globals (randomness only for ids left empty).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace pgwarden::mail {

//! One message to one recipient.
struct Message {
  std::string from;        //!< "a@b.example" or "Name <a@b.example>"
  std::string to;          //!< same forms
  std::string subject;     //!< UTF-8
  std::string text;        //!< UTF-8 plain-text body (LF or CRLF line ends)
  std::string html;        //!< UTF-8 HTML body; empty = text/plain only
  std::string message_id;  //!< "<token@domain>"; empty = generated at render time (the Outbox sets it once so
                           //!< that retries carry the same id)
};

//! A parsed mailbox: the optional display name and the bare address used for the SMTP envelope.
struct Mailbox {
  std::string display_name;
  std::string address;
};

//! Parses "a@b.example" or "Name <a@b.example>" ("\"Quoted, Name\" <a@b>" too). Refuses control characters,
//! whitespace or <>()[],;:"\ inside the address, and anything without exactly one '@' with non-empty sides.
Result<Mailbox> ParseMailbox(std::string_view mailbox);

//! A fresh "<32 hex chars@domain>" for the domain of `from` ("localhost" when it cannot be parsed).
std::string GenerateMessageId(std::string_view from);

//! Fixed values for reproducible output (tests); empty/absent fields are generated.
struct RenderOptions {
  std::optional<std::chrono::system_clock::time_point> date;
  std::string boundary;
};

//! The full message (headers, blank line, body), CRLF everywhere. Errors (kValidationError) for a bad mailbox or
//! a CR/LF/NUL in a header value.
Result<std::string> RenderMessage(const Message& message, const RenderOptions& options = {});

//! RFC 2045 quoted-printable of UTF-8 text: lines end in CRLF (LF and CRLF input both become hard breaks), soft
//! breaks keep every line within 76 characters, trailing white space and a leading '.' are encoded.
std::string EncodeQuotedPrintable(std::string_view text);

//! The value of an unstructured header (Subject): unchanged when it is printable ASCII that fits on a line, else
//! RFC 2047 "=?UTF-8?B?...?=" words of at most 75 characters, split on UTF-8 character boundaries and folded with
//! CRLF SP.
std::string EncodeHeaderText(std::string_view text);

//! RFC 5322 date in UTC: "Fri, 27 Nov 2026 14:59:13 +0000".
std::string FormatRfc5322Date(std::chrono::system_clock::time_point t);

}  // namespace pgwarden::mail
