//! What the Outbox delivers through. `Send` blocks (it runs on the Outbox's worker thread, never on an I/O
//! thread) and reports failure as a value: `ErrorCode::kServiceUnavailable` = transient (the Outbox retries),
//! any other code = permanent (bad message, recipient refused with 5xx; not retried). Error messages never
//! contain credentials or message bodies.
#pragma once

#include <cstdio>
#include <mutex>
#include <string_view>

#include "core/error.hpp"
#include "mail/message.hpp"

namespace pgwarden::mail {

//! A delivery channel (SMTP, console, test fakes).
class Sender {
 public:
  virtual ~Sender() = default;
  virtual Result<void> Send(const Message& message) = 0;
  //! "smtp", "console", ... for logs.
  virtual std::string_view Name() const = 0;
};

//! `pgwarden dev` without SMTP: prints each message in readable form (headers, then the text body with its
//! links and codes) to a stream, stdout by default. Never fails.
class ConsoleSender final : public Sender {
 public:
  explicit ConsoleSender(std::FILE* out = stdout) : out_(out) {}
  Result<void> Send(const Message& message) override;
  std::string_view Name() const override { return "console"; }

 private:
  std::FILE* out_;
  std::mutex mutex_;
};

}  // namespace pgwarden::mail
