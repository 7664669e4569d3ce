//! Request bodies as AuthService::ParseBody reads them, then BodyReader as the handlers use it.
//! JSON: boost::json::parse with the same parse_options (max_depth 32), only when the body is not blank.
//! Form: the same bytes as application/x-www-form-urlencoded through http::ParseForm into an object (first
//! occurrence of a key wins, as ParseBody). Each resulting object goes through the members the sign-up,
//! sign-in, session, user and password handlers read. Must never crash. Properties:
//!  - Ok() iff no member produced an issue; Failure() then has a non-empty "[body.<key>] ..." message;
//!  - a returned e-mail passes IsValidEmail and is the member's exact text; strings are the member's bytes;
//!  - JSON without doubles survives serialize/parse unchanged (member order included), and its
//!    serialisation is a fixed point (doubles are skipped: Boost 1.81 parses them imprecisely).
#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "auth/body.hpp"
#include "core/text.hpp"
#include "fuzz_check.hpp"
#include "http/request.hpp"

namespace json = boost::json;
using pgwarden::auth::BodyReader;

namespace {

bool HasDouble(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_: return true;
    case json::kind::array:
      for (const auto& e : v.get_array())
        if (HasDouble(e)) return true;
      return false;
    case json::kind::object:
      for (const auto& m : v.get_object())
        if (HasDouble(m.value())) return true;
      return false;
    default: return false;
  }
}

std::string_view MemberText(const json::object& obj, std::string_view key) {
  const auto& s = obj.at(key).get_string();
  return {s.data(), s.size()};
}

void ReadLikeHandlers(const json::object& obj) {
  {  // sign-up/email, sign-in/email
    BodyReader in(obj);
    const auto name = in.RequiredString("name");
    const auto email = in.Email("email");
    const auto password = in.RequiredString("password");
    const auto image = in.OptionalString("image");
    const auto callback = in.OptionalUrl("callbackURL");
    const auto remember = in.OptionalBool("rememberMe");
    if (in.Ok()) {
      FUZZ_CHECK(pgwarden::IsValidEmail(email));
      FUZZ_CHECK(email == MemberText(obj, "email"));
      FUZZ_CHECK(name == MemberText(obj, "name") && password == MemberText(obj, "password"));
      FUZZ_CHECK(!image || *image == MemberText(obj, "image"));
      FUZZ_CHECK(!callback || (!callback->empty() && *callback == MemberText(obj, "callbackURL")));
      FUZZ_CHECK(!remember || obj.at("rememberMe").is_bool());
    } else {
      const auto failure = in.Failure();
      FUZZ_CHECK(pgwarden::StartsWith(failure.Message(), "[body."));
      FUZZ_CHECK(failure.Status() == 400);
    }
  }
  {  // revoke-session, change-password, update-user, delete-user, update-session
    BodyReader in(obj);
    (void)in.RequiredString("token", /*non_empty=*/true);
    (void)in.RequiredString("currentPassword");
    (void)in.RequiredString("newPassword", true);
    (void)in.OptionalBool("revokeOtherSessions");
    (void)in.OptionalString("name");
    (void)in.OptionalUrl("image");
    (void)in.OptionalString("password");
    (void)in.OptionalUrl("redirectTo");
    (void)in.Has("email");
    if (!in.Ok()) FUZZ_CHECK(!in.Failure().Message().empty());
  }
  (void)pgwarden::auth::TypeName(obj.if_contains("email"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = pgwarden::fuzz::AsView(data, size);

  // application/json
  if (!pgwarden::Trim(body).empty()) {
    boost::system::error_code ec;
    json::parse_options opts;
    opts.max_depth = 32;
    const json::value v = json::parse(body, ec, {}, opts);
    if (!ec) {
      if (v.is_object()) ReadLikeHandlers(v.get_object());
      if (!HasDouble(v)) {
        const std::string text = json::serialize(v);
        boost::system::error_code ec2;
        const json::value again = json::parse(text, ec2, {}, opts);
        FUZZ_CHECK(!ec2);
        FUZZ_CHECK(again == v);
        FUZZ_CHECK(json::serialize(again) == text);
      }
    }
  }

  // application/x-www-form-urlencoded
  if (const auto pairs = pgwarden::http::ParseForm(body)) {
    json::object obj;
    for (const auto& [k, val] : *pairs)
      if (!obj.contains(k)) obj[k] = val;
    ReadLikeHandlers(obj);
  }
  return 0;
}
