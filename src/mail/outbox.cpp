#include "mail/outbox.hpp"

#include <algorithm>
#include <string>

#include "core/log.hpp"

namespace pgwarden::mail {

Outbox::Outbox(std::unique_ptr<Sender> sender, OutboxOptions options)
    : sender_(std::move(sender)), options_(options) {
  worker_ = std::thread([this] { Run(); });
}

Outbox::~Outbox() { Stop(std::chrono::milliseconds(0)); }

std::chrono::milliseconds Outbox::Backoff(const OutboxOptions& options, int attempt) {
  auto wait = options.initial_backoff;
  for (int i = 1; i < attempt && wait < options.max_backoff; ++i) wait *= 2;
  return std::min(wait, options.max_backoff);
}

bool Outbox::Enqueue(Message message) {
  if (message.message_id.empty()) message.message_id = GenerateMessageId(message.from);
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= options_.max_queued) {
      log::Warn("mail.rejected", {{"to", message.to}, {"reason", stopping_ ? "stopping" : "queue full"}});
      return false;
    }
    queue_.push_back(Item{std::move(message), 0, std::chrono::steady_clock::now()});
  }
  cv_.notify_one();
  return true;
}

void Outbox::Stop(std::chrono::milliseconds deadline) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      stopping_ = true;
      deadline_ = std::chrono::steady_clock::now() + deadline;
    }
  }
  cv_.notify_all();
  std::lock_guard join_lock(join_mutex_);  // Stop from two threads (signal handler thread + destructor) joins once
  if (worker_.joinable()) worker_.join();
}

OutboxStats Outbox::Stats() const {
  std::lock_guard lock(mutex_);
  OutboxStats s = stats_;
  s.pending = queue_.size();
  return s;
}

void Outbox::Run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_ && (queue_.empty() || std::chrono::steady_clock::now() >= deadline_)) break;
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto next = std::min_element(queue_.begin(), queue_.end(),
                                       [](const Item& a, const Item& b) { return a.due < b.due; });
    auto wake = next->due;
    if (stopping_) wake = std::min(wake, deadline_);
    if (std::chrono::steady_clock::now() < wake) {
      cv_.wait_until(lock, wake);  // woken early by Enqueue/Stop: re-evaluate
      continue;
    }
    Item item = std::move(*next);
    queue_.erase(next);
    ++item.attempts;
    lock.unlock();
    // The network call runs without the lock: Enqueue never waits for it.
    const Result<void> result = sender_->Send(item.message);
    const std::string attempt = std::to_string(item.attempts);
    lock.lock();
    if (result) {
      ++stats_.sent;
      log::Info("mail.sent", {{"sender", sender_->Name()}, {"to", item.message.to},
                              {"message_id", item.message.message_id}, {"attempt", attempt}});
      continue;
    }
    const bool transient = result.error().code == ErrorCode::kServiceUnavailable;
    if (transient && item.attempts < options_.max_attempts) {
      const auto wait = Backoff(options_, item.attempts);
      const std::string wait_ms = std::to_string(wait.count());
      log::Warn("mail.retry", {{"sender", sender_->Name()}, {"to", item.message.to},
                               {"message_id", item.message.message_id}, {"attempt", attempt},
                               {"error", result.error().Message()}, {"retry_in_ms", wait_ms}});
      item.due = std::chrono::steady_clock::now() + wait;
      queue_.push_back(std::move(item));
      continue;
    }
    ++stats_.failed;
    log::Error("mail.failed", {{"sender", sender_->Name()}, {"to", item.message.to},
                               {"message_id", item.message.message_id}, {"attempt", attempt},
                               {"error", result.error().Message()}, {"permanent", transient ? "false" : "true"}});
  }
  if (!queue_.empty()) {
    stats_.dropped += queue_.size();
    const std::string n = std::to_string(queue_.size());
    log::Error("mail.dropped", {{"count", n}, {"reason", "stop deadline passed"}});
    queue_.clear();
  }
}

}  // namespace pgwarden::mail
