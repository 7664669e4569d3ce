//! The signing key ring over neon_auth.jwks: created once, stored sealed as Better Auth stores it,
//! reloaded unchanged, refused with another secret, and signing/verifying EdDSA tokens.
#include "auth/key_ring.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/json.hpp"
#include "crypto/encoding.hpp"
#include "crypto/jwt.hpp"
#include "crypto/seal.hpp"
#include "pg_fixture.hpp"

namespace pgwarden::auth {
namespace {

using testing::ErrorText;

const std::string kSecret = "better-auth-secret-123456789-abcdef";

class KeyRingTest : public testing::FreshDatabaseTest {
 protected:
  void SetUp() override {
    FreshDatabaseTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(Migrate());
    conn_ = Connect();
    ASSERT_NE(conn_, nullptr);
  }
  std::unique_ptr<db::Connection> conn_;
};

TEST_F(KeyRingTest, CreatesOneKeyStoredSealedAsBetterAuthDoes) {
  const auto ring = KeyRing::LoadOrCreate(*conn_, kSecret);
  ASSERT_OK(ring);
  const auto rows = conn_->QueryBlocking(
      "SELECT id::text, \"publicKey\", \"privateKey\", \"createdAt\" IS NOT NULL, \"expiresAt\" IS NULL "
      "FROM neon_auth.jwks");
  ASSERT_OK(rows);
  ASSERT_EQ(rows->Size(), 1);
  EXPECT_EQ(rows->Text(0, 0), (*ring)->Current().kid);
  EXPECT_TRUE(rows->Bool(0, 3));
  EXPECT_TRUE(rows->Bool(0, 4));

  // publicKey: Better Auth's public JWK text for the ring's key.
  EXPECT_EQ(rows->Text(0, 1), crypto::Ed25519PublicJwk((*ring)->Current().pair));

  // privateKey: a JSON string (quotes included) of lowercase hex...
  const std::string column(rows->Text(0, 2));
  ASSERT_GE(column.size(), 2u);
  EXPECT_EQ(column.front(), '"');
  EXPECT_EQ(column.back(), '"');
  const json::value parsed = json::parse(column);
  ASSERT_TRUE(parsed.is_string());
  const std::string hex(parsed.get_string());
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
  // ...that opens with the secret to the private JWK of the same key.
  const auto plain = crypto::UnsealHex(kSecret, hex);
  ASSERT_TRUE(plain.has_value());
  const auto pair = crypto::ParseEd25519PrivateJwk(*plain);
  ASSERT_TRUE(pair.has_value()) << *plain;
  EXPECT_EQ(pair->public_key, (*ring)->Current().pair.public_key);
  EXPECT_EQ(crypto::UnsealHex("another-secret-another-secret-xx", hex), std::nullopt);
}

TEST_F(KeyRingTest, LoadsTheSameKeyOnTheNextStart) {
  const auto first = KeyRing::LoadOrCreate(*conn_, kSecret);
  ASSERT_OK(first);
  auto other_conn = Connect();
  ASSERT_NE(other_conn, nullptr);
  const auto second = KeyRing::LoadOrCreate(*other_conn, kSecret);
  ASSERT_OK(second);
  EXPECT_EQ((*second)->Current().kid, (*first)->Current().kid);
  EXPECT_EQ((*second)->Current().pair.public_key, (*first)->Current().pair.public_key);
  EXPECT_EQ((*second)->JwksJson(), (*first)->JwksJson());
  EXPECT_EQ(Scalar(*conn_, "SELECT count(*) FROM neon_auth.jwks"), "1");
}

TEST_F(KeyRingTest, FailsClearlyWithAnotherSecret) {
  ASSERT_OK(KeyRing::LoadOrCreate(*conn_, kSecret));
  const auto wrong = KeyRing::LoadOrCreate(*conn_, "a-different-secret-of-32-characters!");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kInternal);
  EXPECT_NE(wrong.error().message.find("another secret"), std::string::npos) << wrong.error().message;
  // And it does not paper over the problem by creating a second key.
  EXPECT_EQ(Scalar(*conn_, "SELECT count(*) FROM neon_auth.jwks"), "1");
}

TEST_F(KeyRingTest, PublishesTheKeyInBetterAuthsJwksShape) {
  const auto ring = KeyRing::LoadOrCreate(*conn_, kSecret);
  ASSERT_OK(ring);
  const auto& key = (*ring)->Current();
  EXPECT_EQ((*ring)->JwksJson(), R"({"keys":[{"alg":"EdDSA","crv":"Ed25519","x":")" +
                                     crypto::Base64UrlEncode(key.pair.public_key) +
                                     R"(","kty":"OKP","kid":")" + key.kid + R"("}]})");
}

TEST_F(KeyRingTest, SignsTokensThatItVerifies) {
  const auto ring = KeyRing::LoadOrCreate(*conn_, kSecret);
  ASSERT_OK(ring);
  const std::string payload = R"({"iat":1796374500,"sub":"8a6e0804-2bd0-4672-b79d-d97027f9071a","role":"authenticated"})";
  const std::string token = (*ring)->Sign(payload);
  EXPECT_EQ((*ring)->Verify(token), std::optional<std::string>(payload));

  const auto jws = crypto::DecodeJws(token);
  ASSERT_TRUE(jws.has_value());
  EXPECT_EQ(jws->header_json, R"({"alg":"EdDSA","kid":")" + (*ring)->Current().kid + R"("})");
  EXPECT_EQ(jws->payload_json, payload);
  EXPECT_TRUE(crypto::VerifyEd25519((*ring)->Current().pair.public_key, jws->signing_input, jws->signature));

  // A ring loaded later (another instance) verifies it too.
  auto other_conn = Connect();
  ASSERT_NE(other_conn, nullptr);
  const auto reloaded = KeyRing::LoadOrCreate(*other_conn, kSecret);
  ASSERT_OK(reloaded);
  EXPECT_EQ((*reloaded)->Verify(token), std::optional<std::string>(payload));
}

TEST_F(KeyRingTest, RejectsTamperedOrForeignTokens) {
  const auto ring = KeyRing::LoadOrCreate(*conn_, kSecret);
  ASSERT_OK(ring);
  const std::string kid = (*ring)->Current().kid;
  const std::string token = (*ring)->Sign(R"({"sub":"a"})");

  // Payload swapped, signature kept.
  const std::string forged_payload = crypto::Base64UrlEncode(R"({"sub":"b"})");
  const auto dot1 = token.find('.'), dot2 = token.rfind('.');
  const std::string swapped = token.substr(0, dot1 + 1) + forged_payload + token.substr(dot2);
  // Signed by another key under our kid.
  const std::string foreign =
      crypto::SignEdDsa(crypto::GenerateEd25519(), R"({"alg":"EdDSA","kid":")" + kid + R"("})", R"({"sub":"a"})");
  // Right key, unknown kid.
  const std::string wrong_kid =
      crypto::SignEdDsa((*ring)->Current().pair, R"({"alg":"EdDSA","kid":"other"})", R"({"sub":"a"})");
  // HS256 with the public key as the HMAC secret (algorithm confusion).
  const std::string hs256 =
      crypto::SignHs256((*ring)->Current().pair.public_key, R"({"alg":"HS256","kid":")" + kid + R"("})", R"({"sub":"a"})");
  const std::string none = crypto::Base64UrlEncode(R"({"alg":"none","kid":")" + kid + R"("})") + "." +
                           crypto::Base64UrlEncode(R"({"sub":"a"})") + ".";
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';

  for (const auto& [name, bad] : std::vector<std::pair<std::string, std::string>>{
           {"payload swapped", swapped},
           {"foreign key", foreign},
           {"unknown kid", wrong_kid},
           {"HS256 confusion", hs256},
           {"alg none", none},
           {"flipped signature", flipped},
           {"empty", ""},
           {"two segments", token.substr(0, dot2)}}) {
    SCOPED_TRACE(name);
    EXPECT_EQ((*ring)->Verify(bad), std::nullopt);
  }
}

TEST_F(KeyRingTest, CreatesASingleKeyWhenSeveralInstancesStartAtOnce) {
  // Instances behind a load balancer must agree on one signing key, or each publishes a JWKS the
  // others' tokens are not in.
  constexpr int kInstances = 8;
  std::vector<std::unique_ptr<db::Connection>> conns;
  for (int i = 0; i < kInstances; ++i) {
    conns.push_back(Connect());
    ASSERT_NE(conns.back(), nullptr);
  }
  std::barrier start(kInstances);
  std::vector<std::string> kids(kInstances);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      const auto ring = KeyRing::LoadOrCreate(*conns[i], kSecret);
      if (!ring) {
        ++failures;
        return;
      }
      kids[i] = (*ring)->Current().kid;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Scalar(*conn_, "SELECT count(*) FROM neon_auth.jwks"), "1");
  EXPECT_EQ(std::set<std::string>(kids.begin(), kids.end()).size(), 1u);
}

}  // namespace
}  // namespace pgwarden::auth
