#include "core/error.hpp"

#include <stdexcept>

namespace pgwarden {

const ErrorInfo& Describe(ErrorCode code) {
  // Status, code and message exactly as Better Auth 1.6.23 sends them (golden/error-codes.json).
  static const ErrorInfo kNone{200, "", ""};
  static const ErrorInfo kTable[] = {
      {200, "", ""},
      {400, "BAD_REQUEST", "Invalid JSON in request body"},
      {400, "VALIDATION_ERROR", "Validation Error"},
      {415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"},
      {400, "INVALID_EMAIL", "Invalid email"},
      {401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password"},
      {400, "INVALID_PASSWORD", "Invalid password"},
      {400, "PASSWORD_TOO_SHORT", "Password too short"},
      {400, "PASSWORD_TOO_LONG", "Password too long"},
      {422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email."},
      {403, "EMAIL_NOT_VERIFIED", "Email not verified"},
      {400, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated"},
      {400, "FIELD_NOT_ALLOWED", "Field not allowed to be set"},
      {400, "", "No fields to update"},
      {401, "UNAUTHORIZED", "Unauthorized"},
      {401, "SESSION_EXPIRED", "Session expired. Re-authenticate to perform this action."},
      {403, "SESSION_NOT_FRESH", "Session is not fresh"},
      {400, "USER_NOT_FOUND", "User not found"},
      {400, "CREDENTIAL_ACCOUNT_NOT_FOUND", "Credential account not found"},
      {401, "INVALID_TOKEN", "Invalid token"},
      {422, "FAILED_TO_CREATE_USER", "Failed to create user"},
      {500, "FAILED_TO_CREATE_SESSION", "Failed to create session"},
      {500, "FAILED_TO_UPDATE_USER", "Failed to update user"},
      {500, "FAILED_TO_GET_SESSION", "Failed to get session"},
      {405, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED",
       "POST method requires deferSessionRefresh to be enabled in session config"},
      {403, "INVALID_ORIGIN", "Invalid origin"},
      {403, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin"},
      {403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED",
       "Cross-site navigation login blocked. This request appears to be a CSRF attack."},
      {403, "INVALID_CALLBACK_URL", "Invalid callbackURL"},
      {403, "INVALID_REDIRECT_URL", "Invalid redirectURL"},
      {403, "INVALID_ERROR_CALLBACK_URL", "Invalid errorCallbackURL"},
      {403, "INVALID_NEW_USER_CALLBACK_URL", "Invalid newUserCallbackURL"},
      {400, "EMAIL_ALREADY_VERIFIED", "Email is already verified"},
      {429, "", "Too many requests. Please try again later."},
      {403, "ANONYMOUS_ACCESS_DISABLED", "Anonymous access is disabled"},
      {403, "BANNED_USER", "You have been banned from this application"},
      {400, "USER_ALREADY_HAS_PASSWORD", "User already has a password. Provide that to delete the account."},
      {404, "NOT_FOUND", "Not found"},
      {413, "PAYLOAD_TOO_LARGE", "Request body is too large"},
      {401, "TOKEN_EXPIRED", "Token expired"},
      {401, "INVALID_USER", "Invalid user"},
      {400, "INVALID_TOKEN", "Invalid token"},
      {404, "INVALID_TOKEN", "Invalid token"},
      {404, "FAILED_TO_GET_USER_INFO", "Failed to get user info"},
      {400, "EMAIL_MISMATCH", "Email mismatch"},
      {400, "", "Email is the same"},
      {400, "", "Email already in use"},
      {400, "INVALID_OTP", "Invalid OTP"},
      {400, "OTP_EXPIRED", "OTP expired"},
      {403, "TOO_MANY_ATTEMPTS", "Too many attempts"},
      {400, "", "Invalid OTP type"},
      {400, "", "OTP is required to verify current email"},
      {404, "PROVIDER_NOT_FOUND", "Provider not found"},
      {404, "ID_TOKEN_NOT_SUPPORTED", "id_token not supported"},
      {401, "OAUTH_LINK_ERROR", "Unable to link account"},
      {401, "USER_EMAIL_NOT_FOUND", "User email not found"},
      {400, "ACCOUNT_NOT_FOUND", "Account not found"},
      {400, "FAILED_TO_UNLINK_LAST_ACCOUNT", "You can't unlink your last account"},
      {400, "FAILED_TO_GET_ACCESS_TOKEN", "Failed to get a valid access token"},
      {400, "REFRESH_TOKEN_NOT_FOUND", "Refresh token not found"},
      {400, "FAILED_TO_REFRESH_ACCESS_TOKEN", "Failed to refresh access token"},
      {400, "PROVIDER_NOT_SUPPORTED", "Provider is not supported."},
      {400, "PROVIDER_NOT_CONFIGURED", "Account is not associated with a configured social provider."},
      {400, "ACCESS_TOKEN_NOT_FOUND", "Access token not found"},
      {401, "LINKING_NOT_ALLOWED", "Account not linked - linking not allowed"},
      {401, "LINKING_DIFFERENT_EMAILS_NOT_ALLOWED", "Account not linked - different emails not allowed"},
      {400, "PASSWORD_COMPROMISED", "The password you entered has been compromised. Please choose a different password."},
      {503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable. Please retry."},
      {500, "INTERNAL_SERVER_ERROR", "Internal server error"},
      {500, "INTERNAL_SERVER_ERROR", "Internal server error"},
  };
  static_assert(sizeof(kTable) / sizeof(kTable[0]) == static_cast<size_t>(ErrorCode::kInternal) + 1,
                "error catalogue out of sync with ErrorCode");
  const auto i = static_cast<size_t>(code);
  if (i >= sizeof(kTable) / sizeof(kTable[0])) return kNone;
  return kTable[i];
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::runtime_error(std::string(Describe(e.code).code) + ": " + std::string(e.Message()));
}

}  // namespace pgwarden
