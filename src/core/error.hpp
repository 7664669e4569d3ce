//! Expected failures as values: `Error` carries a wire code from the one catalogue (`ErrorCode`), an optional
//! detail message (overrides the catalogue's fixed message, e.g. VALIDATION_ERROR's "[body.email] ...") and,
//! for database errors, the SQLSTATE. `Result<T>` is `boost::system::result<T, Error>`.
#pragma once

#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace pgwarden {

//! Every code a client can see. Better Auth's codes keep their exact spelling, status and message
//! (golden/error-codes.json); clients match on them, so never rename one.
enum class ErrorCode {
  kNone,
  // Better Auth core
  kBadRequest,
  kValidationError,
  kUnsupportedMediaType,
  kInvalidEmail,
  kInvalidEmailOrPassword,
  kInvalidPassword,
  kPasswordTooShort,
  kPasswordTooLong,
  kUserAlreadyExistsUseAnotherEmail,
  kEmailNotVerified,
  kEmailCanNotBeUpdated,
  kFieldNotAllowed,
  kNoFieldsToUpdate,
  kUnauthorized,
  kSessionExpired,
  kSessionNotFresh,
  kUserNotFound,
  kCredentialAccountNotFound,
  kInvalidToken,
  kFailedToCreateUser,
  kFailedToCreateSession,
  kFailedToUpdateUser,
  kFailedToGetSession,
  kMethodNotAllowedDeferSessionRequired,
  kInvalidOrigin,
  kMissingOrNullOrigin,
  kCrossSiteNavigationLoginBlocked,
  kInvalidCallbackUrl,
  kInvalidRedirectUrl,
  kInvalidErrorCallbackUrl,
  kInvalidNewUserCallbackUrl,
  kEmailAlreadyVerified,
  kTooManyRequests,
  kAnonymousDisabled,
  kBannedUser,
  kUserAlreadyHasPassword,
  kNotFound,
  kPayloadTooLarge,
  // e-mail flows (issue 4)
  kTokenExpired,
  kInvalidUser,
  kInvalidTokenBadRequest,  //!< INVALID_TOKEN with 400 (reset-password), as Better Auth
  kInvalidTokenNotFound,    //!< INVALID_TOKEN with 404 (delete-user/callback)
  kFailedToGetUserInfo,
  kEmailMismatch,
  kEmailIsTheSame,
  kEmailAlreadyInUse,
  kInvalidOtp,
  kOtpExpired,
  kTooManyAttempts,
  kInvalidOtpType,
  kOtpRequiredForCurrentEmail,
  // OAuth (issue 5)
  kProviderNotFound,
  kIdTokenNotSupported,
  kOAuthLinkError,
  kUserEmailNotFound,
  kAccountNotFound,
  kFailedToUnlinkLastAccount,
  kFailedToGetAccessToken,
  kRefreshTokenNotFound,
  kFailedToRefreshAccessToken,
  kProviderNotSupported,
  kProviderNotConfigured,
  kAccessTokenNotFound,
  kLinkingNotAllowed,
  kLinkingDifferentEmailsNotAllowed,
  kPasswordCompromised,  //!< Better Auth's haveIBeenPwned plugin code; here: a password on the deny list (PW-03)
  // infrastructure
  kServiceUnavailable,
  kDatabase,
  kInternal,
};

//! One row of the catalogue.
struct ErrorInfo {
  int status;
  std::string_view code;     //!< wire code ("" = the body has no "code" member)
  std::string_view message;  //!< fixed message
};

const ErrorInfo& Describe(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;   //!< overrides Describe(code).message when not empty
  std::string sqlstate;  //!< set for database errors
  std::optional<std::string> detail;  //!< database errors: DETAIL, HINT (the Data API shows them, as PostgREST)
  std::optional<std::string> hint;

  int Status() const { return Describe(code).status; }
  std::string_view Message() const { return message.empty() ? Describe(code).message : std::string_view(message); }
};

inline Error MakeError(ErrorCode code, std::string message = {}) { return Error{code, std::move(message), {}, {}, {}}; }

template <class T>
using Result = boost::system::result<T, Error>;

}  // namespace pgwarden

// boost::system::result needs to know how to throw an Error from .value() on failure.
namespace pgwarden {
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);
}
