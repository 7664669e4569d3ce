//! Data recorded from the reference implementation (Better Auth 1.6.23 "oracle" server on this machine,
//! secret kOracleSecret, Postgres schema neon_auth) on 2026-11-27. These are fixed known-answer vectors; the
//! tests never contact the oracle. How each value was obtained is noted next to it.
#pragma once

#include <string_view>

namespace pgwarden::crypto::fixtures {

//! BETTER_AUTH_SECRET the oracle runs with.
inline constexpr std::string_view kOracleSecret = "oracle-test-secret-0123456789abcdef0123456789abcdef";

// `curl -s http://127.0.0.1:4100/auth/jwks` (creates the key), then
// `psql ... -Atc 'select id, "publicKey", "privateKey" from neon_auth.jwks'`.
inline constexpr std::string_view kOracleJwkId = "e7f1c440-189c-49ed-8a04-0d0c62da14b8";
inline constexpr std::string_view kOraclePublicJwk =
    R"({"crv":"Ed25519","x":"NCfAjLizuGvDVmS252L0w619pOz4faKozb5lA1mZme0","kty":"OKP"})";
inline constexpr std::string_view kOraclePublicX = "NCfAjLizuGvDVmS252L0w619pOz4faKozb5lA1mZme0";
//! jwks.privateKey verbatim: a JSON string literal (quotes included) holding the sealed hex.
inline constexpr std::string_view kOracleSealedPrivateKeyColumn =
    R"("c2da1babdbef71e5b1a472a75450f55c38f4701486d3b2051a30b30b86cea559c4e8e51e6750c7def9bd35376a5d4c25b60b9c0f22)"
    R"(e5c8088c6c8f86fb8bc525d864061e9de8326db4180c4a3a6df720f6a0c573f8b1c6eb5c1bfc0c5c96a453791e366ce99a4a583f1dd0)"
    R"(02d36521cfb5256d74484fd6193cc19cf700cda47a330ef34f14404fb469d38faa704dc17e9a1b56e04d558a089055ad7892229281a2)"
    R"(82d5119c51c398ed")";

// POST /auth/sign-up/email {"email":"vec1@example.com","password":"correct-horse-1","name":"V"}; the
// response's "token", its set-auth-token header (signed value) and set-cookie value (URI-encoded).
inline constexpr std::string_view kOracleSessionToken = "RiMEiuJbwsACi8qYeN3rxiD7Shg7mUjX";
inline constexpr std::string_view kOracleSignedSessionToken =
    "RiMEiuJbwsACi8qYeN3rxiD7Shg7mUjX.NGtZhVBx0C/VCzewtN4zqvh4K2RJGFdpJTbBeVqq884=";
inline constexpr std::string_view kOracleSessionCookieValue =
    "RiMEiuJbwsACi8qYeN3rxiD7Shg7mUjX.NGtZhVBx0C%2FVCzewtN4zqvh4K2RJGFdpJTbBeVqq884%3D";
//! neon_auth.account.password for vec1@example.com ("correct-horse-1").
inline constexpr std::string_view kOracleVec1PasswordHash =
    "0110a345482f2aee1d1e1da40a0a481d:6f020e0185cf7ea413a1affba5f6f17fee932ed829c2efa0d4bbb2f2bdeca449c97787cc95a0"
    "9c6083906746f972bcf110d9c09cea1bfda5b990717e40080597";

// GET /auth/token with `Authorization: Bearer <kOracleSessionToken>`: an EdDSA JWT signed with the key above.
inline constexpr std::string_view kOracleEdDsaJwt =
    "eyJhbGciOiJFZERTQSIsImtpZCI6ImU3ZjFjNDQwLTE4OWMtNDllZC04YTA0LTBkMGM2MmRhMTRiOCJ9."
    "eyJpYXQiOjE3OTU3NzQ0MjQsImVtYWlsIjoidmVjMUBleGFtcGxlLmNvbSIsInJvbGUiOiJhdXRoZW50aWNhdGVkIiwic3ViIjoiNTAyYTNiMz"
    "ctOTc4YS00MWNiLWIyNGEtN2MxMDYzYTY2ZDI3IiwiZXhwIjoxNzk1Nzc1MzI0LCJpc3MiOiJodHRwOi8vbG9jYWxob3N0OjQxMDAiLCJhdWQi"
    "OiJodHRwOi8vbG9jYWxob3N0OjQxMDAifQ."
    "YmRqBFufMfkrRL8RpWXxwKBKZ1vRqur-T9N-1vbTNK_4IZMCvI786590ZcnJ6MtM24TWuXSBrIhN7urKpCS7CA";

// POST /auth/sign-up/email with password "\ufb01x-horse-\u2460\u00c5" (fi ligature, circled digit one,
// A-ring) for vec2-nfkc@example.com; neon_auth.account.password. NFKC of the password is "fix-horse-1\u00c5".
inline constexpr std::string_view kOracleNfkcPassword = "\xEF\xAC\x81x-horse-\xE2\x91\xA0\xC3\x85";
inline constexpr std::string_view kOracleNfkcPasswordHash =
    "d1ceb98cf363b003f3ce91205e5a54b8:951c9f14ade6fa64b3bad519ed633410b9cfb1fb3b88efc5ba5df9fb732f637e6a1f622be17f"
    "d0332d94c71fb56c245b93ddc9467f4d024763581ecc0103d41c";

}  // namespace pgwarden::crypto::fixtures
