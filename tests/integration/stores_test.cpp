//! The auth stores against a real neon_auth schema: atomic multi-table writes, joins, rotation, cascades.
#include "auth/stores.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "crypto/password.hpp"
#include "crypto/random.hpp"
#include "pg_fixture.hpp"

namespace pgwarden::auth {
namespace {

using testing::ErrorText;
using testing::RunAsync;

constexpr EpochMs kNow = 1'796'374'500'846;  // 2026-12-04T08:55:00.846Z
constexpr EpochMs kWeek = 7LL * 24 * 3600 * 1000;
const std::string kHash = "8fbf8a3c8a18650922bc66ecef87de5f:45e7bb0123456789abcdef";

NewSession MakeNewSession(std::string token, EpochMs expires_at = kNow + kWeek) {
  return NewSession{std::move(token), expires_at, "203.0.113.7", "Mozilla/5.0 (test)"};
}

class StoresTest : public testing::FreshDatabaseTest {
 protected:
  void SetUp() override {
    FreshDatabaseTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(Migrate());
    check_ = Connect();
    ASSERT_NE(check_, nullptr);
  }
  //! Runs `body(conn)` as a coroutine with a fresh async connection to the test database.
  template <class F>
  void WithConnection(F body) {
    RunAsync([&]() -> asio::awaitable<void> {
      auto ex = co_await asio::this_coro::executor;
      auto conn = co_await db::Connection::Connect(ex, conninfo_);
      CO_ASSERT_OK(conn);
      co_await body(**conn);
    });
  }
  std::string Count(std::string_view table) { return Scalar(*check_, "SELECT count(*) FROM neon_auth." + std::string(table)); }

  std::unique_ptr<db::Connection> check_;  // a separate connection for looking at the committed rows
};

TEST_F(StoresTest, CreatesUserCredentialAccountAndSessionTogether) {
  std::string user_id;
  WithConnection([&](db::Connection& c) -> asio::awaitable<void> {
    const std::optional<NewSession> session = MakeNewSession("AbCdEfGhIjKlMnOpQrStUvWxYz012345");
    const std::optional<std::string_view> image = std::nullopt;
    auto created = co_await CreateUserWithPassword(c, "Ada Lovelace", "ada@example.com", image, kHash, kNow, session);
    CO_ASSERT_OK(created);
    const UserRow& u = created->first;
    user_id = u.id;
    EXPECT_EQ(u.id.size(), 36u);
    EXPECT_EQ(u.name, "Ada Lovelace");
    EXPECT_EQ(u.email, "ada@example.com");
    EXPECT_FALSE(u.email_verified);
    EXPECT_EQ(u.image, std::nullopt);
    EXPECT_EQ(u.created_at, kNow);  // millisecond precision survives the round trip
    EXPECT_EQ(u.updated_at, kNow);
    EXPECT_EQ(u.is_anonymous, std::optional<bool>(false));
    EXPECT_EQ(u.role, std::optional<std::string>("user"));
    EXPECT_EQ(u.banned, std::optional<bool>(false));
    CO_ASSERT_TRUE(created->second.has_value());
    const SessionRow& s = *created->second;
    EXPECT_EQ(s.token, "AbCdEfGhIjKlMnOpQrStUvWxYz012345");
    EXPECT_EQ(s.user_id, u.id);
    EXPECT_EQ(s.expires_at, kNow + kWeek);
    EXPECT_EQ(s.created_at, kNow);
    EXPECT_EQ(s.ip_address, std::optional<std::string>("203.0.113.7"));
    EXPECT_EQ(s.user_agent, std::optional<std::string>("Mozilla/5.0 (test)"));
  });
  ASSERT_FALSE(user_id.empty());
  EXPECT_EQ(Count("\"user\""), "1");
  const auto account = check_->QueryBlocking(
      "SELECT \"accountId\", \"providerId\", \"userId\"::text, password, "
      "to_char(\"createdAt\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM neon_auth.account");
  ASSERT_OK(account);
  ASSERT_EQ(account->Size(), 1);
  EXPECT_EQ(account->Text(0, 0), user_id);  // accountId = user id for credential accounts
  EXPECT_EQ(account->Text(0, 1), "credential");
  EXPECT_EQ(account->Text(0, 2), user_id);
  EXPECT_EQ(account->Text(0, 3), kHash);
  EXPECT_EQ(account->Text(0, 4), "2026-12-04T08:55:00.846Z");
  EXPECT_EQ(Scalar(*check_, "SELECT \"userId\"::text FROM neon_auth.session WHERE token = $1",
                   {"AbCdEfGhIjKlMnOpQrStUvWxYz012345"}),
            user_id);
}

TEST_F(StoresTest, CreatesAUserWithoutASessionWhenNoneIsAsked) {
  WithConnection([&](db::Connection& c) -> asio::awaitable<void> {
    const std::optional<NewSession> no_session;
    const std::optional<std::string_view> image = "https://img.example.com/a.png";
    auto created = co_await CreateUserWithPassword(c, "A", "a@example.com", image, kHash, kNow, no_session);
    CO_ASSERT_OK(created);
    EXPECT_EQ(created->first.image, std::optional<std::string>("https://img.example.com/a.png"));
    EXPECT_FALSE(created->second.has_value());
  });
  EXPECT_EQ(Count("\"user\""), "1");
  EXPECT_EQ(Count("account"), "1");
  EXPECT_EQ(Count("session"), "0");
}

TEST_F(StoresTest, RejectsADuplicateEmailWith23505AndWritesNothing) {
  WithConnection([&](db::Connection& c) -> asio::awaitable<void> {
    const std::optional<std::string_view> image = std::nullopt;
    const std::optional<NewSession> first_session = MakeNewSession("first-token-000000000000000000000");
    CO_ASSERT_OK(co_await CreateUserWithPassword(c, "A", "dup@example.com", image, kHash, kNow, first_session));
    const std::optional<NewSession> second_session = MakeNewSession("second-token-00000000000000000000");
    auto dup = co_await CreateUserWithPassword(c, "B", "dup@example.com", image, "other-hash", kNow, second_session);
    CO_ASSERT_TRUE(!dup);
    EXPECT_EQ(dup.error().sqlstate, db::kUniqueViolation) << ErrorText(dup.error());
    EXPECT_FALSE(c.InTransaction());
  });
  EXPECT_EQ(Count("\"user\""), "1");
  EXPECT_EQ(Count("account"), "1");
  EXPECT_EQ(Count("session"), "1");
  EXPECT_EQ(Scalar(*check_, "SELECT count(*) FROM neon_auth.account WHERE password = 'other-hash'"), "0");
  EXPECT_EQ(Scalar(*check_, "SELECT count(*) FROM neon_auth.session WHERE token LIKE 'second-%'"), "0");
}

TEST_F(StoresTest, LeavesNoUserBehindWhenTheSessionInsertFails) {
  WithConnection([&](db::Connection& c) -> asio::awaitable<void> {
    const std::optional<std::string_view> image = std::nullopt;
    const std::optional<NewSession> session = MakeNewSession("same-token-0000000000000000000000");
    CO_ASSERT_OK(co_await CreateUserWithPassword(c, "A", "a@example.com", image, kHash, kNow, session));
    // Another user whose session token collides: the whole statement fails, the user with it.
    auto clash = co_await CreateUserWithPassword(c, "B", "b@example.com", image, kHash, kNow, session);
    CO_ASSERT_TRUE(!clash);
    EXPECT_EQ(clash.error().sqlstate, db::kUniqueViolation);
  });
  EXPECT_EQ(Scalar(*check_, "SELECT count(*) FROM neon_auth.\"user\" WHERE email = 'b@example.com'"), "0");
  EXPECT_EQ(Count("account"), "1");
  EXPECT_EQ(Count("session"), "1");
}

TEST_F(StoresTest, FindsASessionByTokenWithItsUser) {
  WithConnection([&](db::Connection& c) -> asio::awaitable<void> {
    const std::optional<std::string_view> image = std::nullopt;
    const std::optional<NewSession> session = MakeNewSession("find-me-token-000000000000000000");
    auto created = co_await CreateUserWithPassword(c, "Grace", "grace@example.com", image, kHash, kNow, session);
    CO_ASSERT_OK(created);
    const std::string token = "find-me-token-000000000000000000";
    auto found = co_await FindSessionByToken(c, token);
    CO_ASSERT_OK(found);
    CO_ASSERT_TRUE(found->has_value());
    const SessionWithUser& f = **found;
    EXPECT_EQ(f.session.id, created->second->id);
    EXPECT_EQ(f.session.token, token);
    EXPECT_EQ(f.session.user_id, created->first.id);
    EXPECT_EQ(f.session.expires_at, kNow + kWeek);
    EXPECT_EQ(f.user.id, created->first.id);
    EXPECT_EQ(f.user.name, "Grace");
    EXPECT_EQ(f.user.email, "grace@example.com");
    EXPECT_EQ(f.user.created_at, kNow);
    EXPECT_EQ(SessionJson(f.session), SessionJson(*created->second));
    EXPECT_EQ(UserJson(f.user), UserJson(created->first));

    const std::string unknown = "no-such-token";
    auto missing = co_await FindSessionByToken(c, unknown);
    CO_ASSERT_OK(missing);
    EXPECT_FALSE(missing->has_value());
    const std::string injection = "' OR '1'='1";
    auto injected = co_await FindSessionByToken(c, injection);
    CO_ASSERT_OK(injected);
    EXPECT_FALSE(injected->has_value());
  });
}

TEST_F(StoresTest, FindsAUserByEmailWithThePasswordHash) {
  WithConnection([&](db::Connection& c) -> asio::awaitable<void> {
    const std::optional<std::string_view> image = std::nullopt;
    const std::optional<NewSession> no_session;
    CO_ASSERT_OK(co_await CreateUserWithPassword(c, "A", "a@example.com", image, kHash, kNow, no_session));
    const std::string email = "a@example.com";
    auto found = co_await FindUserByEmail(c, email);
    CO_ASSERT_OK(found);
    CO_ASSERT_TRUE(found->has_value());
    EXPECT_EQ((*found)->user.email, "a@example.com");
    EXPECT_EQ((*found)->password_hash, std::optional<std::string>(kHash));
    auto hash = co_await FindPasswordHash(c, (*found)->user.id);
    CO_ASSERT_OK(hash);
    EXPECT_EQ(*hash, std::optional<std::string>(kHash));
    auto exists = co_await EmailExists(c, email);
    CO_ASSERT_OK(exists);
    EXPECT_TRUE(*exists);
    const std::string other = "nobody@example.com";
    auto none = co_await FindUserByEmail(c, other);
    CO_ASSERT_OK(none);
    EXPECT_FALSE(none->has_value());
  });
}

TEST_F(StoresTest, RotatesPasswordAndRevokesEverySessionButTheReplacement) {
  std::string user_id, bystander_id;
  WithConnection([&](db::Connection& c) -> asio::awaitable<void> {
    const std::optional<std::string_view> image = std::nullopt;
    const std::optional<NewSession> s1 = MakeNewSession("user-session-1-00000000000000000");
    auto created = co_await CreateUserWithPassword(c, "U", "u@example.com", image, kHash, kNow, s1);
    CO_ASSERT_OK(created);
    user_id = created->first.id;
    CO_ASSERT_OK(co_await InsertSession(c, user_id, MakeNewSession("user-session-2-00000000000000000"), kNow));
    CO_ASSERT_OK(co_await InsertSession(c, user_id, MakeNewSession("user-session-3-00000000000000000"), kNow));
    const std::optional<NewSession> bs = MakeNewSession("bystander-session-000000000000000");
    auto bystander = co_await CreateUserWithPassword(c, "B", "b@example.com", image, kHash, kNow, bs);
    CO_ASSERT_OK(bystander);
    bystander_id = bystander->first.id;

    const NewSession replacement = MakeNewSession("replacement-session-000000000000");
    auto rotated = co_await ChangePasswordAndRotate(c, user_id, "new-hash", /*revoke=*/true, replacement, kNow + 1000);
    CO_ASSERT_OK(rotated);
    CO_ASSERT_TRUE(rotated->has_value());
    EXPECT_EQ((*rotated)->token, "replacement-session-000000000000");
    EXPECT_EQ((*rotated)->user_id, user_id);
    EXPECT_EQ((*rotated)->created_at, kNow + 1000);
  });
  ASSERT_FALSE(user_id.empty());
  EXPECT_EQ(Scalar(*check_, "SELECT string_agg(token, ',') FROM neon_auth.session WHERE \"userId\" = $1::uuid",
                   {user_id}),
            "replacement-session-000000000000");
  EXPECT_EQ(Scalar(*check_, "SELECT password FROM neon_auth.account WHERE \"userId\" = $1::uuid", {user_id}),
            "new-hash");
  // Somebody else's sessions and password are untouched.
  EXPECT_EQ(Scalar(*check_, "SELECT count(*) FROM neon_auth.session WHERE \"userId\" = $1::uuid", {bystander_id}),
            "1");
  EXPECT_EQ(Scalar(*check_, "SELECT password FROM neon_auth.account WHERE \"userId\" = $1::uuid", {bystander_id}),
            kHash);
}

TEST_F(StoresTest, ChangesThePasswordAloneWithoutRevoke) {
  std::string user_id;
  WithConnection([&](db::Connection& c) -> asio::awaitable<void> {
    const std::optional<std::string_view> image = std::nullopt;
    const std::optional<NewSession> s1 = MakeNewSession("keep-session-1-00000000000000000");
    auto created = co_await CreateUserWithPassword(c, "U", "u@example.com", image, kHash, kNow, s1);
    CO_ASSERT_OK(created);
    user_id = created->first.id;
    CO_ASSERT_OK(co_await InsertSession(c, user_id, MakeNewSession("keep-session-2-00000000000000000"), kNow));
    const NewSession unused = MakeNewSession("never-inserted-00000000000000000");
    auto changed = co_await ChangePasswordAndRotate(c, user_id, "new-hash", /*revoke=*/false, unused, kNow);
    CO_ASSERT_OK(changed);
    EXPECT_FALSE(changed->has_value());
  });
  EXPECT_EQ(Count("session"), "2");
  EXPECT_EQ(Scalar(*check_, "SELECT count(*) FROM neon_auth.session WHERE token LIKE 'never-%'"), "0");
  EXPECT_EQ(Scalar(*check_, "SELECT password FROM neon_auth.account"), "new-hash");
}

TEST_F(StoresTest, ChangesNothingForAUserWithoutACredentialAccount) {
  // A user who signed up with a social provider only.
  ASSERT_OK(check_->ScriptBlocking(
      "INSERT INTO neon_auth.\"user\" (id, name, email, \"emailVerified\") VALUES "
      "('8a6e0804-2bd0-4672-b79d-d97027f9071a', 'Social', 'social@example.com', true);"
      "INSERT INTO neon_auth.account (\"accountId\", \"providerId\", \"userId\", \"updatedAt\") VALUES "
      "('google-123', 'google', '8a6e0804-2bd0-4672-b79d-d97027f9071a', now());"
      "INSERT INTO neon_auth.session (token, \"userId\", \"expiresAt\", \"updatedAt\") VALUES "
      "('social-session', '8a6e0804-2bd0-4672-b79d-d97027f9071a', now() + interval '1 day', now())"));
  WithConnection([&](db::Connection& c) -> asio::awaitable<void> {
    const NewSession replacement = MakeNewSession("should-not-exist-000000000000000");
    auto r = co_await ChangePasswordAndRotate(c, "8a6e0804-2bd0-4672-b79d-d97027f9071a", "hash", /*revoke=*/true,
                                              replacement, kNow);
    CO_ASSERT_TRUE(!r);
    EXPECT_EQ(r.error().code, ErrorCode::kCredentialAccountNotFound);
  });
  EXPECT_EQ(Scalar(*check_, "SELECT string_agg(token, ',') FROM neon_auth.session"), "social-session");
  EXPECT_EQ(Scalar(*check_, "SELECT count(*) FROM neon_auth.account WHERE password IS NOT NULL"), "0");
}

TEST_F(StoresTest, DeletesAUserWithSessionsAndAccounts) {
  std::string user_id, bystander_id;
  WithConnection([&](db::Connection& c) -> asio::awaitable<void> {
    const std::optional<std::string_view> image = std::nullopt;
    const std::optional<NewSession> s1 = MakeNewSession("doomed-session-1-000000000000000");
    auto created = co_await CreateUserWithPassword(c, "Doomed", "doomed@example.com", image, kHash, kNow, s1);
    CO_ASSERT_OK(created);
    user_id = created->first.id;
    CO_ASSERT_OK(co_await InsertSession(c, user_id, MakeNewSession("doomed-session-2-000000000000000"), kNow));
    const std::optional<NewSession> bs = MakeNewSession("bystander-session-000000000000000");
    auto bystander = co_await CreateUserWithPassword(c, "B", "b@example.com", image, kHash, kNow, bs);
    CO_ASSERT_OK(bystander);
    bystander_id = bystander->first.id;
    CO_ASSERT_OK(co_await DeleteUser(c, user_id));
    auto gone = co_await FindSessionByToken(c, std::string_view("doomed-session-1-000000000000000"));
    CO_ASSERT_OK(gone);
    EXPECT_FALSE(gone->has_value());
  });
  for (const char* sql : {"SELECT count(*) FROM neon_auth.\"user\" WHERE id = $1::uuid",
                          "SELECT count(*) FROM neon_auth.account WHERE \"userId\" = $1::uuid",
                          "SELECT count(*) FROM neon_auth.session WHERE \"userId\" = $1::uuid"}) {
    SCOPED_TRACE(sql);
    EXPECT_EQ(Scalar(*check_, sql, {user_id}), "0");
    EXPECT_EQ(Scalar(*check_, sql, {bystander_id}), "1");
  }
}

TEST_F(StoresTest, ListsAndRevokesSessions) {
  std::string user_id;
  WithConnection([&](db::Connection& c) -> asio::awaitable<void> {
    const std::optional<std::string_view> image = std::nullopt;
    const std::optional<NewSession> s1 = MakeNewSession("live-session-1-00000000000000000");
    auto created = co_await CreateUserWithPassword(c, "U", "u@example.com", image, kHash, kNow, s1);
    CO_ASSERT_OK(created);
    user_id = created->first.id;
    CO_ASSERT_OK(co_await InsertSession(c, user_id, MakeNewSession("live-session-2-00000000000000000"), kNow + 1));
    CO_ASSERT_OK(co_await InsertSession(c, user_id, MakeNewSession("expired-session-0000000000000000", kNow - 1), kNow));
    auto listed = co_await ListUserSessions(c, user_id, kNow);
    CO_ASSERT_OK(listed);
    CO_ASSERT_TRUE(listed->size() == 2);  // the expired one is not listed
    EXPECT_EQ((*listed)[0].token, "live-session-1-00000000000000000");
    EXPECT_EQ((*listed)[1].token, "live-session-2-00000000000000000");

    const std::optional<std::string_view> keep = "live-session-2-00000000000000000";
    CO_ASSERT_OK(co_await DeleteUserSessions(c, user_id, keep));
    auto after = co_await ListUserSessions(c, user_id, kNow);
    CO_ASSERT_OK(after);
    CO_ASSERT_TRUE(after->size() == 1);
    EXPECT_EQ((*after)[0].token, "live-session-2-00000000000000000");

    // Revoking by token only works for the owner.
    const std::string stranger = "00000000-0000-0000-0000-000000000000";
    CO_ASSERT_OK(co_await DeleteUserSessionByToken(c, stranger, *keep));
    auto still = co_await FindSessionByToken(c, *keep);
    CO_ASSERT_OK(still);
    EXPECT_TRUE(still->has_value());
    CO_ASSERT_OK(co_await DeleteUserSessionByToken(c, user_id, *keep));
    auto revoked = co_await FindSessionByToken(c, *keep);
    CO_ASSERT_OK(revoked);
    EXPECT_FALSE(revoked->has_value());
  });
  EXPECT_EQ(Count("session"), "0");
}

TEST_F(StoresTest, ExtendsASessionAndUpdatesAProfile) {
  WithConnection([&](db::Connection& c) -> asio::awaitable<void> {
    const std::optional<std::string_view> image = "https://img/old.png";
    const std::optional<NewSession> s1 = MakeNewSession("extend-me-00000000000000000000000");
    auto created = co_await CreateUserWithPassword(c, "Old", "u@example.com", image, kHash, kNow, s1);
    CO_ASSERT_OK(created);
    auto extended = co_await ExtendSession(c, created->second->id, kNow + 2 * kWeek, kNow + 5);
    CO_ASSERT_OK(extended);
    EXPECT_EQ(extended->expires_at, kNow + 2 * kWeek);
    EXPECT_EQ(extended->updated_at, kNow + 5);
    EXPECT_EQ(extended->created_at, kNow);

    const std::optional<std::string_view> name = "New";
    const std::optional<std::optional<std::string_view>> clear_image = std::optional<std::string_view>();
    auto updated = co_await UpdateUserProfile(c, created->first.id, name, clear_image, kNow + 9);
    CO_ASSERT_OK(updated);
    EXPECT_EQ(updated->name, "New");
    EXPECT_EQ(updated->image, std::nullopt);
    EXPECT_EQ(updated->updated_at, kNow + 9);

    const std::optional<std::string_view> keep_name;
    const std::optional<std::optional<std::string_view>> keep_image;
    auto unchanged = co_await UpdateUserProfile(c, created->first.id, keep_name, keep_image, kNow + 10);
    CO_ASSERT_OK(unchanged);
    EXPECT_EQ(unchanged->name, "New");
    EXPECT_EQ(unchanged->image, std::nullopt);

    auto accounts = co_await ListAccounts(c, created->first.id);
    CO_ASSERT_OK(accounts);
    CO_ASSERT_TRUE(accounts->size() == 1);
    EXPECT_EQ((*accounts)[0].provider_id, "credential");
    EXPECT_EQ((*accounts)[0].account_id, created->first.id);
  });
}

//! One unlink on a connection of its own; *out = UnlinkAccount's answer (98/99: it failed / no connection).
asio::awaitable<void> UnlinkOnOwnConnection(std::string conninfo, std::string user_id, std::string provider_id,
                                            std::shared_ptr<int> out) {
  auto ex = co_await asio::this_coro::executor;
  auto conn = co_await db::Connection::Connect(ex, conninfo);
  if (!conn) {
    *out = 99;
    co_return;
  }
  const std::string no_account_id;
  auto r = co_await UnlinkAccount(**conn, user_id, provider_id, no_account_id);
  *out = r ? *r : 98;
}

// A user with two accounts unlinks both at once (two tabs): one unlink must find the other's account gone and
// refuse to remove the last way to sign in (FAILED_TO_UNLINK_LAST_ACCOUNT).
TEST_F(StoresTest, TwoParallelUnlinksOfTheLastTwoAccountsLeaveOne) {
  std::string user_id;
  WithConnection([&](db::Connection& c) -> asio::awaitable<void> {
    const std::optional<NewSession> no_session = std::nullopt;
    const std::optional<std::string_view> image = std::nullopt;
    auto created = co_await CreateUserWithPassword(c, "Ada", "ada@example.com", image, kHash, kNow, no_session);
    CO_ASSERT_OK(created);
    user_id = created->first.id;
  });
  ASSERT_FALSE(user_id.empty());
  ASSERT_OK(check_->ScriptBlocking(
      "INSERT INTO neon_auth.account (\"accountId\", \"providerId\", \"userId\", \"updatedAt\") VALUES ('gh-1', "
      "'github', '" + user_id + "', now())"));
  ASSERT_EQ(Count("account"), "2");
  // The user's row is held until both unlinks are on their way, so that they really run side by side.
  auto holder = Connect();
  ASSERT_NE(holder, nullptr);
  ASSERT_OK(holder->ScriptBlocking("BEGIN; SELECT 1 FROM neon_auth.\"user\" WHERE id = '" + user_id + "' FOR UPDATE"));
  std::thread release([&holder] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    (void)holder->ScriptBlocking("COMMIT");
  });
  auto credential = std::make_shared<int>(-2);
  auto github = std::make_shared<int>(-2);
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    std::string ci = conninfo_, user = user_id, p1 = "credential", p2 = "github";
    asio::co_spawn(ex, UnlinkOnOwnConnection(ci, user, p1, credential), asio::detached);
    asio::co_spawn(ex, UnlinkOnOwnConnection(ci, user, p2, github), asio::detached);
    co_return;
  });
  release.join();
  EXPECT_EQ(Count("account"), "1");
  EXPECT_EQ(std::max(*credential, *github), 1) << *credential << " " << *github;
  EXPECT_EQ(std::min(*credential, *github), -1) << *credential << " " << *github;
}

}  // namespace
}  // namespace pgwarden::auth
