//! The OpenAPI 2.0 (Swagger) document PostgREST v13 answers GET / with (Response/OpenAPI.hs), built from what
//! the catalogs say about one schema (read at request time, see openapi.cpp) plus the keys the schema cache
//! knows. Pure: OpenApiCatalog + OpenApiServer -> JSON text; nothing here touches the database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataapi/schema/routines.hpp"

namespace pgwarden::dataapi {

//! A column as PostgREST's schema cache holds it (types formatted as with an empty search_path).
struct OpenApiColumn {
  std::string name;
  std::optional<std::string> description;
  bool nullable = true;
  std::string type;                        //!< "integer", "character varying", "test.enum_menagerie_type"
  std::optional<std::int64_t> max_length;  //!< character(n) / varchar(n)
  std::optional<std::string> default_expr;  //!< pg_get_expr of the default, as PostgREST reads it
  std::vector<std::string> enum_values;
  bool primary_key = false;
  //! (foreign table, foreign column) of a single-column many-to-one / one-to-one key on this column.
  std::optional<std::pair<std::string, std::string>> foreign_key;
};

struct OpenApiTable {
  std::string name;
  std::optional<std::string> description;
  bool is_view = false;
  bool insertable = false, updatable = false, deletable = false;
  std::vector<OpenApiColumn> columns;  //!< in attnum order
};

struct OpenApiParam {
  std::string name;
  std::string type;  //!< regtype text
  bool required = true;
  bool variadic = false;
};

struct OpenApiRoutine {
  std::string name;
  std::optional<std::string> description;
  Volatility volatility = Volatility::kVolatile;
  std::vector<OpenApiParam> params;  //!< input parameters in declaration order
};

struct OpenApiCatalog {
  std::optional<std::string> schema_description;
  std::vector<OpenApiTable> tables;
  //! One entry per path: of overloaded functions, the one PostgREST's map keeps (see ParseOpenApiCatalog).
  std::vector<OpenApiRoutine> routines;
};

//! Where the API is served and what the document says about itself (host/basePath/schemes/info/security).
struct OpenApiServer {
  std::string scheme = "http";
  std::string host = "0.0.0.0";
  std::int64_t port = 3000;
  std::string base_path = "/";
  bool security_active = false;
  std::string version = "13.0.8";
  std::string docs_version = "v13";
};

//! The catalog statement's body: [routines (request search_path) | null, _, schema description, tables,
//! routines (empty search_path) | null]; see openapi.cpp. nullopt when it is not of that shape.
std::optional<OpenApiCatalog> ParseOpenApiCatalog(std::string_view json);

//! PostgREST's host/port/basePath/scheme: from openapi-server-proxy-uri when set and well formed, else
//! http://server-host:server-port/ (with PostgREST's "*4"/"!4"/... -> 0.0.0.0).
OpenApiServer OpenApiServerFor(const std::optional<std::string>& proxy_uri, std::string_view server_host,
                               std::int64_t server_port);

//! The document, keys in the order PostgREST's encoder writes them where it matters to a reader.
std::string BuildOpenApiDocument(const OpenApiCatalog& catalog, const OpenApiServer& server);

}  // namespace pgwarden::dataapi
