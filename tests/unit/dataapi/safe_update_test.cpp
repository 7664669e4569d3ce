//! DA-09: Neon mode's pg-safeupdate rule, decided from the parsed request alone.
#include <gtest/gtest.h>

#include "dataapi/request/safe_update.hpp"
#include "test_support.hpp"

namespace pgwarden::dataapi {
namespace {

using test::Parse;

ApiRequest Write(std::string_view query, Verb verb, std::vector<std::string_view> prefer = {}) {
  RequestTarget target;
  target.verb = verb;
  RequestHeaders headers;
  headers.prefer = std::move(prefer);
  return Parse(query, target, headers);
}

TEST(SafeUpdate, RefusesUnfilteredPatchAndDeleteWithPgSafeupdatesAnswer) {
  const auto del = SafeUpdateError(Write("", Verb::kDelete), Verb::kDelete);
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 400);
  EXPECT_EQ(del->code, "21000");
  EXPECT_EQ(del->message, "DELETE requires a WHERE clause");
  const auto patch = SafeUpdateError(Write("select=id", Verb::kPatch), Verb::kPatch);
  ASSERT_TRUE(patch);
  EXPECT_EQ(patch->message, "UPDATE requires a WHERE clause");
}

TEST(SafeUpdate, ARowFilterOrAStrictMaxAffectedIsEnough) {
  for (const char* q : {"id=eq.1", "or=(id.eq.1,id.eq.2)", "not.and=(a.is.null,b.is.null)", "title=not.is.null"}) {
    SCOPED_TRACE(q);
    EXPECT_FALSE(SafeUpdateError(Write(q, Verb::kDelete), Verb::kDelete));
    EXPECT_FALSE(SafeUpdateError(Write(q, Verb::kPatch), Verb::kPatch));
  }
  EXPECT_FALSE(SafeUpdateError(Write("", Verb::kDelete, {"handling=strict, max-affected=10"}), Verb::kDelete));
  // max-affected binds only with handling=strict.
  EXPECT_TRUE(SafeUpdateError(Write("", Verb::kDelete, {"max-affected=10"}), Verb::kDelete));
}

TEST(SafeUpdate, FiltersOnEmbedsAndLimitsAreNotAWhereClause) {
  EXPECT_TRUE(SafeUpdateError(Write("clients.id=eq.1", Verb::kDelete), Verb::kDelete));
  EXPECT_TRUE(SafeUpdateError(Write("clients.or=(id.eq.1)", Verb::kPatch), Verb::kPatch));
  EXPECT_TRUE(SafeUpdateError(Write("limit=1&order=id", Verb::kDelete), Verb::kDelete));
}

TEST(SafeUpdate, OtherVerbsAreNotConcerned) {
  for (const Verb v : {Verb::kGet, Verb::kHead, Verb::kPost, Verb::kPut})
    EXPECT_FALSE(SafeUpdateError(Write("", v), v));
}

}  // namespace
}  // namespace pgwarden::dataapi
