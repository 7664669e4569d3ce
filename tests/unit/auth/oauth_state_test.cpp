//! The server-side OAuth state record: Better Auth's member names, a strict parse, and the checks a callback
//! applies (OA-01: expiry, provider binding).
#include "auth/oauth/state.hpp"

#include <gtest/gtest.h>

namespace pgwarden::auth::oauth {
namespace {

OAuthState Sample() {
  OAuthState s;
  s.provider_id = "acme";
  s.callback_url = "http://localhost:3000/dash?tab=1";
  s.code_verifier = std::string(128, 'v');
  s.nonce = "n\"once";
  s.error_url = "/oops";
  s.new_user_url = "/welcome";
  s.link = LinkTarget{"ada@example.com", "2f0c6c1e-0000-4000-8000-000000000001"};
  s.request_sign_up = true;
  s.challenge_hash = "abc";
  s.expires_at = 1'795'770'446'000;
  return s;
}

TEST(OAuthState, RoundTripsWithBetterAuthsMemberNamesFirst) {
  const std::string json = SerializeState(Sample());
  EXPECT_EQ(json.rfind("{\"callbackURL\":\"http://localhost:3000/dash?tab=1\",\"codeVerifier\":", 0), 0u) << json;
  const auto back = ParseState(json);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->provider_id, "acme");
  EXPECT_EQ(back->callback_url, "http://localhost:3000/dash?tab=1");
  EXPECT_EQ(back->code_verifier, std::string(128, 'v'));
  EXPECT_EQ(back->nonce, "n\"once");
  EXPECT_EQ(back->error_url, "/oops");
  EXPECT_EQ(back->new_user_url, "/welcome");
  ASSERT_TRUE(back->link);
  EXPECT_EQ(back->link->email, "ada@example.com");
  EXPECT_EQ(back->link->user_id, "2f0c6c1e-0000-4000-8000-000000000001");
  EXPECT_TRUE(back->request_sign_up);
  EXPECT_EQ(back->challenge_hash, "abc");
  EXPECT_EQ(back->expires_at, 1'795'770'446'000);
}

TEST(OAuthState, RefusesIncompleteOrMistypedRecords) {
  EXPECT_FALSE(ParseState("not json"));
  EXPECT_FALSE(ParseState("[]"));
  EXPECT_FALSE(ParseState(R"({"callbackURL":"/","codeVerifier":"v","expiresAt":1})")) << "no provider";
  EXPECT_FALSE(ParseState(R"({"providerId":"a","codeVerifier":"v","expiresAt":1})")) << "no callback";
  EXPECT_FALSE(ParseState(R"({"providerId":"a","callbackURL":"/","codeVerifier":"","expiresAt":1})"));
  EXPECT_FALSE(ParseState(R"({"providerId":"a","callbackURL":"/","codeVerifier":"v","expiresAt":"1"})"));
  EXPECT_FALSE(ParseState(R"({"providerId":"a","callbackURL":"/","codeVerifier":"v","expiresAt":1,"link":"x"})"));
  EXPECT_FALSE(ParseState(R"({"providerId":"a","callbackURL":"/","codeVerifier":"v","expiresAt":1,"link":{"email":"e"}})"));
  EXPECT_TRUE(ParseState(R"({"providerId":"a","callbackURL":"/","codeVerifier":"v","expiresAt":1,"link":null})"));
}

TEST(OAuthState, ACallbackChecksPresenceExpiryAndProvider) {
  const auto s = Sample();
  EXPECT_EQ(CheckState(s, "acme", s.expires_at - 1), StateProblem::kNone);
  EXPECT_EQ(CheckState(s, "acme", s.expires_at), StateProblem::kExpired);
  EXPECT_EQ(CheckState(s, "github", s.expires_at - 1), StateProblem::kWrongProvider);
  EXPECT_EQ(CheckState(std::nullopt, "acme", 0), StateProblem::kMismatch);
  EXPECT_EQ(StateErrorCode(StateProblem::kNotFound), "state_not_found");
  EXPECT_EQ(StateErrorCode(StateProblem::kWrongProvider), "state_mismatch");
}

}  // namespace
}  // namespace pgwarden::auth::oauth
