//! Internal helper (not part of the module's public API): libsodium must be initialised once before use.
//! EnsureSodium() does that exactly once, thread-safely (function-local static), and aborts if libsodium
//! cannot initialise (no safe way to continue without a working CSPRNG/primitive set).
#pragma once

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace pgwarden::crypto::detail {

inline void EnsureSodium() {
  static const bool kReady = [] {
    if (sodium_init() < 0) {
      std::fputs("pgwarden: sodium_init() failed\n", stderr);
      std::abort();
    }
    return true;
  }();
  (void)kReady;
}

}  // namespace pgwarden::crypto::detail
