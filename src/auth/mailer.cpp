#include "auth/mailer.hpp"

#include "core/log.hpp"

namespace pgwarden::auth {

Mailer::Mailer(std::unique_ptr<mail::Outbox> outbox, mail::Templates templates, std::string from, std::string app_name)
    : outbox_(std::move(outbox)), templates_(std::move(templates)), from_(std::move(from)), app_name_(std::move(app_name)) {}

bool Mailer::Send(mail::Template t, std::string to, mail::TemplateVars vars) const {
  const std::string kind(mail::TemplateName(t));
  if (!outbox_) {
    log::Warn("mail.not_configured", {{"template", kind}});
    return false;
  }
  if (vars.app_name.empty()) vars.app_name = app_name_;
  if (vars.email.empty()) vars.email = to;
  auto rendered = templates_.Render(t, vars);
  mail::Message m;
  m.from = from_;
  m.to = std::move(to);
  m.subject = std::move(rendered.subject);
  m.text = std::move(rendered.text);
  m.html = std::move(rendered.html);
  if (!outbox_->Enqueue(std::move(m))) {
    log::Warn("mail.queue_refused", {{"template", kind}});
    return false;
  }
  log::Info("mail.queued", {{"template", kind}});
  return true;
}

void Mailer::Stop(std::chrono::milliseconds deadline) {
  if (outbox_) outbox_->Stop(deadline);
}

}  // namespace pgwarden::auth
