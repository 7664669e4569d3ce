//! Row types and every SQL statement the auth flows run against neon_auth.* (user, session, account).
//! Store functions take the connection first; the flow decides what runs together (multi-table writes
//! are single statements with data-modifying CTEs, so they are atomic in one round trip). Timestamps are
//! read as epoch milliseconds and written as ISO-8601 text with millisecond precision (Better Auth's).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "db/connection.hpp"

namespace pgwarden::auth {

namespace asio = boost::asio;

struct UserRow {
  std::string id;
  std::string name;
  std::string email;
  bool email_verified = false;
  std::optional<std::string> image;
  EpochMs created_at = 0;
  EpochMs updated_at = 0;
  std::optional<bool> is_anonymous;
  std::optional<std::string> role;
  std::optional<bool> banned;
  std::optional<std::string> ban_reason;
  std::optional<EpochMs> ban_expires;

  bool IsBanned(EpochMs now) const { return banned.value_or(false) && (!ban_expires || *ban_expires > now); }
};

struct SessionRow {
  std::string id;
  std::string token;
  std::string user_id;
  EpochMs expires_at = 0;
  EpochMs created_at = 0;
  EpochMs updated_at = 0;
  std::optional<std::string> ip_address;
  std::optional<std::string> user_agent;
  std::optional<std::string> active_organization_id;
  std::optional<std::string> impersonated_by;
};

struct AccountRow {
  std::string id;
  std::string account_id;
  std::string provider_id;
  std::string user_id;
  std::optional<std::string> scope;
  EpochMs created_at = 0;
  EpochMs updated_at = 0;
};

//! Better Auth's member order: {name, email, emailVerified, image, createdAt, updatedAt, isAnonymous, role,
//! banned, banReason, banExpires, id}.
std::string UserJson(const UserRow& u);
//! {expiresAt, token, createdAt, updatedAt, ipAddress, userAgent, userId, activeOrganizationId,
//! impersonatedBy, id}.
std::string SessionJson(const SessionRow& s);

struct NewSession {
  std::string token;
  EpochMs expires_at;
  std::string ip_address;
  std::string user_agent;
};

struct SessionWithUser {
  SessionRow session;
  UserRow user;
};

//! The user with this (lower-cased) email and the password of its credential account, if any.
struct UserWithPassword {
  UserRow user;
  std::optional<std::string> password_hash;
};

using Conn = db::Connection;

asio::awaitable<Result<std::optional<SessionWithUser>>> FindSessionByToken(Conn& c, std::string_view token);
asio::awaitable<Result<std::optional<SessionWithUser>>> FindSessionById(Conn& c, std::string_view session_id);
asio::awaitable<Result<std::optional<UserRow>>> FindUserById(Conn& c, std::string_view user_id);
//! Marks the address verified; with `new_email`, the user's address becomes it (verified) at the same time.
//! Only when the user still has `expected_email`, so a replayed or stale token changes nothing; nullopt then.
//! A taken `new_email` fails with SQLSTATE 23505.
asio::awaitable<Result<std::optional<UserRow>>> MarkEmailVerified(Conn& c, std::string_view user_id,
                                                                  std::string_view expected_email,
                                                                  std::optional<std::string_view> new_email,
                                                                  EpochMs now);
//! A user proven to own the address by a code or a link (email OTP, magic link): created verified when absent
//! (`create`), or, when present but unverified, stripped of its password account and sessions (which nobody
//! proved to own: Better Auth's revokeUnprovenAccountAccess) and marked verified. nullopt when absent and not
//! `create`. `created` tells which.
struct ProvenUser {
  UserRow user;
  bool created = false;
};
//! `image` is set only on a created user.
asio::awaitable<Result<std::optional<ProvenUser>>> UpsertProvenUser(Conn& c, std::string_view email,
                                                                    std::string_view name,
                                                                    std::optional<std::string_view> image, bool create,
                                                                    EpochMs now);
//! Sets (or creates) the credential password; with `revoke_sessions`, every session of the user ends; with
//! `mark_verified`, the address is marked verified. Atomic.
asio::awaitable<Result<void>> SetPassword(Conn& c, std::string_view user_id, std::string_view password_hash,
                                          bool revoke_sessions, bool mark_verified, EpochMs now);
//! Consumes a reset token (hashed or plain identifier) and sets the password in one statement: exactly one of N
//! parallel uses of a token succeeds (TK-03). The user id, or nullopt for an unknown/used/expired token.
asio::awaitable<Result<std::optional<std::string>>> ResetPasswordWithToken(Conn& c, std::string_view identifier,
                                                                           std::string_view password_hash,
                                                                           bool revoke_sessions, EpochMs now);
asio::awaitable<Result<std::optional<UserWithPassword>>> FindUserByEmail(Conn& c, std::string_view email);
asio::awaitable<Result<std::optional<std::string>>> FindPasswordHash(Conn& c, std::string_view user_id);
//! Replaces the user's credential hash with `new_hash` only while it still is `old_hash` (rehash on sign-in: a
//! password changed meanwhile is never overwritten). True when a row was replaced.
asio::awaitable<Result<bool>> ReplacePasswordHash(Conn& c, std::string_view user_id, std::string_view old_hash,
                                                  std::string_view new_hash, EpochMs now);
asio::awaitable<Result<bool>> EmailExists(Conn& c, std::string_view email);

//! Inserts user + credential account (+ session when `session` is set) in one atomic statement.
//! A duplicate email fails with SQLSTATE 23505.
asio::awaitable<Result<std::pair<UserRow, std::optional<SessionRow>>>> CreateUserWithPassword(
    Conn& c, std::string_view name, std::string_view email, std::optional<std::string_view> image,
    std::string_view password_hash, EpochMs now, const std::optional<NewSession>& session);

asio::awaitable<Result<SessionRow>> InsertSession(Conn& c, std::string_view user_id, const NewSession& s, EpochMs now);
asio::awaitable<Result<SessionRow>> ExtendSession(Conn& c, std::string_view session_id, EpochMs expires_at,
                                                  EpochMs now);
asio::awaitable<Result<void>> DeleteSessionByToken(Conn& c, std::string_view token);
//! Only the given user's session with that token (no revoking somebody else's session).
asio::awaitable<Result<void>> DeleteUserSessionByToken(Conn& c, std::string_view user_id, std::string_view token);
asio::awaitable<Result<void>> DeleteUserSessions(Conn& c, std::string_view user_id,
                                                 std::optional<std::string_view> except_token);
asio::awaitable<Result<std::vector<SessionRow>>> ListUserSessions(Conn& c, std::string_view user_id, EpochMs now);

asio::awaitable<Result<UserRow>> UpdateUserProfile(Conn& c, std::string_view user_id,
                                                   std::optional<std::string_view> name,
                                                   std::optional<std::optional<std::string_view>> image, EpochMs now);
//! Sets a new password hash on the credential account. With `revoke`, every session of the user ends and
//! `replacement` becomes its only session (returned). Atomic. kCredentialAccountNotFound without an account.
asio::awaitable<Result<std::optional<SessionRow>>> ChangePasswordAndRotate(Conn& c, std::string_view user_id,
                                                                           std::string_view password_hash, bool revoke,
                                                                           const NewSession& replacement, EpochMs now);
asio::awaitable<Result<void>> DeleteUser(Conn& c, std::string_view user_id);

// ---- provider accounts (OAuth, issue 5). Token columns hold sealed values (crypto::SealToHex): callers seal
// before writing and unseal after reading. ----

//! The provider tokens of an account row, as stored (sealed).
struct AccountTokens {
  std::optional<std::string> access_token;
  std::optional<std::string> refresh_token;
  std::optional<std::string> id_token;
  std::optional<EpochMs> access_expires_at;
  std::optional<EpochMs> refresh_expires_at;
  std::optional<std::string> scope;  //!< comma-separated, as Better Auth
};

struct ProviderAccount {
  AccountRow row;
  AccountTokens tokens;
};

//! The account of (providerId, accountId), whoever owns it (federated identities are keyed on the provider's
//! user id, never on the address: OA-06).
asio::awaitable<Result<std::optional<ProviderAccount>>> FindProviderAccount(Conn& c, std::string_view provider_id,
                                                                            std::string_view account_id);
//! A user's account for a provider (`account_id` empty = the first one).
asio::awaitable<Result<std::optional<ProviderAccount>>> FindUserProviderAccount(Conn& c, std::string_view user_id,
                                                                                std::string_view provider_id,
                                                                                std::string_view account_id);
//! Inserts an account for an existing user. A (provider, accountId) already present fails with 23505 only if a
//! unique index exists; callers look first.
asio::awaitable<Result<AccountRow>> InsertProviderAccount(Conn& c, std::string_view user_id, std::string_view provider_id,
                                                          std::string_view account_id, const AccountTokens& t,
                                                          EpochMs now);
asio::awaitable<Result<void>> UpdateAccountTokens(Conn& c, std::string_view account_row_id, const AccountTokens& t,
                                                  EpochMs now);
//! A new user with its provider account and first session, in one statement (23505 on a taken address).
asio::awaitable<Result<std::pair<UserRow, SessionRow>>> CreateOAuthUser(
    Conn& c, std::string_view name, std::string_view email, bool email_verified, std::optional<std::string_view> image,
    std::string_view provider_id, std::string_view account_id, const AccountTokens& t, const NewSession& session,
    EpochMs now);
//! Removes the user's account of that provider (and accountId when given) unless it is the user's last
//! account. Returns 1 removed, 0 none found, -1 refused (the last one).
asio::awaitable<Result<int>> UnlinkAccount(Conn& c, std::string_view user_id, std::string_view provider_id,
                                           std::string_view account_id);
asio::awaitable<Result<std::vector<AccountRow>>> ListAccounts(Conn& c, std::string_view user_id);

}  // namespace pgwarden::auth
