//! /rpc/<function> without a database: reading the arguments, choosing among overloads (PGRST202/PGRST203 with
//! PostgREST's texts and fuzzy hints), and the shape of the call SQL.
#include <gtest/gtest.h>

#include "dataapi/request/query_params.hpp"
#include "dataapi/sql/rpc.hpp"

namespace pgwarden::dataapi {
namespace {

RoutineParam Param(std::string name, std::string type, bool required = true, bool variadic = false) {
  return RoutineParam{name, type, type, required, variadic};
}

Routine Fn(std::string name, std::vector<RoutineParam> params, std::string ret = "int4") {
  Routine r;
  r.schema = "test";
  r.name = std::move(name);
  r.params = std::move(params);
  r.return_type_schema = "pg_catalog";
  r.return_type_name = std::move(ret);
  return r;
}

std::shared_ptr<const RoutineCache> Fixture() {
  std::vector<Routine> all;
  all.push_back(Fn("sayhello", {Param("name", "text")}, "text"));
  all.push_back(Fn("add_them", {Param("a", "integer"), Param("b", "integer")}));
  all.push_back(Fn("overloaded", {}));
  all.push_back(Fn("overloaded", {Param("a", "integer"), Param("b", "integer")}));
  all.push_back(Fn("overloaded", {Param("a", "text"), Param("b", "text"), Param("c", "text")}));
  all.push_back(Fn("overloaded_same_args", {Param("arg", "xml")}));
  all.push_back(Fn("overloaded_same_args", {Param("arg", "integer")}));
  all.push_back(Fn("overloaded_same_args", {Param("arg", "text"), Param("num", "integer", false)}));
  all.push_back(Fn("unnamed_text_param", {Param("", "text")}, "text"));
  all.push_back(Fn("unnamed_json_param", {Param("", "json")}, "json"));
  all.push_back(Fn("three_defaults", {Param("a", "integer", false), Param("b", "integer", false), Param("c", "integer", false)}));
  all.push_back(Fn("variadic_param", {Param("v", "text[]", false, true)}, "text"));
  all.back().has_variadic = true;
  return RoutineCache::FromRoutines(std::move(all));
}

ApiRequest Request(std::string_view query, Verb verb, std::optional<std::string_view> content_type = std::nullopt,
                   std::vector<std::string_view> prefer = {}) {
  RequestHeaders headers;
  headers.content_type = content_type;
  headers.prefer = std::move(prefer);
  RequestTarget target;
  target.verb = verb;
  target.rpc = true;
  auto r = ParseQuery(query, headers, target);
  EXPECT_TRUE(r.has_value());
  return r ? *r : ApiRequest{};
}

struct Resolved {
  ApiResult<RpcArguments> args = ApiError{};
  ApiResult<const Routine*> routine = ApiError{};
};

Resolved Resolve(const RoutineCache& cache, std::string_view fn, const ApiRequest& api, Verb verb,
                 std::string_view body = {}) {
  Resolved r;
  r.args = ReadRpcArguments(api, verb, body);
  if (r.args) r.routine = FindRoutine(cache, "test", fn, *r.args, api);
  return r;
}

TEST(RpcResolution, PicksTheOverloadWhoseParametersTheArgumentsName) {
  const auto cache = Fixture();
  auto none = Resolve(*cache, "overloaded", Request("", Verb::kGet), Verb::kGet);
  ASSERT_TRUE(none.routine.has_value());
  EXPECT_TRUE((*none.routine)->params.empty());
  auto two = Resolve(*cache, "overloaded", Request("a=1&b=2", Verb::kGet), Verb::kGet);
  ASSERT_TRUE(two.routine.has_value());
  EXPECT_EQ((*two.routine)->params.size(), 2u);
  auto three = Resolve(*cache, "overloaded", Request("", Verb::kPost), Verb::kPost, R"({"a":"1","b":"2","c":"3"})");
  ASSERT_TRUE(three.routine.has_value());
  EXPECT_EQ((*three.routine)->params.size(), 3u);
}

TEST(RpcResolution, OmittedOptionalParametersKeepTheirDefaults) {
  const auto cache = Fixture();
  auto r = Resolve(*cache, "three_defaults", Request("b=4", Verb::kGet), Verb::kGet);
  ASSERT_TRUE(r.routine.has_value());
  const RpcCall call = BuildCall(**r.routine, *r.args, Request("b=4", Verb::kGet));
  EXPECT_NE(call.sql.find("\"b\" := pgrst_body.\"b\""), std::string::npos) << call.sql;
  EXPECT_EQ(call.sql.find("\"a\" :="), std::string::npos) << call.sql;
  EXPECT_EQ(call.args_param, R"({"b":"4"})");
}

TEST(RpcResolution, UnknownFunctionHintsTheClosestName) {
  const auto cache = Fixture();
  auto r = Resolve(*cache, "sayhell", Request("", Verb::kGet), Verb::kGet);
  ASSERT_FALSE(r.routine.has_value());
  const ApiError& e = r.routine.error();
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.code, "PGRST202");
  EXPECT_EQ(e.message, "Could not find the function test.sayhell without parameters in the schema cache");
  EXPECT_EQ(e.details, "Searched for the function test.sayhell without parameters, but no matches were found in the schema cache.");
  EXPECT_EQ(e.hint, "Perhaps you meant to call the function test.sayhello");
}

TEST(RpcResolution, UnknownArgumentsHintTheClosestParameterList) {
  const auto cache = Fixture();
  auto r = Resolve(*cache, "add_them", Request("a=1&b=2&smthelse=blabla", Verb::kGet), Verb::kGet);
  ASSERT_FALSE(r.routine.has_value());
  EXPECT_EQ(r.routine.error().message, "Could not find the function test.add_them(a, b, smthelse) in the schema cache");
  EXPECT_EQ(r.routine.error().details,
            "Searched for the function test.add_them with parameters a, b, smthelse, but no matches were found in the schema cache.");
  EXPECT_EQ(r.routine.error().hint, "Perhaps you meant to call the function test.add_them(a, b)");

  auto o = Resolve(*cache, "overloaded", Request("a=1&b=2&wrong_arg=value", Verb::kGet), Verb::kGet);
  ASSERT_FALSE(o.routine.has_value());
  EXPECT_EQ(o.routine.error().hint, "Perhaps you meant to call the function test.overloaded(a, b, c)");
  auto far = Resolve(*cache, "overloaded", Request("wrong_arg=value", Verb::kGet), Verb::kGet);
  ASSERT_FALSE(far.routine.has_value());
  EXPECT_EQ(far.routine.error().details,
            "Searched for the function test.overloaded with parameter wrong_arg, but no matches were found in the schema cache.");
  EXPECT_FALSE(far.routine.error().hint.has_value());
}

TEST(RpcResolution, HintsNameOnlyFunctionsTheCallerMayExecute) {
  // EN-04: with the list of executable functions (Neon mode), no hint names a function outside it.
  const auto cache = Fixture();
  const auto api = Request("", Verb::kGet);
  const auto args = ReadRpcArguments(api, Verb::kGet, {});
  ASSERT_TRUE(args.has_value());
  const std::vector<std::string> none;
  EXPECT_FALSE(NoRpcError(*cache, "test", "sayhell", *args, api, &none).hint.has_value());
  const std::vector<std::string> others{"add_them", "overloaded"};
  EXPECT_FALSE(NoRpcError(*cache, "test", "sayhell", *args, api, &others).hint.has_value());
  const std::vector<std::string> allowed{"sayhello"};
  EXPECT_EQ(NoRpcError(*cache, "test", "sayhell", *args, api, &allowed).hint,
            "Perhaps you meant to call the function test.sayhello");
  // The parameter-list hint of an existing name is shown only when that function is executable.
  const auto wrong = Request("a=1&b=2&smthelse=blabla", Verb::kGet);
  const auto wrong_args = ReadRpcArguments(wrong, Verb::kGet, {});
  ASSERT_TRUE(wrong_args.has_value());
  EXPECT_FALSE(NoRpcError(*cache, "test", "add_them", *wrong_args, wrong, &none).hint.has_value());
  const std::vector<std::string> add{"add_them"};
  EXPECT_EQ(NoRpcError(*cache, "test", "add_them", *wrong_args, wrong, &add).hint,
            "Perhaps you meant to call the function test.add_them(a, b)");
}

TEST(RpcResolution, PostJsonMentionsTheSingleUnnamedParameter) {
  const auto cache = Fixture();
  auto r = Resolve(*cache, "unnamed_int_param", Request("", Verb::kPost, "application/json"), Verb::kPost, R"({"x":1,"y":2})");
  ASSERT_FALSE(r.routine.has_value());
  EXPECT_EQ(r.routine.error().message, "Could not find the function test.unnamed_int_param(x, y) in the schema cache");
  EXPECT_EQ(r.routine.error().details,
            "Searched for the function test.unnamed_int_param with parameters x, y or with a single unnamed json/jsonb "
            "parameter, but no matches were found in the schema cache.");
  EXPECT_EQ(r.routine.error().hint, "Perhaps you meant to call the function test.unnamed_text_param");
  auto xml = Resolve(*cache, "unnamed_int_param", Request("", Verb::kPost, "text/xml"), Verb::kPost, "a simple text");
  ASSERT_FALSE(xml.routine.has_value());
  EXPECT_EQ(xml.routine.error().message, "Could not find the function test.unnamed_int_param in the schema cache");
  EXPECT_EQ(xml.routine.error().details,
            "Searched for the function test.unnamed_int_param with a single unnamed xml parameter, but no matches were "
            "found in the schema cache.");
  EXPECT_FALSE(xml.routine.error().hint.has_value());
}

TEST(RpcResolution, TheWholeBodyGoesToASingleUnnamedParameter) {
  const auto cache = Fixture();
  const auto api = Request("", Verb::kPost, "text/plain");
  auto r = Resolve(*cache, "unnamed_text_param", api, Verb::kPost, "unnamed text arg");
  ASSERT_TRUE(r.routine.has_value());
  const RpcCall call = BuildCall(**r.routine, *r.args, api);
  EXPECT_EQ(call.sql, "SELECT pgrst_call.* FROM (SELECT \"test\".\"unnamed_text_param\"($1::text)) pgrst_call(pgrst_scalar)");
  EXPECT_EQ(call.args_param, "unnamed text arg");
  const auto json = Request("", Verb::kPost);
  auto j = Resolve(*cache, "unnamed_json_param", json, Verb::kPost, R"({"A":1})");
  ASSERT_TRUE(j.routine.has_value());
  EXPECT_EQ(BuildCall(**j.routine, *j.args, json).args_param, R"({"A":1})");
}

TEST(RpcResolution, AmbiguousOverloadsAre300WithEveryCandidate) {
  const auto cache = Fixture();
  auto r = Resolve(*cache, "overloaded_same_args", Request("arg=value", Verb::kGet), Verb::kGet);
  ASSERT_FALSE(r.routine.has_value());
  const ApiError& e = r.routine.error();
  EXPECT_EQ(e.status, 300);
  EXPECT_EQ(e.code, "PGRST203");
  EXPECT_EQ(e.message,
            "Could not choose the best candidate function between: test.overloaded_same_args(arg => integer), "
            "test.overloaded_same_args(arg => xml), test.overloaded_same_args(arg => text, num => integer)");
  EXPECT_EQ(e.hint, "Try renaming the parameters or the function itself in the database so function overloading can be resolved");
}

TEST(RpcResolution, RepeatedGetArgumentsFillAVariadicParameter) {
  const auto cache = Fixture();
  const auto api = Request("v=hi&v=there", Verb::kGet);
  auto r = Resolve(*cache, "variadic_param", api, Verb::kGet);
  ASSERT_TRUE(r.routine.has_value());
  const RpcCall call = BuildCall(**r.routine, *r.args, api);
  EXPECT_EQ(call.args_param, R"({"v":["hi","there"]})");
  EXPECT_NE(call.sql.find("VARIADIC \"v\" := pgrst_body.\"v\""), std::string::npos) << call.sql;
  // Without VARIADIC the last repetition wins.
  const auto say = Request("name=ignored&name=world", Verb::kGet);
  auto s = Resolve(*cache, "sayhello", say, Verb::kGet);
  ASSERT_TRUE(s.routine.has_value());
  EXPECT_EQ(BuildCall(**s.routine, *s.args, say).args_param, R"({"name":"world"})");
}

TEST(RpcArgumentsTest, PostBodiesAsPostgRESTReadsThem) {
  const auto api = Request("", Verb::kPost);
  auto empty = ReadRpcArguments(api, Verb::kPost, "");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->keys.empty());
  EXPECT_EQ(empty->body, "{}");
  auto arr = ReadRpcArguments(api, Verb::kPost, R"([{"a":1,"b":2},{"a":4,"b":6}])");
  ASSERT_TRUE(arr.has_value());
  EXPECT_EQ(arr->keys, (std::set<std::string>{"a", "b"}));
  auto mixed = ReadRpcArguments(api, Verb::kPost, R"([{"a":1},{"b":2}])");
  ASSERT_FALSE(mixed.has_value());
  EXPECT_EQ(mixed.error().code, "PGRST102");
  EXPECT_EQ(mixed.error().message, "All object keys must match");
  auto bad = ReadRpcArguments(api, Verb::kPost, "sdfsdf");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().status, 400);
  const auto cols = Request("columns=name", Verb::kPost);
  auto c = ReadRpcArguments(cols, Verb::kPost, R"({"name":"John","smth":"here"})");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->keys, (std::set<std::string>{"name"}));
  const auto form = Request("", Verb::kPost, "application/x-www-form-urlencoded");
  auto f = ReadRpcArguments(form, Verb::kPost, "v=hi&v=there");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->pairs.size(), 2u);
  EXPECT_EQ(f->keys, (std::set<std::string>{"v"}));
}

TEST(RpcFuzzy, MatchesPostgRESTsDocumentedExamples) {
  const std::vector<std::string> names{"test", "another"};
  EXPECT_EQ(FuzzyGetOne(names, "testt"), "test");
  EXPECT_EQ(FuzzyGetOne(names, "other"), "another");
  EXPECT_EQ(FuzzyGetOne(names, "noclosealternative"), std::nullopt);
  const std::vector<std::string> lists{"(name, param, val)", "(attr, id)"};
  EXPECT_EQ(FuzzyGetOne(lists, "(nam, pqaram, vall)"), "(name, param, val)");
  EXPECT_EQ(FuzzyGetOne(lists, "(param, val)"), "(name, param, val)");
  EXPECT_EQ(FuzzyGetOne(lists, "(attrs, id)"), "(attr, id)");
  EXPECT_EQ(FuzzyGetOne(lists, "(id)"), "(attr, id)");
  EXPECT_EQ(FuzzyGetOne(lists, "(noclosealternative)"), std::nullopt);
}

TEST(RpcResultRelation, ScalarsAreOneColumnRowTypesTheirColumns) {
  Routine scalar = Fn("add_them", {});
  const Relation s = ResultRelation(scalar, nullptr);
  ASSERT_EQ(s.columns.size(), 1u);
  EXPECT_EQ(s.columns[0].name, "pgrst_scalar");
  Routine out = Fn("many_out_params", {}, "record");
  out.returns_composite = true;
  out.columns = {{"my_json", "json"}, {"num", "integer"}};
  const Relation o = ResultRelation(out, nullptr);
  EXPECT_EQ(o.name, "record");
  ASSERT_EQ(o.columns.size(), 2u);
  EXPECT_EQ(o.columns[1].name, "num");
}

}  // namespace
}  // namespace pgwarden::dataapi
