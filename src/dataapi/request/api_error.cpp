#include "dataapi/request/api_error.hpp"

#include <stdexcept>

#include "core/json.hpp"

namespace pgwarden::dataapi {
namespace {

struct ApiErrorInfo {
  ApiErrorCode id;
  int status;
  std::string_view code;
  std::string_view message;  //!< fixed message ("" = built by the caller)
};

// Statuses, codes and messages exactly as PostgREST v13 (src/PostgREST/Error.hs). Clients match on the codes:
// never renumber one.
constexpr ApiErrorInfo kCatalogue[] = {
    {ApiErrorCode::kQueryParam, 400, "PGRST100", ""},
    {ApiErrorCode::kInvalidRange, 416, "PGRST103", "Requested range not satisfiable"},
    {ApiErrorCode::kUnacceptableSchema, 406, "PGRST106", ""},
    {ApiErrorCode::kPutLimitNotAllowed, 400, "PGRST114", "limit/offset querystring parameters are not allowed for PUT"},
    {ApiErrorCode::kInvalidPreferences, 400, "PGRST122", "Invalid preferences given with handling=strict"},
};

ApiError Make(ApiErrorCode id, std::string message = {}) {
  for (const auto& row : kCatalogue) {
    if (row.id == id) {
      return ApiError{
          id,           row.status,  std::string(row.code), message.empty() ? std::string(row.message) : message,
          std::nullopt, std::nullopt};
    }
  }
  throw std::logic_error("dataapi: error code missing from the catalogue");
}

std::string Join(std::span<const std::string> items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

}  // namespace

void throw_exception_from_error(const ApiError& e, const boost::source_location&) {
  throw std::runtime_error(e.code + ": " + e.message);
}

ApiError QueryParamError(std::string message, std::string details) {
  ApiError e = Make(ApiErrorCode::kQueryParam, std::move(message));
  e.details = std::move(details);
  return e;
}

ApiError InvalidRangeError(RangeErrorKind kind) {
  ApiError e = Make(ApiErrorCode::kInvalidRange);
  e.details = kind == RangeErrorKind::kNegativeLimit
                  ? "Limit should be greater than or equal to zero."
                  : "The lower boundary must be lower than or equal to the upper boundary in the Range header.";
  return e;
}

ApiError UnacceptableSchemaError(std::string_view schema, std::span<const std::string> exposed) {
  ApiError e = Make(ApiErrorCode::kUnacceptableSchema, "Invalid schema: " + std::string(schema));
  e.hint = "Only the following schemas are exposed: " + Join(exposed, ", ");
  return e;
}

ApiError PutLimitNotAllowedError() { return Make(ApiErrorCode::kPutLimitNotAllowed); }

ApiError InvalidPreferencesError(std::span<const std::string> invalid) {
  ApiError e = Make(ApiErrorCode::kInvalidPreferences);
  e.details = "Invalid preferences: " + Join(invalid, ", ");
  return e;
}

std::string ApiErrorBody(const ApiError& e) {
  std::string out = "{\"code\":";
  AppendJsonString(out, e.code);
  out += ",\"details\":";
  if (e.details_json) {
    out += *e.details_json;
  } else if (e.details) {
    AppendJsonString(out, *e.details);
  } else {
    out += "null";
  }
  out += ",\"hint\":";
  if (e.hint) {
    AppendJsonString(out, *e.hint);
  } else {
    out += "null";
  }
  out += ",\"message\":";
  AppendJsonString(out, e.message);
  out += '}';
  return out;
}

ApiError MakeApiError(int status, std::string code, std::string message, std::optional<std::string> details) {
  ApiError e;
  e.status = status;
  e.code = std::move(code);
  e.message = std::move(message);
  e.details = std::move(details);
  return e;
}

}  // namespace pgwarden::dataapi
