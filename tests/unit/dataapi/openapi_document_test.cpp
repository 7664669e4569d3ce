//! The OpenAPI document of GET / as PostgREST v13 writes it: definitions (types, defaults, key notes),
//! table and function paths, the catalog row shape, and host/basePath from openapi-server-proxy-uri.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "dataapi/openapi_document.hpp"

namespace pgwarden::dataapi {
namespace {

namespace json = boost::json;

json::value Doc(const OpenApiCatalog& cat, OpenApiServer server = {}) {
  return json::parse(BuildOpenApiDocument(cat, server));
}

OpenApiColumn Col(std::string name, std::string type, bool nullable = true) {
  OpenApiColumn c;
  c.name = std::move(name);
  c.type = std::move(type);
  c.nullable = nullable;
  return c;
}

TEST(OpenApiDocument, DescribesColumnsWithKeysDefaultsAndEnums) {
  OpenApiTable t;
  t.name = "items";
  t.description = "items comment";
  t.insertable = t.updatable = t.deletable = true;
  auto id = Col("id", "integer", false);
  id.description = "the id";
  id.primary_key = true;
  id.default_expr = "nextval('test.items_id_seq'::regclass)";
  auto parent = Col("parent_id", "integer");
  parent.foreign_key = std::make_pair("parents", "id");
  auto day = Col("day", "date");
  day.default_expr = "'1900-01-01'::date";
  auto flag = Col("flag", "boolean");
  flag.default_expr = "false";
  auto code = Col("code", "character");
  code.max_length = 1;
  auto kind = Col("kind", "test.kind");
  kind.enum_values = {"a", "b"};
  kind.default_expr = "'a'::test.kind";
  auto tags = Col("tags", "text[]");
  auto doc = Col("doc", "jsonb");
  t.columns = {id, parent, day, flag, code, kind, tags, doc};
  OpenApiCatalog cat;
  cat.tables.push_back(t);

  const auto d = Doc(cat);
  const auto& props = d.at("definitions").at("items").at("properties");
  EXPECT_EQ(props.at("id"), json::parse(R"({"description":"the id\n\nNote:\nThis is a Primary Key.<pk/>",
                                           "format":"integer","type":"integer"})"));
  EXPECT_EQ(props.at("parent_id").at("description"),
            "Note:\nThis is a Foreign Key to `parents.id`.<fk table='parents' column='id'/>");
  EXPECT_EQ(props.at("day").at("default"), "1900-01-01");
  EXPECT_EQ(props.at("flag").at("default"), false);
  EXPECT_EQ(props.at("code"), json::parse(R"({"format":"character","maxLength":1,"type":"string"})"));
  EXPECT_EQ(props.at("kind"), json::parse(R"({"default":"a","enum":["a","b"],"format":"test.kind","type":"string"})"));
  EXPECT_EQ(props.at("tags"), json::parse(R"({"format":"text[]","type":"array","items":{"type":"string"}})"));
  EXPECT_EQ(props.at("doc"), json::parse(R"({"format":"jsonb"})"));
  EXPECT_EQ(d.at("definitions").at("items").at("required"), json::parse(R"(["id"])"));
  EXPECT_EQ(d.at("paths").at("/items").at("get").at("summary"), "items comment");
  EXPECT_EQ(d.at("paths").at("/items").at("get").as_object().count("description"), 0u);
  EXPECT_EQ(d.at("paths").at("/items").at("post").at("parameters"),
            json::parse(R"([{"$ref":"#/parameters/body.items"},{"$ref":"#/parameters/select"},
                            {"$ref":"#/parameters/preferPost"}])"));
  EXPECT_EQ(d.at("parameters").as_object().count("rowFilter.items.kind"), 1u);
  EXPECT_EQ(d.at("parameters").at("preferParams").as_object().count("enum"), 0u);
}

TEST(OpenApiDocument, ReadOnlyRelationsOnlyHaveGet) {
  OpenApiTable t;
  t.name = "v";
  t.is_view = true;
  t.columns = {Col("a", "text")};
  OpenApiCatalog cat;
  cat.tables.push_back(t);
  const auto d = Doc(cat);
  EXPECT_EQ(d.at("paths").at("/v").as_object().size(), 1u);
  EXPECT_EQ(d.at("definitions").at("v").as_object().count("required"), 0u);
}

TEST(OpenApiDocument, DescribesFunctionsForGetAndPost) {
  OpenApiRoutine r;
  r.name = "f";
  r.description = "Summary\n\nMore";
  r.volatility = Volatility::kStable;
  r.params = {{"a", "integer", true, false}, {"j", "json", false, false}, {"v", "text[]", false, true}};
  OpenApiCatalog cat;
  cat.routines.push_back(r);
  const auto d = Doc(cat);
  const auto& get = d.at("paths").at("/rpc/f").at("get");
  EXPECT_EQ(get.at("summary"), "Summary");
  EXPECT_EQ(get.at("description"), "More");
  EXPECT_EQ(get.at("tags"), json::parse(R"(["(rpc) f"])"));
  EXPECT_EQ(get.at("parameters"), json::parse(R"([
    {"format":"integer","in":"query","name":"a","required":true,"type":"integer"},
    {"format":"json","in":"query","name":"j","required":false,"type":"string"},
    {"collectionFormat":"multi","in":"query","items":{"format":"text","type":"string"},"name":"v",
     "required":false,"type":"array"}])"));
  EXPECT_EQ(d.at("paths").at("/rpc/f").at("post").at("parameters").at(0).at("schema"), json::parse(R"({
    "description":"Summary\n\nMore","type":"object","required":["a"],
    "properties":{"a":{"format":"integer","type":"integer"},"j":{"format":"json"},
                  "v":{"format":"text[]","type":"array","items":{"type":"string"}}}})"));

  r.volatility = Volatility::kVolatile;
  cat.routines = {r};
  EXPECT_EQ(Doc(cat).at("paths").at("/rpc/f").as_object().count("get"), 0u);
}

TEST(OpenApiDocument, TitleAndDescriptionComeFromTheSchemaComment) {
  OpenApiCatalog cat;
  EXPECT_EQ(Doc(cat).at("info").at("title"), "PostgREST API");
  cat.schema_description = "My API\n\nline one\nline two";
  const auto d = Doc(cat);
  EXPECT_EQ(d.at("info").at("title"), "My API");
  EXPECT_EQ(d.at("info").at("description"), "line one\nline two");
  EXPECT_EQ(d.at("host"), "0.0.0.0:3000");
  EXPECT_EQ(d.as_object().count("security"), 0u);
}

TEST(OpenApiDocument, SecurityDefinitionsWhenActive) {
  OpenApiServer s;
  s.security_active = true;
  const auto d = Doc({}, s);
  EXPECT_EQ(d.at("security"), json::parse(R"([{"JWT":[]}])"));
  EXPECT_EQ(d.at("securityDefinitions").at("JWT").at("type"), "apiKey");
}

TEST(OpenApiDocument, ProxyUriSetsSchemeHostPortAndBasePath) {
  auto s = OpenApiServerFor(std::string("https://postgrest.com/openapi.json"), "!4", 3000);
  EXPECT_EQ(s.scheme, "https");
  EXPECT_EQ(s.host, "postgrest.com");
  EXPECT_EQ(s.port, 443);
  EXPECT_EQ(s.base_path, "/openapi.json");
  s = OpenApiServerFor(std::nullopt, "*4", 3001);
  EXPECT_EQ(s.host, "0.0.0.0");
  EXPECT_EQ(s.port, 3001);
  s = OpenApiServerFor(std::string("http://h:8080"), "localhost", 1);
  EXPECT_EQ(s.port, 8080);
  EXPECT_EQ(s.base_path, "/");
}

TEST(OpenApiDocument, CatalogRowKeepsTheLastOverloadAndPicksTheRoutineColumn) {
  const auto cat = ParseOpenApiCatalog(R"([
    [["f", null, "s", []], ["f", null, "v", [["a", "integer", true, false]]]],
    "", "schema comment",
    [["t", null, false, true, true, true, [["id", null, false, "integer", null, null, []]]]],
    null])");
  ASSERT_TRUE(cat.has_value());
  ASSERT_EQ(cat->routines.size(), 1u);
  EXPECT_EQ(cat->routines[0].params.size(), 1u);
  EXPECT_EQ(cat->routines[0].volatility, Volatility::kVolatile);
  EXPECT_EQ(cat->schema_description, "schema comment");
  ASSERT_EQ(cat->tables.size(), 1u);
  EXPECT_FALSE(cat->tables[0].columns[0].nullable);
  EXPECT_FALSE(ParseOpenApiCatalog("{}").has_value());
}

}  // namespace
}  // namespace pgwarden::dataapi
