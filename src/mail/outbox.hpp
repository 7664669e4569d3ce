//! The in-memory outbox: `Enqueue` stores a message and returns at once (request handlers never wait for the
//! network); one worker thread owned by the Outbox sends through a `Sender`, retrying transient failures with
//! exponential backoff (initial, 2x, 4x ... capped at `max_backoff`) up to `max_attempts`. Each attempt is logged
//! (mail.sent / mail.retry / mail.failed) with the recipient, Message-ID and attempt number, never a body or a
//! credential. Messages are lost on process exit beyond `Stop`'s deadline (no persistence, by design for now).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "mail/message.hpp"
#include "mail/sender.hpp"

namespace pgwarden::mail {

struct OutboxOptions {
  int max_attempts = 6;
  std::chrono::milliseconds initial_backoff{1'000};
  std::chrono::milliseconds max_backoff{60'000};
  std::size_t max_queued = 10'000;  //!< Enqueue refuses beyond this (a stuck relay must not eat the memory)
};

struct OutboxStats {
  std::uint64_t sent = 0;
  std::uint64_t failed = 0;   //!< gave up (permanent error or attempts exhausted)
  std::uint64_t dropped = 0;  //!< still queued when Stop's deadline passed
  std::size_t pending = 0;
};

//! Owns its Sender and its worker thread; thread-safe.
class Outbox {
 public:
  Outbox(std::unique_ptr<Sender> sender, OutboxOptions options = {});
  ~Outbox();  //!< Stop with a zero deadline when Stop was not called
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  //! Queues the message (its Message-ID is fixed here so that retries reuse it). False when stopping or full.
  bool Enqueue(Message message);
  //! Refuses new messages, keeps sending (and retrying) until the queue is empty or `deadline` has passed, then
  //! joins the worker. A send in progress at the deadline is not interrupted (SMTP timeouts bound it).
  void Stop(std::chrono::milliseconds deadline);
  OutboxStats Stats() const;

  //! The wait before attempt `attempt + 1` after `attempt` failures (1-based): initial * 2^(attempt-1), capped.
  static std::chrono::milliseconds Backoff(const OutboxOptions& options, int attempt);

 private:
  struct Item {
    Message message;
    int attempts = 0;
    std::chrono::steady_clock::time_point due;
  };
  void Run();

  const std::unique_ptr<Sender> sender_;
  const OutboxOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // not ordered by due time; the worker picks the earliest
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_{};
  OutboxStats stats_;
  std::mutex join_mutex_;
  std::thread worker_;
};

}  // namespace pgwarden::mail
