//! Method + path routing: exact paths, ":param" segments, no trailing-slash or case folding.
#include "http/router.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pgwarden::http {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

//! A handler that answers with its own name, so a test can tell which route matched.
Handler Named(std::string name) {
  return [name](Request& req) -> asio::awaitable<Response> {
    co_return MakeResponse(req, bhttp::status::ok, name);
  };
}

//! Which route `Find` picked, by comparing the handler's address with the registered ones.
class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add(bhttp::verb::get, "/neondb/auth/get-session", Named("get-session"));
    router_.Add(bhttp::verb::post, "/neondb/auth/sign-in/email", Named("sign-in"));
    router_.Add(bhttp::verb::get, "/neondb/auth/sign-in/email", Named("sign-in-get"));
    router_.Add(bhttp::verb::get, "/neondb/auth/jwks", Named("jwks"));
    router_.Add(bhttp::verb::get, "/:db/rest/v1/:table", Named("rest-select"));
    router_.Add(bhttp::verb::post, "/:db/rest/v1/:table", Named("rest-insert"));
    router_.Add(bhttp::verb::get, "/:db/rest/v1/rpc/:fn", Named("rpc"));
  }
  //! The name of the handler found, or "" when none.
  std::string Match(bhttp::verb method, std::string_view path, std::vector<std::string>* params_out = nullptr) {
    std::vector<std::string> params;
    const Handler* h = router_.Find(method, path, params);
    if (params_out) *params_out = params;
    if (!h) return "";
    Request req;
    req.raw.version(11);
    // Handlers are coroutines; the name is their body, so run one to read it.
    asio::io_context io;
    std::string body;
    asio::co_spawn(io, (*h)(req), [&](std::exception_ptr, Response res) { body = res.body(); });
    io.run();
    return body;
  }
  Router router_;
};

TEST_F(RouterTest, FindsExactPathsByMethod) {
  EXPECT_EQ(Match(bhttp::verb::get, "/neondb/auth/get-session"), "get-session");
  EXPECT_EQ(Match(bhttp::verb::post, "/neondb/auth/sign-in/email"), "sign-in");
  EXPECT_EQ(Match(bhttp::verb::get, "/neondb/auth/sign-in/email"), "sign-in-get");
}

TEST_F(RouterTest, ReturnsNullForAMethodMismatch) {
  EXPECT_EQ(Match(bhttp::verb::post, "/neondb/auth/get-session"), "");
  EXPECT_EQ(Match(bhttp::verb::delete_, "/neondb/auth/sign-in/email"), "");
  EXPECT_EQ(Match(bhttp::verb::delete_, "/neondb/rest/v1/posts"), "");
}

TEST_F(RouterTest, DoesNotMatchATrailingSlashOrADifferentCase) {
  EXPECT_EQ(Match(bhttp::verb::get, "/neondb/auth/get-session/"), "");
  EXPECT_EQ(Match(bhttp::verb::get, "/neondb/auth/Get-Session"), "");
  EXPECT_EQ(Match(bhttp::verb::get, "//neondb/auth/get-session"), "");
  EXPECT_EQ(Match(bhttp::verb::get, "/neondb/rest/v1/posts/"), "");
  EXPECT_EQ(Match(bhttp::verb::get, "/neondb/Rest/v1/posts"), "");
}

TEST_F(RouterTest, FillsDecodedParametersInPatternOrder) {
  std::vector<std::string> params;
  EXPECT_EQ(Match(bhttp::verb::get, "/neondb/rest/v1/posts", &params), "rest-select");
  EXPECT_THAT(params, ElementsAre("neondb", "posts"));
  EXPECT_EQ(Match(bhttp::verb::post, "/app%2Ddb/rest/v1/my%20table", &params), "rest-insert");
  EXPECT_THAT(params, ElementsAre("app-db", "my table"));
  EXPECT_EQ(Match(bhttp::verb::get, "/neondb/rest/v1/rpc/do_it", &params), "rpc");
  EXPECT_THAT(params, ElementsAre("neondb", "do_it"));
}

TEST_F(RouterTest, RejectsEmptyOrMalformedParameters) {
  std::vector<std::string> params;
  EXPECT_EQ(Match(bhttp::verb::get, "/neondb/rest/v1/", &params), "");
  EXPECT_EQ(Match(bhttp::verb::get, "//rest/v1/posts", &params), "");
  EXPECT_EQ(Match(bhttp::verb::get, "/neondb/rest/v1/bad%zz", &params), "");
  EXPECT_THAT(params, IsEmpty());
}

TEST_F(RouterTest, DoesNotMatchPathsWithMoreOrFewerSegments) {
  EXPECT_EQ(Match(bhttp::verb::get, "/neondb/rest/v1/posts/extra"), "");
  EXPECT_EQ(Match(bhttp::verb::get, "/neondb/rest/v1"), "");
  EXPECT_EQ(Match(bhttp::verb::get, "/neondb/auth/jwks/x"), "");
}

TEST_F(RouterTest, KnowsPathsRoutedForAnyMethod) {
  EXPECT_TRUE(router_.Knows("/neondb/auth/get-session"));
  EXPECT_TRUE(router_.Knows("/neondb/rest/v1/posts"));
  EXPECT_FALSE(router_.Knows("/neondb/auth/get-session/"));
  EXPECT_FALSE(router_.Knows("/neondb/rest/v1/"));
  EXPECT_FALSE(router_.Knows("/unknown"));
}

}  // namespace
}  // namespace pgwarden::http
