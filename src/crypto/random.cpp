//! CSPRNG helpers on OpenSSL's RAND_bytes. A failing RAND_bytes means the process has no usable entropy
//! source; there is no safe fallback, so it aborts rather than hand out predictable values.
#include "crypto/random.hpp"

#include <openssl/rand.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace pgwarden::crypto {
namespace {

void FillRandom(unsigned char* out, std::size_t n) {
  while (n > 0) {
    const int chunk = n > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
    if (RAND_bytes(out, chunk) != 1) {
      std::fputs("pgwarden: RAND_bytes failed\n", stderr);
      std::abort();
    }
    out += chunk;
    n -= static_cast<std::size_t>(chunk);
  }
}

}  // namespace

std::string RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > 0) FillRandom(reinterpret_cast<unsigned char*>(out.data()), n);
  return out;
}

std::string RandomString(std::size_t n, std::string_view alphabet) {
  // An empty or oversized alphabet is a programming error; return "" rather than loop forever / misindex.
  if (alphabet.empty() || alphabet.size() > 256 || n == 0) return {};
  const std::size_t size = alphabet.size();
  // Accept a byte only below the largest multiple of `size` that fits in 256, so `byte % size` is uniform.
  const std::size_t limit = 256 / size * size;
  std::string out;
  out.reserve(n);
  std::string buffer;
  std::size_t used = 0;
  while (out.size() < n) {
    if (used == buffer.size()) {
      buffer = RandomBytes((n - out.size()) * 2);
      used = 0;
    }
    const auto b = static_cast<unsigned char>(buffer[used++]);
    if (b < limit) out += alphabet[b % size];
  }
  return out;
}

std::string RandomUuid() {
  std::string b = RandomBytes(16);
  b[6] = static_cast<char>((static_cast<unsigned char>(b[6]) & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<char>((static_cast<unsigned char>(b[8]) & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    const auto v = static_cast<unsigned char>(b[i]);
    out += kHex[v >> 4];
    out += kHex[v & 0x0F];
  }
  return out;
}

}  // namespace pgwarden::crypto
