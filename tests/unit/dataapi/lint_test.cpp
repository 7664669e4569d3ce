//! DA-05: the pure half of the start-up/reload lint (the roles it checks, the warnings' text). The catalog
//! query itself is exercised by tests/security/I.data-api.test.mjs against a real database.
#include <gtest/gtest.h>

#include "dataapi/schema/lint.hpp"

namespace pgwarden::dataapi {
namespace {

TEST(Lint, ChecksTheConfiguredRolesAndTheAnonymousOne) {
  EXPECT_EQ(LintRoles({"authenticated", "anonymous"}, std::string("anonymous")),
            (std::vector<std::string>{"authenticated", "anonymous"}));
  EXPECT_EQ(LintRoles({"authenticated"}, std::string("web_anon")),
            (std::vector<std::string>{"authenticated", "web_anon"}));
  // PostgREST mode (any role): the query works the roles out itself.
  EXPECT_TRUE(LintRoles({}, std::string("web_anon")).empty());
}

TEST(Lint, MessagesSayWhyAndHowToFix) {
  LintFinding view{"view_bypasses_rls", "public.notes_all", "authenticated", "postgres", true, ""};
  EXPECT_NE(LintMessage(view).find("postgres bypasses row level security"), std::string::npos);
  EXPECT_NE(LintMessage(view).find("security_invoker = true"), std::string::npos);
  view.owner_bypasses_rls = false;
  view.owned_tables = "public.notes";
  EXPECT_NE(LintMessage(view).find("owns public.notes"), std::string::npos);
  const LintFinding fn{"security_definer", "public.pwn()", "anonymous,authenticated", "app_owner", false, ""};
  EXPECT_NE(LintMessage(fn).find("SECURITY DEFINER"), std::string::npos);
  const LintFinding table{"table_without_rls", "public.bulletin", "anonymous", "app_owner", false, ""};
  EXPECT_NE(LintMessage(table).find("ENABLE ROW LEVEL SECURITY"), std::string::npos);
}

TEST(Lint, TheQueryTakesSchemasAndRolesAsArrays) {
  const std::string q = LintQuery();
  EXPECT_NE(q.find("$1::text[]"), std::string::npos);
  EXPECT_NE(q.find("$2::text[]"), std::string::npos);
  EXPECT_NE(q.find("security_invoker"), std::string::npos);
}

}  // namespace
}  // namespace pgwarden::dataapi
