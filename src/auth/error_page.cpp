#include "auth/error_page.hpp"

#include <array>
#include <utility>

#include "core/text.hpp"

namespace pgwarden::auth {
namespace {

// What a person can do about the codes the flows produce; anything else gets the generic sentence.
constexpr std::array<std::pair<std::string_view, std::string_view>, 15> kExplanations{{
    {"state_mismatch", "The sign-in was started in another browser or tab, or took too long. Please try again."},
    {"state_not_found", "The sign-in request has expired or was already used. Please try again."},
    {"access_denied", "Access was not granted at the provider."},
    {"invalid_code", "The provider's answer could not be used. Please try again."},
    {"no_code", "The provider's answer could not be used. Please try again."},
    {"oauth_provider_not_found", "This sign-in provider is not configured."},
    {"email_not_found", "The provider did not share an e-mail address."},
    {"email_doesn't_match", "The account chosen at the provider has another e-mail address."},
    {"account_already_linked_to_different_user", "That provider account is already linked to another user."},
    {"unable_to_link_account",
     "An account with this e-mail address exists but could not be linked. Sign in with it first, then link."},
    {"account_not_linked",
     "An account with this e-mail address already exists. Sign in to it first, then link this provider."},
    {"new_user_signup_disabled", "New accounts cannot be created here."},
    {"issuer_mismatch", "The provider's answer came from an unexpected issuer."},
    {"INVALID_TOKEN", "The link is invalid or has expired."},
    {"EXPIRED_TOKEN", "The link has expired. Please ask for a new one."},
}};

std::string_view Explain(std::string_view code) {
  for (const auto& [c, text] : kExplanations)
    if (c == code) return text;
  return "Something went wrong while signing you in. Please go back and try again.";
}

}  // namespace

std::string SafeErrorCode(std::string_view code) {
  static constexpr std::string_view kAllowed =
      "'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
  if (code.empty() || code.find_first_not_of(kAllowed) != std::string_view::npos) return "UNKNOWN";
  return std::string(code);
}

std::string RenderErrorPage(std::string_view code, std::string_view description) {
  constexpr std::size_t kMaxDescription = 500;
  if (description.size() > kMaxDescription) description = description.substr(0, kMaxDescription);
  const std::string safe = SafeErrorCode(code);
  std::string out =
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"robots\" content=\"noindex\">\n<title>Sign-in error</title>\n"
      "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}"
      "code{background:#f2f2f2;padding:.1rem .3rem;border-radius:3px}p.d{color:#555}</style>\n"
      "</head>\n<body>\n<h1>Sign-in error</h1>\n<p>";
  AppendHtmlEscaped(out, Explain(safe));
  out += "</p>\n<p>Error code: <code>";
  AppendHtmlEscaped(out, safe);
  out += "</code></p>\n";
  if (!description.empty()) {
    out += "<p class=\"d\">";
    AppendHtmlEscaped(out, description);
    out += "</p>\n";
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace pgwarden::auth
