//! Shared by every libFuzzer target in tests/fuzz: a property check that reports what failed and then traps,
//! so libFuzzer records the input as a crash (artifact) exactly as it does for a sanitizer report.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                            \
  do {                                                                                              \
    if (!(cond)) {                                                                                  \
      std::fprintf(stderr, "\n*** fuzz property violated: %s\n    at %s:%d\n", #cond, __FILE__, __LINE__); \
      __builtin_trap();                                                                             \
    }                                                                                               \
  } while (0)

namespace pgwarden::fuzz {

inline std::string_view AsView(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace pgwarden::fuzz
