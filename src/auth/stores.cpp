#include "auth/stores.hpp"

#include "auth/verification.hpp"
#include "core/json.hpp"

namespace pgwarden::auth {
namespace {

#define PGW_MS(col) "floor(extract(epoch from " col ") * 1000)::int8"

constexpr const char* kUserCols =
    "u.id::text, u.name, u.email, u.\"emailVerified\", u.image, " PGW_MS("u.\"createdAt\"") ", " PGW_MS(
        "u.\"updatedAt\"") ", u.\"isAnonymous\", u.role, u.banned, u.\"banReason\", " PGW_MS("u.\"banExpires\"");
constexpr int kUserColCount = 12;

constexpr const char* kSessionCols =
    "s.id::text, s.token, s.\"userId\"::text, " PGW_MS("s.\"expiresAt\"") ", " PGW_MS("s.\"createdAt\"") ", " PGW_MS(
        "s.\"updatedAt\"") ", s.\"ipAddress\", s.\"userAgent\", s.\"activeOrganizationId\", s.\"impersonatedBy\"";

std::optional<std::string> OptString(const db::Rows& r, int row, int col) {
  if (r.IsNull(row, col)) return std::nullopt;
  return std::string(r.Text(row, col));
}
std::optional<bool> OptBool(const db::Rows& r, int row, int col) {
  if (r.IsNull(row, col)) return std::nullopt;
  return r.Bool(row, col);
}

UserRow ReadUser(const db::Rows& r, int row, int c) {
  UserRow u;
  u.id = r.Text(row, c + 0);
  u.name = r.Text(row, c + 1);
  u.email = r.Text(row, c + 2);
  u.email_verified = r.Bool(row, c + 3);
  u.image = OptString(r, row, c + 4);
  u.created_at = r.Int64(row, c + 5);
  u.updated_at = r.Int64(row, c + 6);
  u.is_anonymous = OptBool(r, row, c + 7);
  u.role = OptString(r, row, c + 8);
  u.banned = OptBool(r, row, c + 9);
  u.ban_reason = OptString(r, row, c + 10);
  if (!r.IsNull(row, c + 11)) u.ban_expires = r.Int64(row, c + 11);
  return u;
}

SessionRow ReadSession(const db::Rows& r, int row, int c) {
  SessionRow s;
  s.id = r.Text(row, c + 0);
  s.token = r.Text(row, c + 1);
  s.user_id = r.Text(row, c + 2);
  s.expires_at = r.Int64(row, c + 3);
  s.created_at = r.Int64(row, c + 4);
  s.updated_at = r.Int64(row, c + 5);
  s.ip_address = OptString(r, row, c + 6);
  s.user_agent = OptString(r, row, c + 7);
  s.active_organization_id = OptString(r, row, c + 8);
  s.impersonated_by = OptString(r, row, c + 9);
  return s;
}

void AppendOptString(std::string& out, const std::optional<std::string>& v) {
  if (v) AppendJsonString(out, *v);
  else out += "null";
}
void AppendOptBool(std::string& out, const std::optional<bool>& v) {
  out += v ? (*v ? "true" : "false") : "null";
}
void AppendTime(std::string& out, EpochMs ms) {
  out += '"';
  out += FormatIso8601Ms(ms);
  out += '"';
}

// Function-local statics built with this are initialised once, thread-safely.
std::string Concat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const auto p : parts) out += p;
  return out;
}


// Statement texts, built once at start-up (not inside coroutines: g++ 12 mishandles initializer lists there).
const std::string kSql0 = Concat({"SELECT ", kSessionCols, ", ", kUserCols,
            " FROM neon_auth.session s JOIN neon_auth.\"user\" u ON u.id = s.\"userId\" WHERE s.token = $1"});
const std::string kSql1 = Concat({"SELECT ", kUserCols,
            ", (SELECT a.password FROM neon_auth.account a WHERE a.\"userId\" = u.id AND a.\"providerId\" = "
            "'credential' ORDER BY a.\"createdAt\" LIMIT 1) FROM neon_auth.\"user\" u WHERE u.email = $1"});
const std::string kSql2 = Concat({"WITH u AS (INSERT INTO neon_auth.\"user\" (name, email, \"emailVerified\", image, \"createdAt\", "
            "\"updatedAt\", \"isAnonymous\", role, banned) VALUES ($1, $2, false, $3, $4::timestamptz, "
            "$4::timestamptz, false, 'user', false) RETURNING *), "
            "a AS (INSERT INTO neon_auth.account (\"accountId\", \"providerId\", \"userId\", password, \"createdAt\", "
            "\"updatedAt\") SELECT u.id::text, 'credential', u.id, $5::text, $4::timestamptz, $4::timestamptz FROM u), "
            "s AS (INSERT INTO neon_auth.session (\"expiresAt\", token, \"createdAt\", \"updatedAt\", \"ipAddress\", "
            "\"userAgent\", \"userId\") SELECT $7::timestamptz, $6::text, $4::timestamptz, $4::timestamptz, $8::text, $9::text, u.id "
            "FROM u WHERE $6::text IS NOT NULL RETURNING *) "
            "SELECT ", kUserCols, ", ", kSessionCols, " FROM u LEFT JOIN s ON true"});
const std::string kSql3 = Concat({"INSERT INTO neon_auth.session AS s (\"expiresAt\", token, \"createdAt\", \"updatedAt\", \"ipAddress\", "
            "\"userAgent\", \"userId\") VALUES ($1::timestamptz, $2, $3::timestamptz, $3::timestamptz, $4, $5, "
            "$6::uuid) RETURNING ",
            kSessionCols});
const std::string kSql4 = Concat({"UPDATE neon_auth.session s SET \"expiresAt\" = $2::timestamptz, \"updatedAt\" = $3::timestamptz "
            "WHERE s.id = $1::uuid RETURNING ",
            kSessionCols});
const std::string kSql5 = Concat({"SELECT ", kSessionCols,
            " FROM neon_auth.session s WHERE s.\"userId\" = $1::uuid AND s.\"expiresAt\" > $2::timestamptz "
            "ORDER BY s.\"createdAt\""});
const std::string kSql6 = Concat({"UPDATE neon_auth.\"user\" u SET name = COALESCE($2, u.name), "
            "image = CASE WHEN $3::bool THEN $4 ELSE u.image END, \"updatedAt\" = $5::timestamptz "
            "WHERE u.id = $1::uuid RETURNING ",
            kUserCols});

}  // namespace

std::string UserJson(const UserRow& u) {
  std::string out;
  out.reserve(320);
  out += "{\"name\":";
  AppendJsonString(out, u.name);
  out += ",\"email\":";
  AppendJsonString(out, u.email);
  out += ",\"emailVerified\":";
  out += u.email_verified ? "true" : "false";
  out += ",\"image\":";
  AppendOptString(out, u.image);
  out += ",\"createdAt\":";
  AppendTime(out, u.created_at);
  out += ",\"updatedAt\":";
  AppendTime(out, u.updated_at);
  out += ",\"isAnonymous\":";
  AppendOptBool(out, u.is_anonymous);
  out += ",\"role\":";
  AppendOptString(out, u.role);
  out += ",\"banned\":";
  AppendOptBool(out, u.banned);
  out += ",\"banReason\":";
  AppendOptString(out, u.ban_reason);
  out += ",\"banExpires\":";
  if (u.ban_expires) AppendTime(out, *u.ban_expires);
  else out += "null";
  out += ",\"id\":";
  AppendJsonString(out, u.id);
  out += '}';
  return out;
}

std::string SessionJson(const SessionRow& s) {
  std::string out;
  out.reserve(320);
  out += "{\"expiresAt\":";
  AppendTime(out, s.expires_at);
  out += ",\"token\":";
  AppendJsonString(out, s.token);
  out += ",\"createdAt\":";
  AppendTime(out, s.created_at);
  out += ",\"updatedAt\":";
  AppendTime(out, s.updated_at);
  out += ",\"ipAddress\":";
  AppendOptString(out, s.ip_address);
  out += ",\"userAgent\":";
  AppendOptString(out, s.user_agent);
  out += ",\"userId\":";
  AppendJsonString(out, s.user_id);
  out += ",\"activeOrganizationId\":";
  AppendOptString(out, s.active_organization_id);
  out += ",\"impersonatedBy\":";
  AppendOptString(out, s.impersonated_by);
  out += ",\"id\":";
  AppendJsonString(out, s.id);
  out += '}';
  return out;
}

asio::awaitable<Result<std::optional<SessionWithUser>>> FindSessionByToken(Conn& c, std::string_view token) {
    const std::string& sql = kSql0;
  auto rows = co_await c.Query(sql, db::Params(token));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return std::optional<SessionWithUser>();
  co_return SessionWithUser{ReadSession(*rows, 0, 0), ReadUser(*rows, 0, 10)};
}

asio::awaitable<Result<std::optional<UserWithPassword>>> FindUserByEmail(Conn& c, std::string_view email) {
    const std::string& sql = kSql1;
  auto rows = co_await c.Query(sql, db::Params(email));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return std::optional<UserWithPassword>();
  co_return UserWithPassword{ReadUser(*rows, 0, 0), OptString(*rows, 0, kUserColCount)};
}

asio::awaitable<Result<std::optional<std::string>>> FindPasswordHash(Conn& c, std::string_view user_id) {
  auto rows = co_await c.Query(
      "SELECT password FROM neon_auth.account WHERE \"userId\" = $1::uuid AND \"providerId\" = 'credential' "
      "ORDER BY \"createdAt\" LIMIT 1",
      db::Params(user_id));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return std::optional<std::string>();
  co_return OptString(*rows, 0, 0);
}

asio::awaitable<Result<bool>> ReplacePasswordHash(Conn& c, std::string_view user_id, std::string_view old_hash,
                                                  std::string_view new_hash, EpochMs now) {
  // Compare-and-set on the hash itself: salts are random, so the old text names exactly the row that was verified.
  const std::string now_s = FormatIso8601Ms(now);
  auto rows = co_await c.Query(
      "UPDATE neon_auth.account SET password = $3, \"updatedAt\" = $4::timestamptz "
      "WHERE \"userId\" = $1::uuid AND \"providerId\" = 'credential' AND password = $2 RETURNING 1",
      db::Params(user_id, old_hash, new_hash, now_s));
  if (!rows) co_return rows.error();
  co_return !rows->Empty();
}

asio::awaitable<Result<bool>> EmailExists(Conn& c, std::string_view email) {
  auto rows = co_await c.Query("SELECT 1 FROM neon_auth.\"user\" WHERE email = $1", db::Params(email));
  if (!rows) co_return rows.error();
  co_return !rows->Empty();
}

asio::awaitable<Result<std::pair<UserRow, std::optional<SessionRow>>>> CreateUserWithPassword(
    Conn& c, std::string_view name, std::string_view email, std::optional<std::string_view> image,
    std::string_view password_hash, EpochMs now, const std::optional<NewSession>& session) {
    // One statement: user, credential account and (optionally) the first session commit together.
  const std::string& sql = kSql2;
  const std::string now_s = FormatIso8601Ms(now);
  const std::string exp_s = session ? FormatIso8601Ms(session->expires_at) : std::string();
  auto rows = co_await c.Query(
      sql, db::Params(name, email, image, now_s, password_hash, session ? db::Param(session->token) : std::nullopt,
            session ? db::Param(exp_s) : std::nullopt, session ? db::Param(session->ip_address) : std::nullopt,
            session ? db::Param(session->user_agent) : std::nullopt));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return MakeError(ErrorCode::kFailedToCreateUser);
  std::optional<SessionRow> s;
  if (!rows->IsNull(0, kUserColCount)) s = ReadSession(*rows, 0, kUserColCount);
  co_return std::make_pair(ReadUser(*rows, 0, 0), std::move(s));
}

asio::awaitable<Result<SessionRow>> InsertSession(Conn& c, std::string_view user_id, const NewSession& ns,
                                                  EpochMs now) {
    const std::string& sql = kSql3;
  const std::string exp_s = FormatIso8601Ms(ns.expires_at), now_s = FormatIso8601Ms(now);
  auto rows = co_await c.Query(sql, db::Params(exp_s, ns.token, now_s, ns.ip_address, ns.user_agent, user_id));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return MakeError(ErrorCode::kFailedToCreateSession);
  co_return ReadSession(*rows, 0, 0);
}

asio::awaitable<Result<SessionRow>> ExtendSession(Conn& c, std::string_view session_id, EpochMs expires_at,
                                                  EpochMs now) {
    const std::string& sql = kSql4;
  const std::string exp_s = FormatIso8601Ms(expires_at), now_s = FormatIso8601Ms(now);
  auto rows = co_await c.Query(sql, db::Params(session_id, exp_s, now_s));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return MakeError(ErrorCode::kFailedToGetSession);
  co_return ReadSession(*rows, 0, 0);
}

asio::awaitable<Result<void>> DeleteSessionByToken(Conn& c, std::string_view token) {
  auto r = co_await c.Query("DELETE FROM neon_auth.session WHERE token = $1", db::Params(token));
  if (!r) co_return r.error();
  co_return Result<void>();
}

asio::awaitable<Result<void>> DeleteUserSessionByToken(Conn& c, std::string_view user_id, std::string_view token) {
  auto r = co_await c.Query("DELETE FROM neon_auth.session WHERE token = $2 AND \"userId\" = $1::uuid",
                            db::Params(user_id, token));
  if (!r) co_return r.error();
  co_return Result<void>();
}

asio::awaitable<Result<void>> DeleteUserSessions(Conn& c, std::string_view user_id,
                                                 std::optional<std::string_view> except_token) {
  auto r = co_await c.Query(
      "DELETE FROM neon_auth.session WHERE \"userId\" = $1::uuid AND ($2::text IS NULL OR token <> $2)",
      db::Params(user_id, except_token));
  if (!r) co_return r.error();
  co_return Result<void>();
}

asio::awaitable<Result<std::vector<SessionRow>>> ListUserSessions(Conn& c, std::string_view user_id, EpochMs now) {
    const std::string& sql = kSql5;
  const std::string now_s = FormatIso8601Ms(now);
  auto rows = co_await c.Query(sql, db::Params(user_id, now_s));
  if (!rows) co_return rows.error();
  std::vector<SessionRow> out;
  for (int i = 0; i < rows->Size(); ++i) out.push_back(ReadSession(*rows, i, 0));
  co_return out;
}

asio::awaitable<Result<UserRow>> UpdateUserProfile(Conn& c, std::string_view user_id,
                                                   std::optional<std::string_view> name,
                                                   std::optional<std::optional<std::string_view>> image, EpochMs now) {
    const std::string& sql = kSql6;
  const std::string now_s = FormatIso8601Ms(now);
  auto rows = co_await c.Query(sql, db::Params(user_id, name, image ? "true" : "false",
                                     image ? *image : std::nullopt, now_s));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return MakeError(ErrorCode::kUserNotFound);
  co_return ReadUser(*rows, 0, 0);
}

asio::awaitable<Result<std::optional<SessionRow>>> ChangePasswordAndRotate(Conn& c, std::string_view user_id,
                                                                           std::string_view password_hash, bool revoke,
                                                                           const NewSession& ns, EpochMs now) {
  // Password, revocation and the replacement session commit together or not at all.
  static const std::string sql = Concat(
      {"WITH a AS (UPDATE neon_auth.account SET password = $2, \"updatedAt\" = $3::timestamptz "
       "WHERE \"userId\" = $1::uuid AND \"providerId\" = 'credential' RETURNING 1), "
       "d AS (DELETE FROM neon_auth.session WHERE \"userId\" = $1::uuid AND $4::bool AND EXISTS (SELECT 1 FROM a)), "
       "s AS (INSERT INTO neon_auth.session (\"expiresAt\", token, \"createdAt\", \"updatedAt\", \"ipAddress\", "
       "\"userAgent\", \"userId\") SELECT $5::timestamptz, $6::text, $3::timestamptz, $3::timestamptz, $7::text, $8::text, "
       "$1::uuid WHERE $4::bool AND EXISTS (SELECT 1 FROM a) RETURNING *) "
       "SELECT (SELECT count(*) FROM a), ",
       kSessionCols, " FROM (SELECT 1) one LEFT JOIN s ON true"});
  const std::string now_s = FormatIso8601Ms(now), exp_s = FormatIso8601Ms(ns.expires_at);
  auto rows = co_await c.Query(sql, db::Params(user_id, password_hash, now_s, revoke ? "true" : "false", exp_s, ns.token,
                                     ns.ip_address, ns.user_agent));
  if (!rows) co_return rows.error();
  if (rows->Empty() || rows->Int64(0, 0) == 0) co_return MakeError(ErrorCode::kCredentialAccountNotFound);
  if (rows->IsNull(0, 1)) co_return std::optional<SessionRow>();
  co_return std::optional<SessionRow>(ReadSession(*rows, 0, 1));
}

asio::awaitable<Result<void>> DeleteUser(Conn& c, std::string_view user_id) {
  // Sessions, accounts and memberships go with the user (ON DELETE CASCADE).
  auto r = co_await c.Query("DELETE FROM neon_auth.\"user\" WHERE id = $1::uuid", db::Params(user_id));
  if (!r) co_return r.error();
  co_return Result<void>();
}

asio::awaitable<Result<std::vector<AccountRow>>> ListAccounts(Conn& c, std::string_view user_id) {
  auto rows = co_await c.Query(
      "SELECT id::text, \"accountId\", \"providerId\", \"userId\"::text, scope, " PGW_MS("\"createdAt\"") ", " PGW_MS(
          "\"updatedAt\"") " FROM neon_auth.account WHERE \"userId\" = $1::uuid ORDER BY \"createdAt\"",
      db::Params(user_id));
  if (!rows) co_return rows.error();
  std::vector<AccountRow> out;
  for (int i = 0; i < rows->Size(); ++i) {
    AccountRow a;
    a.id = rows->Text(i, 0);
    a.account_id = rows->Text(i, 1);
    a.provider_id = rows->Text(i, 2);
    a.user_id = rows->Text(i, 3);
    a.scope = OptString(*rows, i, 4);
    a.created_at = rows->Int64(i, 5);
    a.updated_at = rows->Int64(i, 6);
    out.push_back(std::move(a));
  }
  co_return out;
}

asio::awaitable<Result<std::optional<SessionWithUser>>> FindSessionById(Conn& c, std::string_view session_id) {
  static const std::string sql = Concat({"SELECT ", kSessionCols, ", ", kUserCols,
                                         " FROM neon_auth.session s JOIN neon_auth.\"user\" u ON u.id = s.\"userId\" "
                                         "WHERE s.id::text = $1 AND s.\"expiresAt\" > now()"});
  auto rows = co_await c.Query(sql, db::Params(session_id));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return std::optional<SessionWithUser>();
  co_return SessionWithUser{ReadSession(*rows, 0, 0), ReadUser(*rows, 0, 10)};
}

asio::awaitable<Result<std::optional<UserRow>>> FindUserById(Conn& c, std::string_view user_id) {
  static const std::string sql = Concat({"SELECT ", kUserCols, " FROM neon_auth.\"user\" u WHERE u.id::text = $1"});
  auto rows = co_await c.Query(sql, db::Params(user_id));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return std::optional<UserRow>();
  co_return std::optional<UserRow>(ReadUser(*rows, 0, 0));
}

asio::awaitable<Result<std::optional<UserRow>>> MarkEmailVerified(Conn& c, std::string_view user_id,
                                                                  std::string_view expected_email,
                                                                  std::optional<std::string_view> new_email,
                                                                  EpochMs now) {
  static const std::string sql = Concat(
      {"UPDATE neon_auth.\"user\" u SET \"emailVerified\" = true, email = COALESCE($3, u.email), "
       "\"updatedAt\" = $4::timestamptz WHERE u.id::text = $1 AND u.email = $2 "
       "AND (NOT u.\"emailVerified\" OR $3::text IS NOT NULL) RETURNING ",
       kUserCols});
  const std::string now_s = FormatIso8601Ms(now);
  auto rows = co_await c.Query(sql, db::Params(user_id, expected_email, new_email, now_s));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return std::optional<UserRow>();
  co_return std::optional<UserRow>(ReadUser(*rows, 0, 0));
}

asio::awaitable<Result<std::optional<ProvenUser>>> UpsertProvenUser(Conn& c, std::string_view email,
                                                                    std::string_view name,
                                                                    std::optional<std::string_view> image, bool create,
                                                                    EpochMs now) {
  // One statement: the insert, or the promotion of an unverified row (its password account and sessions
  // removed first), or the verified row as it is.
  static const std::string sql = Concat(
      {"WITH ins AS (INSERT INTO neon_auth.\"user\" (name, email, \"emailVerified\", \"createdAt\", \"updatedAt\", "
       "\"isAnonymous\", role, banned, image) SELECT $2, $1, true, $3::timestamptz, $3::timestamptz, false, 'user', false, $5 "
       "WHERE $4::bool ON CONFLICT (email) DO NOTHING RETURNING *), "
       "ex AS (SELECT * FROM neon_auth.\"user\" WHERE email = $1 AND NOT EXISTS (SELECT 1 FROM ins)), "
       "unproven AS (SELECT id FROM ex WHERE NOT \"emailVerified\"), "
       "da AS (DELETE FROM neon_auth.account a USING unproven p WHERE a.\"userId\" = p.id "
       "AND a.\"providerId\" = 'credential'), "
       "ds AS (DELETE FROM neon_auth.session s USING unproven p WHERE s.\"userId\" = p.id), "
       "upd AS (UPDATE neon_auth.\"user\" t SET \"emailVerified\" = true, \"updatedAt\" = $3::timestamptz "
       "FROM unproven p WHERE t.id = p.id RETURNING t.*) "
       "SELECT ", kUserCols, ", true FROM ins u UNION ALL SELECT ", kUserCols, ", false FROM upd u "
       "UNION ALL SELECT ", kUserCols, ", false FROM ex u WHERE u.\"emailVerified\""});
  const std::string now_s = FormatIso8601Ms(now);
  auto rows = co_await c.Query(sql, db::Params(email, name, now_s, create ? "true" : "false", image));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return std::optional<ProvenUser>();
  co_return std::optional<ProvenUser>(ProvenUser{ReadUser(*rows, 0, 0), rows->Bool(0, kUserColCount)});
}

namespace {
// The credential password of the user in `uid` (a CTE with one column `id`), set or created; optional session
// revocation and verification. Shared by SetPassword and ResetPasswordWithToken.
constexpr const char* kSetPasswordTail =
    "a AS (UPDATE neon_auth.account SET password = $2, \"updatedAt\" = $3::timestamptz "
    "WHERE \"userId\" = (SELECT id FROM uid) AND \"providerId\" = 'credential' RETURNING 1), "
    "i AS (INSERT INTO neon_auth.account (\"accountId\", \"providerId\", \"userId\", password, \"createdAt\", "
    "\"updatedAt\") SELECT id::text, 'credential', id, $2, $3::timestamptz, $3::timestamptz FROM uid "
    "WHERE NOT EXISTS (SELECT 1 FROM a)), "
    "s AS (DELETE FROM neon_auth.session WHERE \"userId\" = (SELECT id FROM uid) AND $4::bool), "
    "v AS (UPDATE neon_auth.\"user\" SET \"emailVerified\" = true, \"updatedAt\" = $3::timestamptz "
    "WHERE id = (SELECT id FROM uid) AND $5::bool AND NOT \"emailVerified\") "
    "SELECT id::text FROM uid";
}  // namespace

asio::awaitable<Result<void>> SetPassword(Conn& c, std::string_view user_id, std::string_view password_hash,
                                          bool revoke_sessions, bool mark_verified, EpochMs now) {
  static const std::string sql =
      Concat({"WITH uid AS (SELECT id FROM neon_auth.\"user\" WHERE id::text = $1), ", kSetPasswordTail});
  const std::string now_s = FormatIso8601Ms(now);
  auto rows = co_await c.Query(sql, db::Params(user_id, password_hash, now_s, revoke_sessions ? "true" : "false",
                                               mark_verified ? "true" : "false"));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return MakeError(ErrorCode::kUserNotFound);
  co_return Result<void>();
}

asio::awaitable<Result<std::optional<std::string>>> ResetPasswordWithToken(Conn& c, std::string_view identifier,
                                                                           std::string_view password_hash,
                                                                           bool revoke_sessions, EpochMs now) {
  static const std::string sql = Concat(
      {"WITH t AS (DELETE FROM neon_auth.verification WHERE identifier = ANY($1::text[]) "
       "RETURNING value, \"expiresAt\" > $3::timestamptz AS live), "
       "uid AS (SELECT u.id FROM neon_auth.\"user\" u JOIN t ON t.live AND u.id::text = t.value LIMIT 1), ",
       kSetPasswordTail});
  // The reset identifier has a "reset-password:" prefix, so its plain spelling can never be a stored hash.
  const std::string ids =
      db::TextArrayLiteral(std::vector<std::string>{HashIdentifier(identifier), std::string(identifier)});
  const std::string now_s = FormatIso8601Ms(now);
  auto rows = co_await c.Query(sql, db::Params(ids, password_hash, now_s, revoke_sessions ? "true" : "false", "false"));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return std::optional<std::string>();
  co_return std::optional<std::string>(std::string(rows->Text(0, 0)));
}

namespace {
constexpr const char* kAccountCols =
    "a.id::text, a.\"accountId\", a.\"providerId\", a.\"userId\"::text, a.scope, " PGW_MS("a.\"createdAt\"") ", " PGW_MS(
        "a.\"updatedAt\"") ", a.\"accessToken\", a.\"refreshToken\", a.\"idToken\", " PGW_MS("a.\"accessTokenExpiresAt\"") ", " PGW_MS(
        "a.\"refreshTokenExpiresAt\"");

ProviderAccount ReadProviderAccount(const db::Rows& r, int row) {
  ProviderAccount a;
  a.row.id = r.Text(row, 0);
  a.row.account_id = r.Text(row, 1);
  a.row.provider_id = r.Text(row, 2);
  a.row.user_id = r.Text(row, 3);
  a.row.scope = OptString(r, row, 4);
  a.row.created_at = r.Int64(row, 5);
  a.row.updated_at = r.Int64(row, 6);
  a.tokens.access_token = OptString(r, row, 7);
  a.tokens.refresh_token = OptString(r, row, 8);
  a.tokens.id_token = OptString(r, row, 9);
  if (!r.IsNull(row, 10)) a.tokens.access_expires_at = r.Int64(row, 10);
  if (!r.IsNull(row, 11)) a.tokens.refresh_expires_at = r.Int64(row, 11);
  a.tokens.scope = a.row.scope;
  return a;
}

std::optional<std::string> OptTime(const std::optional<EpochMs>& t) {
  if (!t) return std::nullopt;
  return FormatIso8601Ms(*t);
}
}  // namespace

asio::awaitable<Result<std::optional<ProviderAccount>>> FindProviderAccount(Conn& c, std::string_view provider_id,
                                                                            std::string_view account_id) {
  static const std::string sql = Concat({"SELECT ", kAccountCols,
                                         " FROM neon_auth.account a WHERE a.\"providerId\" = $1 AND a.\"accountId\" = $2 "
                                         "ORDER BY a.\"createdAt\" LIMIT 1"});
  auto rows = co_await c.Query(sql, db::Params(provider_id, account_id));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return std::optional<ProviderAccount>();
  co_return std::optional<ProviderAccount>(ReadProviderAccount(*rows, 0));
}

asio::awaitable<Result<std::optional<ProviderAccount>>> FindUserProviderAccount(Conn& c, std::string_view user_id,
                                                                                std::string_view provider_id,
                                                                                std::string_view account_id) {
  static const std::string sql = Concat({"SELECT ", kAccountCols,
                                         " FROM neon_auth.account a WHERE a.\"userId\"::text = $1 AND a.\"providerId\" = $2 "
                                         "AND ($3 = '' OR a.\"accountId\" = $3) ORDER BY a.\"createdAt\" LIMIT 1"});
  auto rows = co_await c.Query(sql, db::Params(user_id, provider_id, account_id));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return std::optional<ProviderAccount>();
  co_return std::optional<ProviderAccount>(ReadProviderAccount(*rows, 0));
}

asio::awaitable<Result<AccountRow>> InsertProviderAccount(Conn& c, std::string_view user_id, std::string_view provider_id,
                                                          std::string_view account_id, const AccountTokens& t,
                                                          EpochMs now) {
  static const std::string sql = Concat(
      {"INSERT INTO neon_auth.account AS a (\"accountId\", \"providerId\", \"userId\", \"accessToken\", \"refreshToken\", "
       "\"idToken\", \"accessTokenExpiresAt\", \"refreshTokenExpiresAt\", scope, \"createdAt\", \"updatedAt\") "
       "VALUES ($1, $2, $3::uuid, $4, $5, $6, $7::timestamptz, $8::timestamptz, $9, $10::timestamptz, $10::timestamptz) "
       "RETURNING ",
       kAccountCols});
  const std::string now_s = FormatIso8601Ms(now);
  const auto ae = OptTime(t.access_expires_at), re = OptTime(t.refresh_expires_at);
  auto rows = co_await c.Query(sql, db::Params(account_id, provider_id, user_id, t.access_token, t.refresh_token,
                                               t.id_token, ae, re, t.scope, now_s));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return MakeError(ErrorCode::kInternal, "account insert returned nothing");
  co_return ReadProviderAccount(*rows, 0).row;
}

asio::awaitable<Result<void>> UpdateAccountTokens(Conn& c, std::string_view account_row_id, const AccountTokens& t,
                                                  EpochMs now) {
  // A provider that sends no new refresh token keeps the old one (refresh-token rotation is optional).
  auto r = co_await c.Query(
      "UPDATE neon_auth.account SET \"accessToken\" = COALESCE($2, \"accessToken\"), "
      "\"refreshToken\" = COALESCE($3, \"refreshToken\"), \"idToken\" = COALESCE($4, \"idToken\"), "
      "\"accessTokenExpiresAt\" = CASE WHEN $2 IS NULL THEN \"accessTokenExpiresAt\" ELSE $5::timestamptz END, "
      "\"refreshTokenExpiresAt\" = COALESCE($6::timestamptz, \"refreshTokenExpiresAt\"), "
      "scope = COALESCE($7, scope), \"updatedAt\" = $8::timestamptz WHERE id::text = $1",
      db::Params(account_row_id, t.access_token, t.refresh_token, t.id_token, OptTime(t.access_expires_at),
                 OptTime(t.refresh_expires_at), t.scope, FormatIso8601Ms(now)));
  if (!r) co_return r.error();
  co_return Result<void>();
}

asio::awaitable<Result<std::pair<UserRow, SessionRow>>> CreateOAuthUser(
    Conn& c, std::string_view name, std::string_view email, bool email_verified, std::optional<std::string_view> image,
    std::string_view provider_id, std::string_view account_id, const AccountTokens& t, const NewSession& session,
    EpochMs now) {
  static const std::string sql = Concat(
      {"WITH u AS (INSERT INTO neon_auth.\"user\" (name, email, \"emailVerified\", image, \"createdAt\", \"updatedAt\", "
       "\"isAnonymous\", role, banned) VALUES ($1, $2, $3::bool, $4, $5::timestamptz, $5::timestamptz, false, 'user', false) "
       "RETURNING *), "
       "a AS (INSERT INTO neon_auth.account (\"accountId\", \"providerId\", \"userId\", \"accessToken\", \"refreshToken\", "
       "\"idToken\", \"accessTokenExpiresAt\", \"refreshTokenExpiresAt\", scope, \"createdAt\", \"updatedAt\") "
       "SELECT $6, $7, u.id, $8, $9, $10, $11::timestamptz, $12::timestamptz, $13, $5::timestamptz, $5::timestamptz FROM u), "
       "s AS (INSERT INTO neon_auth.session (\"expiresAt\", token, \"createdAt\", \"updatedAt\", \"ipAddress\", "
       "\"userAgent\", \"userId\") SELECT $14::timestamptz, $15, $5::timestamptz, $5::timestamptz, $16, $17, u.id FROM u "
       "RETURNING *) "
       "SELECT ", kUserCols, ", ", kSessionCols, " FROM u, s"});
  const std::string now_s = FormatIso8601Ms(now), exp_s = FormatIso8601Ms(session.expires_at);
  const auto ae = OptTime(t.access_expires_at), re = OptTime(t.refresh_expires_at);
  auto rows = co_await c.Query(sql, db::Params(name, email, email_verified ? "true" : "false", image, now_s, account_id,
                                               provider_id, t.access_token, t.refresh_token, t.id_token, ae, re, t.scope,
                                               exp_s, session.token, session.ip_address, session.user_agent));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return MakeError(ErrorCode::kFailedToCreateUser);
  co_return std::make_pair(ReadUser(*rows, 0, 0), ReadSession(*rows, 0, kUserColCount));
}

asio::awaitable<Result<int>> UnlinkAccount(Conn& c, std::string_view user_id, std::string_view provider_id,
                                           std::string_view account_id) {
  // The user's row is locked first, then the accounts are counted and one deleted by a second statement of the
  // same transaction (one round trip): under READ COMMITTED that statement's snapshot is taken after the lock,
  // so two parallel unlinks of a user's last two accounts cannot both see two and leave none.
  std::vector<db::Connection::Statement> steps;
  steps.push_back({"SELECT 1 FROM neon_auth.\"user\" u WHERE u.id::text = $1 FOR UPDATE", {std::string(user_id)}});
  steps.push_back(
      {"WITH target AS (SELECT a.id FROM neon_auth.account a WHERE a.\"userId\"::text = $1 AND a.\"providerId\" = $2 "
       "AND ($3 = '' OR a.\"accountId\" = $3) ORDER BY a.\"createdAt\" LIMIT 1), "
       "total AS (SELECT count(*) AS n FROM neon_auth.account a WHERE a.\"userId\"::text = $1), "
       "gone AS (DELETE FROM neon_auth.account a USING target, total WHERE a.id = target.id AND total.n > 1 RETURNING 1) "
       "SELECT (SELECT count(*) FROM target), (SELECT count(*) FROM gone)",
       {std::string(user_id), std::string(provider_id), std::string(account_id)}});
  auto results = co_await c.Pipeline(steps);
  if (!results) co_return results.error();
  const db::Rows& rows = (*results)[1];
  if (rows.Int64(0, 0) == 0) co_return 0;
  co_return rows.Int64(0, 1) > 0 ? 1 : -1;
}

}  // namespace pgwarden::auth
