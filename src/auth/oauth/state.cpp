#include "auth/oauth/state.hpp"

#include "core/json.hpp"

namespace pgwarden::auth::oauth {
namespace {
void Member(std::string& out, std::string_view key, std::string_view value) {
  out += out.size() > 1 ? "," : "";
  AppendJsonString(out, key);
  out += ':';
  AppendJsonString(out, value);
}

std::optional<std::string> StringAt(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}
}  // namespace

std::string SerializeState(const OAuthState& s) {
  std::string out = "{";
  Member(out, "callbackURL", s.callback_url);
  Member(out, "codeVerifier", s.code_verifier);
  if (!s.error_url.empty()) Member(out, "errorURL", s.error_url);
  if (!s.new_user_url.empty()) Member(out, "newUserURL", s.new_user_url);
  if (s.link) {
    out += ",\"link\":{";
    std::string inner = "{";
    Member(inner, "email", s.link->email);
    Member(inner, "userId", s.link->user_id);
    out += inner.substr(1) + "}";
  }
  out += ",\"expiresAt\":" + std::to_string(s.expires_at);
  out += std::string(",\"requestSignUp\":") + (s.request_sign_up ? "true" : "false");
  Member(out, "providerId", s.provider_id);
  if (!s.nonce.empty()) Member(out, "nonce", s.nonce);
  if (!s.challenge_hash.empty()) Member(out, "challenge", s.challenge_hash);
  out += '}';
  return out;
}

std::optional<OAuthState> ParseState(std::string_view text) {
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  OAuthState s;
  auto provider = StringAt(o, "providerId");
  auto callback = StringAt(o, "callbackURL");
  auto verifier = StringAt(o, "codeVerifier");
  const auto* exp = o.if_contains("expiresAt");
  if (!provider || !callback || !verifier || provider->empty() || verifier->empty() || !exp || !exp->is_number())
    return std::nullopt;
  boost::system::error_code nec;
  const double exp_ms = exp->to_number<double>(nec);
  if (nec) return std::nullopt;
  s.provider_id = std::move(*provider);
  s.callback_url = std::move(*callback);
  s.code_verifier = std::move(*verifier);
  s.expires_at = static_cast<EpochMs>(exp_ms);
  s.error_url = StringAt(o, "errorURL").value_or("");
  s.new_user_url = StringAt(o, "newUserURL").value_or("");
  s.nonce = StringAt(o, "nonce").value_or("");
  s.challenge_hash = StringAt(o, "challenge").value_or("");
  if (const auto* r = o.if_contains("requestSignUp"); r && r->is_bool()) s.request_sign_up = r->as_bool();
  if (const auto* l = o.if_contains("link"); l && l->is_object()) {
    auto email = StringAt(l->as_object(), "email");
    auto user = StringAt(l->as_object(), "userId");
    if (!email || !user) return std::nullopt;
    s.link = LinkTarget{std::move(*email), std::move(*user)};
  } else if (l && !l->is_null()) {
    return std::nullopt;
  }
  return s;
}

std::string_view StateErrorCode(StateProblem p) {
  switch (p) {
    case StateProblem::kNone: return "";
    case StateProblem::kNotFound: return "state_not_found";
    case StateProblem::kMismatch: return "state_mismatch";
    case StateProblem::kExpired: return "state_mismatch";  // Better Auth: "Invalid state: request expired"
    case StateProblem::kWrongProvider: return "state_mismatch";
  }
  return "state_mismatch";
}

StateProblem CheckState(const std::optional<OAuthState>& s, std::string_view provider_id, EpochMs now) {
  if (!s) return StateProblem::kMismatch;
  if (s->expires_at <= now) return StateProblem::kExpired;
  if (s->provider_id != provider_id) return StateProblem::kWrongProvider;
  return StateProblem::kNone;
}

}  // namespace pgwarden::auth::oauth
