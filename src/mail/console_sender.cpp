#include <string>

#include "mail/sender.hpp"

namespace pgwarden::mail {

Result<void> ConsoleSender::Send(const Message& message) {
  std::string block;
  block.reserve(256 + message.text.size());
  block += "\n======== mail ========\n";
  block += "From:    " + message.from + "\n";
  block += "To:      " + message.to + "\n";
  block += "Subject: " + message.subject + "\n";
  block += "----------------------\n";
  block += message.text;
  if (message.text.empty() || message.text.back() != '\n') block += '\n';
  block += "======================\n";
  std::lock_guard lock(mutex_);
  std::fwrite(block.data(), 1, block.size(), out_);
  std::fflush(out_);
  return {};
}

}  // namespace pgwarden::mail
