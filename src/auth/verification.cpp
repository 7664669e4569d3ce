#include "auth/verification.hpp"

#include "core/json.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/random.hpp"

namespace pgwarden::auth {
namespace {
constexpr std::int64_t kVerifierTtlS = 180;  // Better Auth's one-time-token lifetime (3 min)
constexpr std::size_t kVerifierLength = 43;   // ≈ 256 bits of [A-Za-z0-9]

// Shaped like a stored hash: 43 characters of the base64url alphabet.
bool LooksHashed(std::string_view s) {
  if (s.size() != 43) return false;
  for (const char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// The two spellings a row may have: pgwarden's hashed one and stock Better Auth's plain one. The plain one is
// left out when it could itself be a stored hash: whoever read a hashed identifier from the database must not be
// able to present it as the secret (a magic-link identifier is the bare token).
std::string IdentifierArray(std::string_view identifier) {
  std::vector<std::string> ids{HashIdentifier(identifier)};
  if (!LooksHashed(identifier)) ids.emplace_back(identifier);
  return db::TextArrayLiteral(ids);
}
}  // namespace

std::string HashIdentifier(std::string_view text) { return crypto::Base64UrlEncode(crypto::Sha256(text)); }

asio::awaitable<Result<void>> InsertVerification(Conn& c, std::string_view identifier, std::string_view value,
                                                 EpochMs expires_at, EpochMs now, bool replace_value) {
  const std::string id = HashIdentifier(identifier);
  const std::string exp_s = FormatIso8601Ms(expires_at), now_s = FormatIso8601Ms(now);
  auto r = co_await c.Query(
      "WITH d AS (DELETE FROM neon_auth.verification WHERE $5::bool AND value = $2) "
      "INSERT INTO neon_auth.verification (identifier, value, \"expiresAt\", \"createdAt\", \"updatedAt\") "
      "VALUES ($1, $2, $3::timestamptz, $4::timestamptz, $4::timestamptz)",
      db::Params(id, value, exp_s, now_s, replace_value ? "true" : "false"));
  if (!r) co_return r.error();
  co_return Result<void>();
}

asio::awaitable<Result<std::optional<std::string>>> ConsumeVerification(Conn& c, std::string_view identifier,
                                                                        EpochMs now,
                                                                        std::optional<std::string_view> required_value) {
  const std::string ids = IdentifierArray(identifier);
  const std::string now_s = FormatIso8601Ms(now);
  // Expired rows for the identifier go too (they can never be used again).
  auto rows = co_await c.Query(
      "WITH gone AS (DELETE FROM neon_auth.verification WHERE identifier = ANY($1::text[]) "
      "AND ($3::text IS NULL OR value = $3 OR \"expiresAt\" <= $2::timestamptz) "
      "RETURNING value, \"expiresAt\" > $2::timestamptz AS live) "
      "SELECT value FROM gone WHERE live AND ($3::text IS NULL OR value = $3) LIMIT 1",
      db::Params(ids, now_s, required_value));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return std::optional<std::string>();
  co_return std::optional<std::string>(std::string(rows->Text(0, 0)));
}

asio::awaitable<Result<std::optional<std::string>>> PeekVerification(Conn& c, std::string_view identifier,
                                                                     EpochMs now) {
  const std::string ids = IdentifierArray(identifier);
  const std::string now_s = FormatIso8601Ms(now);
  auto rows = co_await c.Query(
      "SELECT value FROM neon_auth.verification WHERE identifier = ANY($1::text[]) AND \"expiresAt\" > $2::timestamptz "
      "ORDER BY \"createdAt\" DESC LIMIT 1",
      db::Params(ids, now_s));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return std::optional<std::string>();
  co_return std::optional<std::string>(std::string(rows->Text(0, 0)));
}

asio::awaitable<Result<OtpIssue>> IssueOtp(Conn& c, std::string_view identifier, std::string_view code,
                                           EpochMs expires_at, EpochMs now, std::int64_t resend_interval_s) {
  const std::string ids = IdentifierArray(identifier);
  const std::string id = HashIdentifier(identifier);
  const std::string value = HashIdentifier(code) + ":0";
  const std::string exp_s = FormatIso8601Ms(expires_at), now_s = FormatIso8601Ms(now);
  const std::string interval = std::to_string(resend_interval_s);
  // A live code younger than the resend interval blocks a new one; otherwise every older row of the identifier
  // is replaced (the previous code stops working, TK-07).
  auto rows = co_await c.Query(
      "WITH recent AS (SELECT \"createdAt\" FROM neon_auth.verification WHERE identifier = ANY($1::text[]) "
      "AND \"expiresAt\" > $5::timestamptz AND \"createdAt\" > $5::timestamptz - make_interval(secs => $6::int) "
      "ORDER BY \"createdAt\" DESC LIMIT 1), "
      "d AS (DELETE FROM neon_auth.verification WHERE identifier = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM recent)), "
      "i AS (INSERT INTO neon_auth.verification (identifier, value, \"expiresAt\", \"createdAt\", \"updatedAt\") "
      "SELECT $2, $3, $4::timestamptz, $5::timestamptz, $5::timestamptz WHERE NOT EXISTS (SELECT 1 FROM recent) RETURNING 1) "
      "SELECT (SELECT count(*) FROM i), "
      "(SELECT ceil(extract(epoch from (\"createdAt\" + make_interval(secs => $6::int) - $5::timestamptz)))::int FROM recent)",
      db::Params(ids, id, value, exp_s, now_s, interval));
  if (!rows) co_return rows.error();
  OtpIssue out;
  out.issued = rows->Int64(0, 0) > 0;
  if (!out.issued) out.retry_after_s = rows->IsNull(0, 1) ? 1 : std::max<int>(1, static_cast<int>(rows->Int64(0, 1)));
  co_return out;
}

asio::awaitable<Result<OtpCheck>> CheckOtp(Conn& c, std::string_view identifier, std::string_view code,
                                           int max_attempts, bool consume, EpochMs now) {
  const std::string ids = IdentifierArray(identifier);
  const std::string hashed = HashIdentifier(code);
  // The plain comparison (rows of stock Better Auth) only for digits: a submitted hash never matches itself.
  const bool digits = !code.empty() && code.find_first_not_of("0123456789") == std::string_view::npos;
  const std::string plain = digits ? std::string(code) : hashed;
  const std::string now_s = FormatIso8601Ms(now);
  const std::string max_s = std::to_string(max_attempts);
  // One statement under a row lock: concurrent checks of one code are serialised, each sees the attempts the
  // previous one counted (RL-06), and a matching code is consumed by exactly one of them (TK-03). The stored code
  // is the hash (pgwarden) or the plain digits (a row written by stock Better Auth).
  auto rows = co_await c.Query(
      "WITH cur AS (SELECT v.id, v.\"expiresAt\" <= $4::timestamptz AS expired, "
      "regexp_replace(v.value, ':[^:]*$', '') AS code, "
      "CASE WHEN v.value ~ ':[0-9]{1,6}$' THEN substring(v.value from ':([0-9]{1,6})$')::int ELSE 0 END AS attempts "
      "FROM neon_auth.verification v WHERE v.identifier = ANY($1::text[]) "
      "ORDER BY v.\"createdAt\" DESC LIMIT 1 FOR UPDATE), "
      "verdict AS (SELECT id, code, expired, attempts, "
      "NOT expired AND attempts < $5::int AND (code = $2 OR code = $3) AS ok FROM cur), "
      "del AS (DELETE FROM neon_auth.verification v USING verdict d WHERE v.id = d.id "
      "AND (d.expired OR d.attempts >= $5::int OR (d.ok AND $6::bool))), "
      "upd AS (UPDATE neon_auth.verification v SET value = d.code || ':' || (d.attempts + 1), "
      "\"updatedAt\" = $4::timestamptz FROM verdict d WHERE v.id = d.id AND NOT d.ok AND NOT d.expired "
      "AND d.attempts < $5::int) "
      "SELECT expired, attempts >= $5::int, ok FROM verdict",
      db::Params(ids, hashed, plain, now_s, max_s, consume ? "true" : "false"));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return OtpCheck::kInvalid;
  if (rows->Bool(0, 0)) co_return OtpCheck::kExpired;
  if (rows->Bool(0, 1)) co_return OtpCheck::kTooManyAttempts;
  co_return rows->Bool(0, 2) ? OtpCheck::kOk : OtpCheck::kInvalid;
}

asio::awaitable<Result<std::string>> IssueSessionVerifier(Conn& c, std::string_view session_id,
                                                          std::string_view challenge_hash, EpochMs now) {
  std::string verifier = crypto::RandomString(kVerifierLength);
  std::string value = "{\"sessionId\":";
  AppendJsonString(value, session_id);
  value += ",\"challenge\":";
  AppendJsonString(value, challenge_hash);
  value += '}';
  auto r = co_await InsertVerification(c, "session-verifier:" + verifier, value, now + kVerifierTtlS * 1000, now);
  if (!r) co_return r.error();
  co_return verifier;
}

asio::awaitable<Result<std::optional<VerifiedSession>>> ConsumeSessionVerifier(Conn& c, std::string_view verifier,
                                                                                EpochMs now) {
  // Only the hashed spelling: verifiers are pgwarden's own (Neon's hand-off), never written in plain.
  const std::string id = HashIdentifier("session-verifier:" + std::string(verifier));
  const std::string now_s = FormatIso8601Ms(now);
  auto rows = co_await c.Query(
      "DELETE FROM neon_auth.verification WHERE identifier = $1 RETURNING value, \"expiresAt\" > $2::timestamptz",
      db::Params(id, now_s));
  if (!rows) co_return rows.error();
  if (rows->Empty() || !rows->Bool(0, 1)) co_return std::optional<VerifiedSession>();
  boost::system::error_code ec;
  const json::value v = json::parse(rows->Text(0, 0), ec);
  if (ec || !v.is_object()) co_return std::optional<VerifiedSession>();
  const auto* sid = v.as_object().if_contains("sessionId");
  const auto* ch = v.as_object().if_contains("challenge");
  if (!sid || !sid->is_string()) co_return std::optional<VerifiedSession>();
  const std::string session_id(sid->as_string());
  auto found = co_await FindSessionById(c, session_id);
  if (!found) co_return found.error();
  if (!*found) co_return std::optional<VerifiedSession>();
  VerifiedSession out{std::move(**found), ch && ch->is_string() ? std::string(ch->as_string()) : std::string()};
  co_return std::optional<VerifiedSession>(std::move(out));
}

}  // namespace pgwarden::auth
