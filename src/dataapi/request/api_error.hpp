//! PostgREST-shaped errors of the request stage: the HTTP status plus the body {code, message, details, hint}.
//! Every PGRST code this stage can produce is in the one table of api_error.cpp (status, code, fixed message);
//! builders below add the variable parts, so no caller spells a code or a message. The table is meant to move
//! into src/core's wire catalogue when the Data API is wired in.
#pragma once

#include <boost/system/result.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgwarden::dataapi {

//! The request-stage rows of PostgREST's PGRST1xx catalogue (PostgREST.Error.ApiRequestError).
enum class ApiErrorCode {
  kQueryParam,          //!< PGRST100, 400: query string parse error
  kInvalidRange,        //!< PGRST103, 416: limit/offset/Range not satisfiable
  kUnacceptableSchema,  //!< PGRST106, 406: Accept-Profile/Content-Profile not in db-schemas
  kPutLimitNotAllowed,  //!< PGRST114, 400: limit/offset on PUT
  kInvalidPreferences,  //!< PGRST122, 400: Prefer: handling=strict with unknown preferences
};

struct ApiError {
  ApiErrorCode id = ApiErrorCode::kQueryParam;
  int status = 400;
  std::string code;     //!< "PGRST100"
  std::string message;  //!< exactly PostgREST's wording
  std::optional<std::string> details;
  std::optional<std::string> hint;
  //! `details` as raw JSON (PGRST201's array of candidates), written unquoted; wins over `details`.
  std::optional<std::string> details_json = std::nullopt;
  //! Extra response headers (RAISE SQLSTATE 'PGRST' ... DETAIL '{"headers": {...}}').
  std::vector<std::pair<std::string, std::string>> headers = {};

  friend bool operator==(const ApiError&, const ApiError&) = default;
};

template <class T>
using ApiResult = boost::system::result<T, ApiError>;

//! Used by ApiResult<T>::value() on an error (a broken invariant: callers test the result first).
[[noreturn]] void throw_exception_from_error(const ApiError& e, const boost::source_location& loc);

//! PGRST100. `message` is Parsec's position line ("\"failed to parse ... (...)\" (line 1, column 7)"),
//! `details` its "unexpected ... expecting ..." text.
ApiError QueryParamError(std::string message, std::string details);

//! Why a range is not satisfiable (PostgREST's RangeError minus OutOfBounds, which needs the row count).
enum class RangeErrorKind { kNegativeLimit, kLowerGreaterThanUpper };
ApiError InvalidRangeError(RangeErrorKind kind);

//! PGRST106 with PostgREST's hint listing the exposed schemas.
ApiError UnacceptableSchemaError(std::string_view schema, std::span<const std::string> exposed);

ApiError PutLimitNotAllowedError();

//! PGRST122; `invalid` as Preferences lists them ("Invalid preferences: a, b").
ApiError InvalidPreferencesError(std::span<const std::string> invalid);

//! Errors raised after the request stage (planner, executor, auth): status, PGRST code or SQLSTATE, message.
ApiError MakeApiError(int status, std::string code, std::string message, std::optional<std::string> details = {});

//! The response body: {"code":..,"details":..,"hint":..,"message":..} (null for absent details/hint).
std::string ApiErrorBody(const ApiError& e);

}  // namespace pgwarden::dataapi
