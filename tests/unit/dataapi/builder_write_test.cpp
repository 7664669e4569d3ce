//! The SQL builder on PostgREST v13's write and count behaviour: data representations (domain <-> json/text
//! casts) on reads, filters and bodies; request bodies (JSON uniformity, CSV, forms, columns=, missing=default);
//! upserts and their inserted counter; RETURNING only what is read; count=planned/estimated; PGRST201 details.
#include <gtest/gtest.h>

#include <string>

#include "dataapi/schema/schema_cache.hpp"
#include "dataapi/sql/builder.hpp"
#include "test_support.hpp"

namespace pgwarden::dataapi {
namespace {

Column Col(std::string name, std::string type, std::optional<std::string> def = std::nullopt) {
  Column c{std::move(name), type, true, def.has_value(), type};
  c.default_expr = std::move(def);
  return c;
}

//! A small catalog: a table with a domain `color` that has json/text representations, one without a key, and
//! a table with two foreign keys to another (an ambiguous embed).
std::shared_ptr<const SchemaCache> Cache() {
  SchemaCache::Raw raw;
  Relation todos{"test", "todos", false, true, true, true,
                 {Col("id", "bigint"), Col("name", "text"), Col("label_color", "color", "0")}, {"id"}};
  Relation no_pk{"test", "no_pk", false, true, true, true, {Col("a", "text"), Col("b", "text")}, {}};
  Relation users{"test", "users", false, true, true, true,
                 {Col("id", "integer"), Col("email", "text"), Col("password", "text")}, {"id"}};
  Relation items{"test", "items", false, true, true, true, {Col("id", "bigint")}, {"id"}};
  Relation agents{"test", "agents", false, true, true, true, {Col("id", "integer"), Col("department_id", "integer")},
                  {"id"}};
  Relation departments{"test", "departments", false, true, true, true, {Col("id", "integer"), Col("head_id", "integer")},
                       {"id"}};
  raw.relations = {todos, no_pk, users, items, agents, departments};
  raw.representations_json =
      R"([["color","json","\"public\".\"json\""],["json","color","\"public\".color"],["text","color","\"public\".color"]])";
  raw.foreign_keys_json =
      R"([["test","agents","test","departments","agents_department_id_fkey",[["department_id","id"]],false],)"
      R"(["test","departments","test","agents","departments_head_id_fkey",[["head_id","id"]],false]])";
  return SchemaCache::FromRaw(std::move(raw), {"test"});
}

ApiRequest Request(std::string_view query, Verb verb, std::vector<std::string_view> prefer = {},
                   std::optional<std::string_view> content_type = std::nullopt) {
  const std::vector<std::string> schemas{"test"};
  RequestTarget target{verb, false, schemas};
  RequestHeaders headers;
  headers.prefer = std::move(prefer);
  headers.content_type = content_type;
  return test::Parse(query, target, headers);
}

BuildContext Context(const SchemaCache& cache) {
  BuildContext ctx;
  ctx.cache = &cache;
  return ctx;
}

bool Contains(const std::string& sql, std::string_view part) { return sql.find(part) != std::string::npos; }

TEST(BuilderRepresentations, FormatsSelectedAndStarColumnsThroughTheJsonCast) {
  const auto cache = Cache();
  const Relation& todos = *cache->Find("test", "todos");
  auto one = BuildRead(Request("select=id,label_color", Verb::kGet), todos, Context(*cache));
  ASSERT_TRUE(one) << ApiErrorBody(one.error());
  EXPECT_TRUE(Contains(one->sql, R"("public"."json"("todos"."label_color") AS "label_color")")) << one->sql;
  auto star = BuildRead(Request("", Verb::kGet), todos, Context(*cache));
  ASSERT_TRUE(star);
  EXPECT_FALSE(Contains(star->sql, R"("todos".*)")) << star->sql;
  EXPECT_TRUE(Contains(star->sql, R"("todos"."name" AS "name")")) << star->sql;
  EXPECT_TRUE(Contains(star->sql, R"("public"."json"("todos"."label_color") AS "label_color")")) << star->sql;
}

TEST(BuilderRepresentations, ParsesFilterValuesThroughTheTextCast) {
  const auto cache = Cache();
  const Relation& todos = *cache->Find("test", "todos");
  auto eq = BuildRead(Request("label_color=eq.000100", Verb::kGet), todos, Context(*cache));
  ASSERT_TRUE(eq);
  EXPECT_TRUE(Contains(eq->sql, R"("todos"."label_color" = "public".color($1::text))")) << eq->sql;
  auto in = BuildRead(Request("label_color=not.in.(000000,01E240)", Verb::kGet), todos, Context(*cache));
  ASSERT_TRUE(in);
  EXPECT_TRUE(Contains(in->sql, R"(NOT ("todos"."label_color" = ANY((SELECT "public".color(unnest($1::text[]))))))"))
      << in->sql;
}

TEST(BuilderRepresentations, ParsesBodyValuesThroughTheJsonCast) {
  const auto cache = Cache();
  const Relation& todos = *cache->Find("test", "todos");
  auto ins = BuildInsert(Request("", Verb::kPost), todos, R"({"id":5,"label_color":"#001100"})", Context(*cache));
  ASSERT_TRUE(ins) << ApiErrorBody(ins.error());
  EXPECT_TRUE(Contains(ins->sql, R"(LATERAL (SELECT "id", "public".color("label_color") AS "label_color" )"
                                 R"(FROM json_to_record(pgrst_payload.json_data) AS _("id" bigint, "label_color" json) ))"))
      << ins->sql;
}

TEST(BuilderBodies, RefusesArraysWhoseObjectsDoNotShareTheirKeys) {
  const auto cache = Cache();
  const Relation& todos = *cache->Find("test", "todos");
  for (const std::string_view body : {R"([{"id":1},123])", R"([{"id":1},{"id":2,"name":"x"}])", R"([1])"}) {
    SCOPED_TRACE(body);
    auto r = BuildInsert(Request("", Verb::kPost), todos, body, Context(*cache));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "PGRST102");
    EXPECT_EQ(r.error().message, "All object keys must match");
  }
  // A scalar is an empty array, as PostgREST truncates it.
  auto scalar = BuildInsert(Request("", Verb::kPost), todos, "123", Context(*cache));
  ASSERT_TRUE(scalar);
  EXPECT_EQ(scalar->params.front(), "[]");
}

TEST(BuilderBodies, ReadsCsvAndFormBodiesIntoJson) {
  const auto cache = Cache();
  const Relation& no_pk = *cache->Find("test", "no_pk");
  auto csv = BuildInsert(Request("", Verb::kPost, {}, "text/csv"), no_pk, "a,b\nNULL,foo\n\"x,\"\"y\",z", Context(*cache));
  ASSERT_TRUE(csv) << ApiErrorBody(csv.error());
  EXPECT_EQ(csv->params.front(), R"([{"a":null,"b":"foo"},{"a":"x,\"y","b":"z"}])");
  auto short_line = BuildInsert(Request("", Verb::kPost, {}, "text/csv"), no_pk, "a,b\nfoo,bar\nbaz", Context(*cache));
  ASSERT_FALSE(short_line);
  EXPECT_EQ(short_line.error().message, "All lines must have same number of fields");
  auto form = BuildInsert(Request("", Verb::kPost, {}, "application/x-www-form-urlencoded"), no_pk,
                          "b=forms+are%21&a=1", Context(*cache));
  ASSERT_TRUE(form);
  EXPECT_EQ(form->params.front(), R"({"b":"forms are!","a":"1"})");
}

TEST(BuilderBodies, AppliesColumnDefaultsForMissingKeysWithMissingDefault) {
  const auto cache = Cache();
  const Relation& todos = *cache->Find("test", "todos");
  auto r = BuildInsert(Request("columns=id,label_color", Verb::kPost, {"missing=default"}), todos, R"({"id":1})",
                       Context(*cache));
  ASSERT_TRUE(r);
  EXPECT_TRUE(Contains(r->sql, "(SELECT $1::jsonb AS json_data) pgrst_payload, LATERAL (SELECT "
                               "jsonb_build_object('label_color', 0) || pgrst_payload.json_data AS val) pgrst_json_defs"))
      << r->sql;
  EXPECT_TRUE(Contains(r->sql, "jsonb_to_record(pgrst_json_defs.val)")) << r->sql;
}

TEST(BuilderBodies, ReportsTheFirstUnknownColumnInKeyOrder) {
  const auto cache = Cache();
  const Relation& todos = *cache->Find("test", "todos");
  auto r = BuildUpdate(Request("id=eq.2&columns=name,helicopters", Verb::kPatch), todos,
                       R"({"fake_id":1,"name":"x"})", Context(*cache));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "PGRST204");
  EXPECT_EQ(r.error().message, "Could not find the 'helicopters' column of 'todos' in the schema cache");
}

TEST(BuilderUpserts, CountsInsertedRowsOnMergeAndIgnoresTheResolutionWithoutAKey) {
  const auto cache = Cache();
  auto merge = BuildInsert(Request("", Verb::kPost, {"resolution=merge-duplicates"}), *cache->Find("test", "todos"),
                           R"([{"id":1,"name":"a"}])", Context(*cache));
  ASSERT_TRUE(merge);
  EXPECT_TRUE(Contains(merge->sql, "pgrst_body WHERE set_config('pgrst.inserted', (coalesce(nullif(current_setting("
                                   "'pgrst.inserted', true), '')::int, 0) + 1)::text, true) <> '0' ON CONFLICT(\"id\") "
                                   "DO UPDATE SET \"id\" = EXCLUDED.\"id\", \"name\" = EXCLUDED.\"name\" WHERE "))
      << merge->sql;
  EXPECT_TRUE(Contains(merge->sql, "coalesce(nullif(current_setting('pgrst.inserted', true), '')::int, 0)::int AS "
                                   "response_inserted"));
  auto no_key = BuildInsert(Request("", Verb::kPost, {"resolution=merge-duplicates"}), *cache->Find("test", "no_pk"),
                            R"([{"a":"1","b":"0"}])", Context(*cache));
  ASSERT_TRUE(no_key) << ApiErrorBody(no_key.error());
  EXPECT_FALSE(Contains(no_key->sql, "ON CONFLICT")) << no_key->sql;
  EXPECT_TRUE(Contains(no_key->sql, "NULL::int AS response_inserted")) << no_key->sql;
}

TEST(BuilderReturning, ReturnsOnlyTheSelectedColumnsAndTheKey) {
  const auto cache = Cache();
  const Relation& users = *cache->Find("test", "users");
  auto del = BuildDelete(Request("id=eq.1&select=email", Verb::kDelete, {"return=representation"}), users,
                         Context(*cache));
  ASSERT_TRUE(del);
  EXPECT_TRUE(Contains(del->sql, R"(RETURNING "users"."id", "users"."email")")) << del->sql;
  auto star = BuildDelete(Request("id=eq.1", Verb::kDelete, {"return=representation"}), users, Context(*cache));
  ASSERT_TRUE(star);
  EXPECT_TRUE(Contains(star->sql, R"(RETURNING "users".*)")) << star->sql;
}

TEST(BuilderCounts, PlannedCountsExplainPostgrestsCountQuery) {
  const auto cache = Cache();
  const Relation& items = *cache->Find("test", "items");
  auto planned = BuildRead(Request("select=id&id=gt.8", Verb::kGet, {"count=planned"}), items, Context(*cache));
  ASSERT_TRUE(planned);
  ASSERT_TRUE(planned->explain_sql);
  EXPECT_EQ(*planned->explain_sql, R"(EXPLAIN (FORMAT JSON) SELECT 1 FROM "test"."items" AS "items" WHERE "items"."id" > $1)");
  EXPECT_EQ(planned->explain_params, (std::vector<std::optional<std::string>>{"8"}));
  EXPECT_TRUE(Contains(planned->sql, "SELECT NULL::bigint AS total_result_set")) << planned->sql;
  auto exact = BuildRead(Request("select=id&id=gt.8", Verb::kGet, {"count=exact"}), items, Context(*cache));
  ASSERT_TRUE(exact);
  EXPECT_FALSE(exact->explain_sql);
  BuildContext limited = Context(*cache);
  limited.max_rows = 2;
  auto estimated = BuildRead(Request("", Verb::kGet, {"count=estimated"}), items, limited);
  ASSERT_TRUE(estimated);
  EXPECT_TRUE(Contains(estimated->sql, R"((SELECT 1 FROM "test"."items" AS "items" LIMIT 3) pgrst_source_count)"))
      << estimated->sql;
  EXPECT_TRUE(estimated->explain_sql);
}

TEST(BuilderCounts, CombinesTheStatementCountAndThePlannerEstimateAsPostgrest) {
  EXPECT_EQ(PlanRows(R"([{"Plan": {"Node Type": "Seq Scan", "Plan Rows": 2019}}])"), 2019);
  EXPECT_EQ(PlanRows("not json"), std::nullopt);
  EXPECT_EQ(CountTotal(PreferCount::kPlanned, std::nullopt, 8, std::nullopt), 8);
  EXPECT_EQ(CountTotal(PreferCount::kEstimated, 3, 2019, 2), 2019);  // more than max-rows: the larger
  EXPECT_EQ(CountTotal(PreferCount::kEstimated, 3, 1, 2), 3);
  EXPECT_EQ(CountTotal(PreferCount::kEstimated, 2, 2019, 2), 2);     // within max-rows: exact
  EXPECT_EQ(CountTotal(PreferCount::kEstimated, 4, 1200, std::nullopt), 1200);  // no max-rows: always compared
  EXPECT_EQ(CountTotal(PreferCount::kExact, 4, 1200, std::nullopt), 4);
}

TEST(BuilderEmbedding, Pgrst201DetailsAreAJsonArray) {
  const auto cache = Cache();
  auto r = BuildRead(Request("select=*,departments(*)", Verb::kGet), *cache->Find("test", "agents"), Context(*cache));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "PGRST201");
  const std::string body = ApiErrorBody(r.error());
  EXPECT_TRUE(Contains(body, R"("details":[{"cardinality":)")) << body;
}

}  // namespace
}  // namespace pgwarden::dataapi
