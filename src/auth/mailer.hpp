//! The auth flows' view of outgoing mail: a template kind, a recipient and the values, rendered and queued on
//! the Outbox (never waiting for the network). Without a transport (serve without PGWARDEN_SMTP_URL) messages
//! are dropped with a warning that names the template, never the link or code.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "mail/outbox.hpp"
#include "mail/templates.hpp"

namespace pgwarden::auth {

class Mailer {
 public:
  //! `outbox` may be null (no transport configured).
  Mailer(std::unique_ptr<mail::Outbox> outbox, mail::Templates templates, std::string from, std::string app_name);
  //! Renders and queues; false when there is no transport or the queue refused it (both logged).
  bool Send(mail::Template t, std::string to, mail::TemplateVars vars) const;
  //! Sends what is queued until `deadline`, then stops (graceful shutdown).
  void Stop(std::chrono::milliseconds deadline);

 private:
  std::unique_ptr<mail::Outbox> outbox_;
  mail::Templates templates_;
  std::string from_;
  std::string app_name_;
};

}  // namespace pgwarden::auth
