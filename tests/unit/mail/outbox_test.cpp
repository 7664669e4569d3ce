//! The outbox: non-blocking enqueue, exponential backoff, give-up rules, draining Stop, logs without bodies.
#include "mail/outbox.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <mutex>
#include <string>
#include <vector>

namespace pgwarden::mail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

//! Answers from a script (then success), recording every attempt.
class FakeSender final : public Sender {
 public:
  explicit FakeSender(std::vector<ErrorCode> script = {}) : script_(std::move(script)) {}
  Result<void> Send(const Message& message) override {
    if (gate_) gate_->wait();
    std::lock_guard lock(mutex_);
    attempts_.push_back({Clock::now(), message.message_id, message.to});
    const std::size_t n = attempts_.size() - 1;
    const ErrorCode code = n < script_.size() ? script_[n] : always_;
    if (code == ErrorCode::kNone) return {};
    return MakeError(code, "fake failure");
  }
  std::string_view Name() const override { return "fake"; }

  struct Attempt {
    Clock::time_point at;
    std::string message_id;
    std::string to;
  };
  std::vector<Attempt> Attempts() {
    std::lock_guard lock(mutex_);
    return attempts_;
  }
  ErrorCode always_ = ErrorCode::kNone;
  std::shared_future<void>* gate_ = nullptr;

 private:
  std::vector<ErrorCode> script_;
  std::mutex mutex_;
  std::vector<Attempt> attempts_;
};

OutboxOptions Fast() {
  OutboxOptions o;
  o.max_attempts = 6;
  o.initial_backoff = 10ms;
  o.max_backoff = 25ms;
  return o;
}

Message Mail(std::string to = "alice@example.org") {
  Message m;
  m.from = "no-reply@auth.example.com";
  m.to = std::move(to);
  m.subject = "Your code";
  m.text = "BODY-SECRET-123456";
  return m;
}

TEST(OutboxBackoff, DoublesFromTheInitialWaitAndIsCapped) {
  const OutboxOptions d;  // the defaults: 1 s, 2 s, 4 s ... 60 s
  EXPECT_EQ(Outbox::Backoff(d, 1), 1000ms);
  EXPECT_EQ(Outbox::Backoff(d, 2), 2000ms);
  EXPECT_EQ(Outbox::Backoff(d, 3), 4000ms);
  EXPECT_EQ(Outbox::Backoff(d, 5), 16000ms);
  EXPECT_EQ(Outbox::Backoff(d, 7), 60000ms);
  EXPECT_EQ(Outbox::Backoff(d, 1000), 60000ms);
  EXPECT_EQ(d.max_attempts, 6);
}

TEST(Outbox, SendsAnEnqueuedMessageAndFixesItsMessageId) {
  auto sender = std::make_unique<FakeSender>();
  FakeSender* fake = sender.get();
  Outbox outbox(std::move(sender), Fast());
  ASSERT_TRUE(outbox.Enqueue(Mail()));
  outbox.Stop(1s);
  const auto attempts = fake->Attempts();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].to, "alice@example.org");
  EXPECT_EQ(attempts[0].message_id.find("@auth.example.com>"), 33u) << attempts[0].message_id;
  EXPECT_EQ(outbox.Stats().sent, 1u);
}

TEST(Outbox, RetriesTransientFailuresWithExponentialBackoff) {
  auto sender = std::make_unique<FakeSender>(std::vector<ErrorCode>{
      ErrorCode::kServiceUnavailable, ErrorCode::kServiceUnavailable, ErrorCode::kServiceUnavailable});
  FakeSender* fake = sender.get();
  Outbox outbox(std::move(sender), Fast());
  ASSERT_TRUE(outbox.Enqueue(Mail()));
  outbox.Stop(2s);
  const auto attempts = fake->Attempts();
  ASSERT_EQ(attempts.size(), 4u);
  const std::vector<std::chrono::milliseconds> waits = {10ms, 20ms, 25ms};  // 40 ms capped at 25
  for (std::size_t i = 1; i < attempts.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_GE(attempts[i].at - attempts[i - 1].at, waits[i - 1]);
    EXPECT_EQ(attempts[i].message_id, attempts[0].message_id) << "a retry is the same message";
  }
  const auto stats = outbox.Stats();
  EXPECT_EQ(stats.sent, 1u);
  EXPECT_EQ(stats.failed, 0u);
}

TEST(Outbox, GivesUpAfterMaxAttempts) {
  auto sender = std::make_unique<FakeSender>();
  FakeSender* fake = sender.get();
  fake->always_ = ErrorCode::kServiceUnavailable;
  OutboxOptions o = Fast();
  o.max_attempts = 3;
  o.initial_backoff = 1ms;
  Outbox outbox(std::move(sender), o);
  ASSERT_TRUE(outbox.Enqueue(Mail()));
  outbox.Stop(2s);
  EXPECT_EQ(fake->Attempts().size(), 3u);
  EXPECT_EQ(outbox.Stats().failed, 1u);
  EXPECT_EQ(outbox.Stats().sent, 0u);
}

TEST(Outbox, DoesNotRetryPermanentFailures) {
  auto sender = std::make_unique<FakeSender>(std::vector<ErrorCode>{ErrorCode::kBadRequest});
  FakeSender* fake = sender.get();
  Outbox outbox(std::move(sender), Fast());
  ASSERT_TRUE(outbox.Enqueue(Mail()));
  outbox.Stop(2s);
  EXPECT_EQ(fake->Attempts().size(), 1u);
  EXPECT_EQ(outbox.Stats().failed, 1u);
}

TEST(Outbox, EnqueueDoesNotWaitForASendInProgress) {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  auto sender = std::make_unique<FakeSender>();
  FakeSender* fake = sender.get();
  fake->gate_ = &gate;
  Outbox outbox(std::move(sender), Fast());
  ASSERT_TRUE(outbox.Enqueue(Mail("first@example.org")));
  const auto start = Clock::now();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(outbox.Enqueue(Mail("next@example.org")));
  EXPECT_LT(Clock::now() - start, 500ms) << "the worker is blocked in Send; Enqueue must not be";
  release.set_value();
  outbox.Stop(2s);
  EXPECT_EQ(fake->Attempts().size(), 51u);
  EXPECT_EQ(outbox.Stats().sent, 51u);
}

TEST(Outbox, StopDrainsTheQueueThenRefusesNewMessages) {
  auto sender = std::make_unique<FakeSender>();
  FakeSender* fake = sender.get();
  Outbox outbox(std::move(sender), Fast());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(outbox.Enqueue(Mail()));
  outbox.Stop(2s);
  EXPECT_EQ(fake->Attempts().size(), 20u);
  EXPECT_EQ(outbox.Stats().pending, 0u);
  EXPECT_FALSE(outbox.Enqueue(Mail()));
}

TEST(Outbox, StopGivesUpAtItsDeadline) {
  auto sender = std::make_unique<FakeSender>();
  FakeSender* fake = sender.get();
  fake->always_ = ErrorCode::kServiceUnavailable;
  OutboxOptions o = Fast();
  o.initial_backoff = 60ms;
  o.max_backoff = 60ms;
  Outbox outbox(std::move(sender), o);
  ASSERT_TRUE(outbox.Enqueue(Mail()));
  const auto start = Clock::now();
  while (fake->Attempts().empty() && Clock::now() - start < 1s) std::this_thread::sleep_for(1ms);
  outbox.Stop(20ms);
  EXPECT_LT(Clock::now() - start, 500ms) << "Stop must not wait for the next retry past its deadline";
  EXPECT_EQ(fake->Attempts().size(), 1u);
  EXPECT_EQ(outbox.Stats().dropped, 1u);
}

TEST(Outbox, RefusesBeyondItsCapacity) {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  auto sender = std::make_unique<FakeSender>();
  sender->gate_ = &gate;
  OutboxOptions o = Fast();
  o.max_queued = 3;
  Outbox outbox(std::move(sender), o);
  int accepted = 0;
  for (int i = 0; i < 10; ++i) accepted += outbox.Enqueue(Mail()) ? 1 : 0;
  EXPECT_GE(accepted, 3);
  EXPECT_LE(accepted, 4);  // one may already be in the (blocked) sender
  release.set_value();
  outbox.Stop(2s);
}

TEST(Outbox, LogsAttemptsWithTheRecipientButNeverTheBody) {
  testing::internal::CaptureStderr();
  {
    Outbox outbox(std::make_unique<FakeSender>(std::vector<ErrorCode>{ErrorCode::kServiceUnavailable}), Fast());
    ASSERT_TRUE(outbox.Enqueue(Mail()));
    outbox.Stop(2s);
  }
  const std::string logs = testing::internal::GetCapturedStderr();
  EXPECT_NE(logs.find("\"event\":\"mail.retry\""), std::string::npos) << logs;
  EXPECT_NE(logs.find("\"event\":\"mail.sent\""), std::string::npos) << logs;
  EXPECT_NE(logs.find("alice@example.org"), std::string::npos);
  EXPECT_NE(logs.find("\"attempt\":\"2\""), std::string::npos);
  EXPECT_EQ(logs.find("BODY-SECRET-123456"), std::string::npos);
}

TEST(ConsoleSender, PrintsHeadersAndTheTextBody) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ConsoleSender console(f);
  Message m = Mail();
  m.text = "Click https://app.example/verify?token=abc";
  ASSERT_TRUE(console.Send(m));
  std::rewind(f);
  std::string out;
  char buf[512];
  while (const std::size_t n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  std::fclose(f);
  EXPECT_NE(out.find("To:      alice@example.org\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Subject: Your code\n"), std::string::npos);
  EXPECT_NE(out.find("Click https://app.example/verify?token=abc\n"), std::string::npos);
}

}  // namespace
}  // namespace pgwarden::mail
