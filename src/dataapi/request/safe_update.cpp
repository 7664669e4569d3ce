#include "dataapi/request/safe_update.hpp"

namespace pgwarden::dataapi {

bool HasRowFilter(const ApiRequest& api) {
  for (const auto& f : api.filters)
    if (f.path.empty()) return true;
  for (const auto& l : api.logic)
    if (l.path.empty()) return true;
  return false;
}

std::optional<ApiError> SafeUpdateError(const ApiRequest& api, Verb verb) {
  if (verb != Verb::kPatch && verb != Verb::kDelete) return std::nullopt;
  if (HasRowFilter(api)) return std::nullopt;
  // max-affected only binds with handling=strict (PostgREST ignores it otherwise), so only then is it a bound.
  if (api.prefer.max_affected && api.prefer.handling == PreferHandling::kStrict) return std::nullopt;
  ApiError e = MakeApiError(400, "21000", verb == Verb::kPatch ? "UPDATE requires a WHERE clause"
                                                                  : "DELETE requires a WHERE clause");
  e.hint = "Add a filter on the table's columns (e.g. ?id=eq.1), or bound the change with "
           "\"Prefer: handling=strict, max-affected=<n>\".";
  return e;
}

}  // namespace pgwarden::dataapi
