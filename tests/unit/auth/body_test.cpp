//! Request body validation with Better Auth's (zod's) exact VALIDATION_ERROR messages.
#include "auth/body.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace pgwarden::auth {
namespace {

json::object Parse(std::string_view text) { return json::parse(text).as_object(); }

TEST(BodyReader, ReportsAMissingRequiredStringAsUndefined) {
  const json::object body = Parse(R"({"email":"a@b.co","password":"secret123"})");
  BodyReader r(body);
  r.RequiredString("name");
  ASSERT_FALSE(r.Ok());
  const Error e = r.Failure();
  EXPECT_EQ(e.code, ErrorCode::kValidationError);
  EXPECT_EQ(e.Status(), 400);
  EXPECT_EQ(e.Message(), "[body.name] Invalid input: expected string, received undefined");
}

TEST(BodyReader, NamesTheReceivedTypeAsZodDoes) {
  struct Case {
    std::string_view body;
    std::string_view message;
  };
  for (const auto& c : {
           Case{R"({"name":42})", "[body.name] Invalid input: expected string, received number"},
           Case{R"({"name":4.5})", "[body.name] Invalid input: expected string, received number"},
           Case{R"({"name":-1})", "[body.name] Invalid input: expected string, received number"},
           Case{R"({"name":null})", "[body.name] Invalid input: expected string, received null"},
           Case{R"({"name":true})", "[body.name] Invalid input: expected string, received boolean"},
           Case{R"({"name":["x"]})", "[body.name] Invalid input: expected string, received array"},
           Case{R"({"name":{"x":1}})", "[body.name] Invalid input: expected string, received object"},
       }) {
    SCOPED_TRACE(c.body);
    const json::object body = Parse(c.body);
    BodyReader r(body);
    EXPECT_EQ(r.RequiredString("name"), "");
    ASSERT_FALSE(r.Ok());
    EXPECT_EQ(r.Failure().Message(), c.message);
  }
}

TEST(BodyReader, ReturnsValidStringsAndAllowsEmptyOnesUnlessAsked) {
  const json::object body = Parse(R"({"name":"Ada","empty":""})");
  BodyReader r(body);
  EXPECT_EQ(r.RequiredString("name"), "Ada");
  EXPECT_EQ(r.RequiredString("empty"), "");
  EXPECT_TRUE(r.Ok());
  EXPECT_EQ(r.RequiredString("empty", /*non_empty=*/true), "");
  ASSERT_FALSE(r.Ok());
  EXPECT_EQ(r.Failure().Message(), "[body.empty] Too small: expected string to have >=1 characters");
}

TEST(BodyReader, ReportsAnInvalidEmailAddress) {
  for (std::string_view body : {R"({"email":"not-an-email"})", R"({"email":""})", R"({"email":"a@b"})"}) {
    SCOPED_TRACE(body);
    const json::object obj = Parse(body);
    BodyReader r(obj);
    EXPECT_EQ(r.Email("email"), "");
    ASSERT_FALSE(r.Ok());
    EXPECT_EQ(r.Failure().Message(), "[body.email] Invalid email address");
  }
}

TEST(BodyReader, ReportsAnEmailOfTheWrongTypeAsATypeError) {
  const json::object body = Parse(R"({"email":123})");
  BodyReader r(body);
  r.Email("email");
  EXPECT_EQ(r.Failure().Message(), "[body.email] Invalid input: expected string, received number");
}

TEST(BodyReader, AcceptsAValidEmail) {
  const json::object body = Parse(R"({"email":"first.last+tag@sub.example.com"})");
  BodyReader r(body);
  EXPECT_EQ(r.Email("email"), "first.last+tag@sub.example.com");
  EXPECT_TRUE(r.Ok());
}

TEST(BodyReader, JoinsEveryIssueWithSemicolonsInTheOrderRead) {
  const json::object body = Parse(R"({"email":"nope","password":7,"rememberMe":"yes"})");
  BodyReader r(body);
  r.RequiredString("name");
  r.Email("email");
  r.RequiredString("password");
  r.OptionalBool("rememberMe");
  r.OptionalString("image");  // absent: fine
  ASSERT_FALSE(r.Ok());
  EXPECT_EQ(r.Failure().Message(),
            "[body.name] Invalid input: expected string, received undefined; "
            "[body.email] Invalid email address; "
            "[body.password] Invalid input: expected string, received number; "
            "[body.rememberMe] Invalid input: expected boolean, received string");
}

TEST(BodyReader, TreatsNullOptionalMembersAsAbsent) {
  const json::object body = Parse(R"({"image":null,"rememberMe":null})");
  BodyReader r(body);
  EXPECT_EQ(r.OptionalString("image"), std::nullopt);
  EXPECT_EQ(r.OptionalBool("rememberMe"), std::nullopt);
  EXPECT_EQ(r.OptionalString("absent"), std::nullopt);
  EXPECT_TRUE(r.Ok());
}

TEST(BodyReader, ReadsOptionalValuesThatArePresent) {
  const json::object body = Parse(R"({"image":"https://img","rememberMe":false,"blank":""})");
  BodyReader r(body);
  EXPECT_EQ(r.OptionalString("image"), std::optional<std::string_view>("https://img"));
  EXPECT_EQ(r.OptionalBool("rememberMe"), std::optional<bool>(false));
  EXPECT_EQ(r.OptionalString("blank"), std::optional<std::string_view>(""));
  EXPECT_TRUE(r.Ok());
}

TEST(BodyReader, TreatsAnEmptyUrlAsAbsentButRejectsNonStrings) {
  const json::object body = Parse(R"({"callbackURL":"","redirectTo":"/home","errorCallbackURL":["/x"]})");
  BodyReader r(body);
  EXPECT_EQ(r.OptionalUrl("callbackURL"), std::nullopt);
  EXPECT_EQ(r.OptionalUrl("redirectTo"), std::optional<std::string_view>("/home"));
  EXPECT_TRUE(r.Ok());
  EXPECT_EQ(r.OptionalUrl("errorCallbackURL"), std::nullopt);
  ASSERT_FALSE(r.Ok());
  EXPECT_EQ(r.Failure().Message(), "[body.errorCallbackURL] Invalid input: expected string, received array");
}

TEST(BodyReader, IgnoresUnknownMembers) {
  const json::object body = Parse(R"({"name":"x","unexpected":{"deep":[1,2,3]}})");
  BodyReader r(body);
  r.RequiredString("name");
  EXPECT_TRUE(r.Ok());
  EXPECT_TRUE(r.Has("unexpected"));
  EXPECT_FALSE(r.Has("missing"));
}

TEST(TypeName, UsesZodsNames) {
  EXPECT_EQ(TypeName(nullptr), "undefined");
  const json::value values[] = {nullptr, true, 1, -1, 1u, 1.5, "s", json::array{}, json::object{}};
  const std::string_view names[] = {"null",   "boolean", "number", "number", "number",
                                    "number", "string",  "array",  "object"};
  for (std::size_t i = 0; i < std::size(values); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(TypeName(&values[i]), names[i]);
  }
}

}  // namespace
}  // namespace pgwarden::auth
