//! neon_auth.verification: the one-time secrets of the e-mail flows (reset tokens, OTP codes, magic links,
//! delete-account tokens, session verifiers). Rows are written in Better Auth's `storeIdentifier: "hashed"` /
//! `storeOTP: "hashed"` form, so the database never holds a usable secret (TK-01) and a Better Auth configured
//! that way reads them: identifier = base64url(SHA-256("<purpose><secret>")), OTP values
//! "base64url(SHA-256(code)):<failed attempts>". Rows written by a stock Better Auth (plain identifiers and
//! codes) are still accepted on input. Every consume is one atomic statement (DELETE … RETURNING, or a row
//! lock), so N parallel uses of one secret give exactly one success (TK-03).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "auth/stores.hpp"

namespace pgwarden::auth {

//! Better Auth's defaultKeyHasher: base64url(SHA-256(text)), no padding.
std::string HashIdentifier(std::string_view text);

//! Stores a new secret; with `replace_value`, first removes the live rows that carry that value (a new reset
//! request invalidates the older links of the same user, TK-02).
asio::awaitable<Result<void>> InsertVerification(Conn& c, std::string_view identifier, std::string_view value,
                                                 EpochMs expires_at, EpochMs now, bool replace_value = false);

//! Atomically removes the live row for `identifier` (hashed form, or plain as Better Auth writes it) and
//! returns its value. With `required_value`, only a row carrying exactly that value is consumed.
asio::awaitable<Result<std::optional<std::string>>> ConsumeVerification(
    Conn& c, std::string_view identifier, EpochMs now, std::optional<std::string_view> required_value = std::nullopt);

//! The value of the live row for `identifier`, without consuming it.
asio::awaitable<Result<std::optional<std::string>>> PeekVerification(Conn& c, std::string_view identifier, EpochMs now);

// ---- one-time codes (email OTP) ----

//! Result of issuing a code: either stored, or refused because one was issued less than `resend_interval`
//! ago (the caller answers 429 with `retry_after_s`).
struct OtpIssue {
  bool issued = false;
  int retry_after_s = 0;
};
//! Replaces the code for `identifier` unless the live one is younger than `resend_interval_s` (0 = always).
asio::awaitable<Result<OtpIssue>> IssueOtp(Conn& c, std::string_view identifier, std::string_view code,
                                           EpochMs expires_at, EpochMs now, std::int64_t resend_interval_s);

enum class OtpCheck { kOk, kInvalid, kExpired, kTooManyAttempts };
//! Checks `code` against the live code for `identifier` under a row lock: a match is consumed when `consume`;
//! a mismatch counts one failed attempt; a code with `max_attempts` failures (or expired) is deleted and
//! refused. Better Auth's semantics: 3 wrong answers give INVALID_OTP, the 4th try TOO_MANY_ATTEMPTS.
asio::awaitable<Result<OtpCheck>> CheckOtp(Conn& c, std::string_view identifier, std::string_view code,
                                           int max_attempts, bool consume, EpochMs now);

//! The Better Auth identifier of an email OTP: "<type>-otp-<email>".
inline std::string OtpIdentifier(std::string_view type, std::string_view email) {
  std::string id(type);
  id += "-otp-";
  id += email;
  return id;
}

// ---- session verifiers (the hand-off of sdk-contract §4 / §4.5) ----

//! Issues a single-use verifier for a session, bound to `challenge_hash` (HashIdentifier of the challenge
//! cookie's value; empty = unbound): the exchange then needs that cookie.
asio::awaitable<Result<std::string>> IssueSessionVerifier(Conn& c, std::string_view session_id,
                                                          std::string_view challenge_hash, EpochMs now);
struct VerifiedSession {
  SessionWithUser session;
  std::string challenge_hash;  //!< HashIdentifier(challenge), or empty when none was bound
};
//! Consumes the verifier; nullopt when unknown, used or expired (or its session has ended).
asio::awaitable<Result<std::optional<VerifiedSession>>> ConsumeSessionVerifier(Conn& c, std::string_view verifier,
                                                                                EpochMs now);

}  // namespace pgwarden::auth
