//! The page a browser lands on when sign-in fails and the app gave no errorCallbackURL.
//!
//! Better Auth in production answers `<auth>/error?error=X` with a 302 to the site root `/?error=X` (kept, D33);
//! pgwarden's site root then shows this page instead of a bare 404. The code is shown only when it is a plain
//! token (else UNKNOWN, as Better Auth keeps it); both values are HTML-escaped and the page loads nothing.
#pragma once

#include <string>
#include <string_view>

namespace pgwarden::auth {

//! The error code Better Auth keeps: non-empty and only [A-Za-z0-9_'-], else "UNKNOWN".
std::string SafeErrorCode(std::string_view code);

//! The whole HTML document for an error code and the provider's description (may be empty).
std::string RenderErrorPage(std::string_view code, std::string_view description);

}  // namespace pgwarden::auth
