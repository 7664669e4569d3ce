//! The user and session objects exactly as Better Auth serialises them (member order, nulls, dates).
#include <gtest/gtest.h>

#include <string>

#include "auth/stores.hpp"
#include "core/json.hpp"

namespace pgwarden::auth {
namespace {

constexpr EpochMs kCreated = 1'796'374'500'846;  // 2026-12-04T08:55:00.846Z
constexpr EpochMs kUpdated = 1'796'374'501'000;  // 2026-12-04T08:55:01.000Z

TEST(UserJson, RendersAFreshUserWithNullsInBetterAuthsOrder) {
  UserRow u;
  u.id = "8a6e0804-2bd0-4672-b79d-d97027f9071a";
  u.name = "Ada";
  u.email = "ada@example.com";
  u.created_at = kCreated;
  u.updated_at = kUpdated;
  EXPECT_EQ(UserJson(u),
            R"({"name":"Ada","email":"ada@example.com","emailVerified":false,"image":null,)"
            R"("createdAt":"2026-12-04T08:55:00.846Z","updatedAt":"2026-12-04T08:55:01.000Z",)"
            R"("isAnonymous":null,"role":null,"banned":null,"banReason":null,"banExpires":null,)"
            R"("id":"8a6e0804-2bd0-4672-b79d-d97027f9071a"})");
}

TEST(UserJson, RendersEveryOptionalMemberWhenSet) {
  UserRow u;
  u.id = "id-1";
  u.name = "Quote \"Q\"";
  u.email = "q@example.com";
  u.email_verified = true;
  u.image = "https://img.example.com/q.png";
  u.created_at = 0;
  u.updated_at = 1;
  u.is_anonymous = false;
  u.role = "user";
  u.banned = true;
  u.ban_reason = "spam\n";
  u.ban_expires = kCreated;
  EXPECT_EQ(UserJson(u),
            R"({"name":"Quote \"Q\"","email":"q@example.com","emailVerified":true,)"
            R"("image":"https://img.example.com/q.png","createdAt":"1970-01-01T00:00:00.000Z",)"
            R"("updatedAt":"1970-01-01T00:00:00.001Z","isAnonymous":false,"role":"user","banned":true,)"
            R"("banReason":"spam\n","banExpires":"2026-12-04T08:55:00.846Z","id":"id-1"})");
}

TEST(UserJson, IsValidJson) {
  UserRow u;
  u.name = std::string("ctl\x01\x7f", 5);
  const json::value v = json::parse(UserJson(u));
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.as_object().size(), 12u);
}

TEST(SessionJson, RendersASessionWithNullsInBetterAuthsOrder) {
  SessionRow s;
  s.id = "5f0e6b36-6a55-4dc6-9d3c-6b6f2b3f7e0a";
  s.token = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";
  s.user_id = "8a6e0804-2bd0-4672-b79d-d97027f9071a";
  s.expires_at = kCreated + 7LL * 24 * 3600 * 1000;
  s.created_at = kCreated;
  s.updated_at = kCreated;
  EXPECT_EQ(SessionJson(s),
            R"({"expiresAt":"2026-12-11T08:55:00.846Z","token":"AbCdEfGhIjKlMnOpQrStUvWxYz012345",)"
            R"("createdAt":"2026-12-04T08:55:00.846Z","updatedAt":"2026-12-04T08:55:00.846Z",)"
            R"("ipAddress":null,"userAgent":null,"userId":"8a6e0804-2bd0-4672-b79d-d97027f9071a",)"
            R"("activeOrganizationId":null,"impersonatedBy":null,"id":"5f0e6b36-6a55-4dc6-9d3c-6b6f2b3f7e0a"})");
}

TEST(SessionJson, RendersEmptyStringsAsStringsNotNulls) {
  // Better Auth stores "" for a missing IP or user agent; it must come back as "", not null.
  SessionRow s;
  s.id = "s";
  s.token = "t";
  s.user_id = "u";
  s.ip_address = "";
  s.user_agent = "";
  s.active_organization_id = "org-1";
  s.impersonated_by = "admin-1";
  EXPECT_EQ(SessionJson(s),
            R"({"expiresAt":"1970-01-01T00:00:00.000Z","token":"t","createdAt":"1970-01-01T00:00:00.000Z",)"
            R"("updatedAt":"1970-01-01T00:00:00.000Z","ipAddress":"","userAgent":"","userId":"u",)"
            R"("activeOrganizationId":"org-1","impersonatedBy":"admin-1","id":"s"})");
}

TEST(UserRow, IsBannedOnlyWhileTheBanLasts) {
  UserRow u;
  EXPECT_FALSE(u.IsBanned(1000));
  u.banned = false;
  EXPECT_FALSE(u.IsBanned(1000));
  u.banned = true;
  EXPECT_TRUE(u.IsBanned(1000));  // no expiry: permanent
  u.ban_expires = 2000;
  EXPECT_TRUE(u.IsBanned(1999));
  EXPECT_FALSE(u.IsBanned(2000));
}

}  // namespace
}  // namespace pgwarden::auth
