//! The limiter's pure parts: Better Auth's window semantics, its rules, client addresses behind proxies, IPv6
//! buckets, the per-account back-off, and the memory store (security.md RL-01, RL-04, RL-05).
#include "ratelimit/limiter.hpp"

#include <gtest/gtest.h>

namespace pgwarden::ratelimit {
namespace {

TEST(Decide, BetterAuthWindowSemantics) {
  std::optional<Counter> c;
  const Rule r{10, 3};
  EXPECT_TRUE(Decide(c, r, 1000).allowed);
  EXPECT_TRUE(Decide(c, r, 2000).allowed);
  EXPECT_TRUE(Decide(c, r, 3000).allowed);
  const Decision refused = Decide(c, r, 4000);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_s, 9);  // ceil((3000 + 10000 - 4000) / 1000)
  EXPECT_EQ(c->count, 3);               // a refused request is not counted
  EXPECT_EQ(c->last, 3000);
  EXPECT_FALSE(Decide(c, r, 13000).allowed);  // exactly `window` after the last allowed: still refused
  EXPECT_EQ(Decide(c, r, 12999).retry_after_s, 1);
  EXPECT_TRUE(Decide(c, r, 13001).allowed);   // more than `window`: the count restarts
  EXPECT_EQ(c->count, 1);
}

TEST(Decide, EveryAllowedRequestMovesTheWindow) {
  // Not a fixed window: steady requests below the limit never reset, at the limit they are refused.
  std::optional<Counter> c;
  const Rule r{10, 2};
  EXPECT_TRUE(Decide(c, r, 0).allowed);
  EXPECT_TRUE(Decide(c, r, 9000).allowed);
  EXPECT_FALSE(Decide(c, r, 18000).allowed);  // 9 s after the last allowed one
  EXPECT_TRUE(Decide(c, r, 19001).allowed);
}

TEST(RuleFor, BetterAuthRulesAndOverrides) {
  config::RateLimitConfig cfg;
  const auto rule = [&](std::string_view p) { return RuleFor(p, cfg); };
  EXPECT_EQ(rule("/sign-in/email")->max, 3);
  EXPECT_EQ(rule("/sign-in/email")->window_s, 10);
  EXPECT_EQ(rule("/sign-up/email")->window_s, 10);
  EXPECT_EQ(rule("/change-password")->max, 3);
  EXPECT_EQ(rule("/change-email")->max, 3);
  EXPECT_EQ(rule("/request-password-reset")->window_s, 60);
  EXPECT_EQ(rule("/send-verification-email")->window_s, 60);
  EXPECT_EQ(rule("/forget-password/email-otp")->window_s, 60);
  EXPECT_EQ(rule("/sign-in/email-otp")->window_s, 60);  // the plugin rule beats /sign-in*
  EXPECT_EQ(rule("/sign-in/magic-link")->max, 5);
  EXPECT_EQ(rule("/magic-link/verify")->max, 5);
  EXPECT_EQ(rule("/get-session")->max, 100);
  EXPECT_EQ(rule("/get-session")->window_s, 10);

  cfg.window_s = 60;
  cfg.max = 1000;
  cfg.rules.push_back({"/get-session", false, true, 0, 0});
  cfg.rules.push_back({"/sign-in/", true, false, 10, 30});
  EXPECT_FALSE(rule("/get-session").has_value());
  EXPECT_EQ(rule("/sign-in/email")->max, 10);
  EXPECT_EQ(rule("/sign-in/email")->window_s, 30);
  EXPECT_EQ(rule("/token")->max, 1000);
  EXPECT_EQ(MaxWindow(cfg), 60);
}

TEST(ClientAddress, ForwardedForOnlyFromTrustedProxies) {
  const TrustedProxies none({});
  EXPECT_EQ(ClientAddress("203.0.113.9", "198.51.100.1", none), "203.0.113.9");
  const TrustedProxies proxies({"10.0.0.0/8", "2001:db8:ffff::1"});
  EXPECT_EQ(ClientAddress("203.0.113.9", "198.51.100.1", proxies), "203.0.113.9");  // peer is not a proxy
  EXPECT_EQ(ClientAddress("10.1.2.3", "198.51.100.1", proxies), "198.51.100.1");
  // Right to left: spoofed entries written by the client are skipped.
  EXPECT_EQ(ClientAddress("10.1.2.3", "1.1.1.1, 198.51.100.1, 10.9.9.9", proxies), "198.51.100.1");
  EXPECT_EQ(ClientAddress("2001:db8:ffff::1", "2001:db8:1::5", proxies), "2001:db8:1::5");
  EXPECT_EQ(ClientAddress("10.1.2.3", "", proxies), "10.1.2.3");
  EXPECT_EQ(ClientAddress("10.1.2.3", "garbage", proxies), "10.1.2.3");
  EXPECT_EQ(ClientAddress("10.1.2.3", "10.4.4.4", proxies), "10.1.2.3");  // only proxies
}

TEST(BucketOf, Ipv6PerSlash64AndMappedIpv4) {
  EXPECT_EQ(BucketOf("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(BucketOf("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(BucketOf("2001:db8::1"), BucketOf("2001:0DB8:0:0::1"));
  EXPECT_EQ(BucketOf("2001:db8::1"), BucketOf("2001:db8::ffff"));
  EXPECT_EQ(BucketOf("2001:db8::1"), BucketOf("2001:db8:0:0:ffff:ffff:ffff:ffff"));
  EXPECT_NE(BucketOf("2001:db8::1"), BucketOf("2001:db8:0:1::1"));
  EXPECT_EQ(BucketOf("2001:db8::1"), "2001:db8:0:0::/64");
}

TEST(Backoff, ExponentialAfterTheThresholdWithinTheWindow) {
  const BackoffPolicy p{3, 900, 60};
  EXPECT_EQ(BackoffRemaining(2, 0, p, 0), 0);
  EXPECT_EQ(BackoffRemaining(3, 0, p, 0), 1);
  EXPECT_EQ(BackoffRemaining(4, 0, p, 0), 2);
  EXPECT_EQ(BackoffRemaining(6, 0, p, 0), 8);
  EXPECT_EQ(BackoffRemaining(6, 0, p, 7500), 1);
  EXPECT_EQ(BackoffRemaining(6, 0, p, 8000), 0);
  EXPECT_EQ(BackoffRemaining(40, 0, p, 0), 60);        // capped
  EXPECT_EQ(BackoffRemaining(40, 0, p, 901000), 0);    // the failures are older than the window
  EXPECT_EQ(BackoffRemaining(40, 0, BackoffPolicy{0, 900, 60}, 0), 0);  // off
}

TEST(MemoryStore, CountsPerKey) {
  MemoryStore store(60);
  const Rule r{10, 3};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(store.ConsumeNow("a|/sign-in/email", r, 1000 + i).allowed);
  EXPECT_FALSE(store.ConsumeNow("a|/sign-in/email", r, 1005).allowed);
  EXPECT_TRUE(store.ConsumeNow("b|/sign-in/email", r, 1005).allowed);
  EXPECT_TRUE(store.ConsumeNow("a|/sign-in/social", r, 1005).allowed);
  EXPECT_TRUE(store.ConsumeNow("a|/sign-in/email", r, 12003).allowed);
}

}  // namespace
}  // namespace pgwarden::ratelimit
