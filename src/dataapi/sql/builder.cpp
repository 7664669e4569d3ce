#include "dataapi/sql/builder.hpp"

#include <boost/json.hpp>

namespace pgwarden::dataapi {
namespace {

ApiError ColumnError(std::string_view rel, std::string_view column) {
  return MakeApiError(400, "42703", "column " + std::string(rel) + "." + std::string(column) + " does not exist");
}

ApiError BodyError(std::string message) {
  return MakeApiError(400, "PGRST102", std::move(message));
}

ApiError NotImplemented(std::string what) {
  return MakeApiError(400, "PGRST127", "Feature not implemented", std::move(what));
}

// Casts are emitted unquoted (so int, text[], "double precision" aliases work): only a strict type-name syntax.
bool IsSafeCast(std::string_view t) {
  if (t.empty() || t.size() > 64) return false;
  size_t i = 0;
  for (; i < t.size(); ++i) {
    const char c = t[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9') ||
                    (i > 0 && c == ' ');
    if (!ok) break;
  }
  const auto rest = t.substr(i);
  return i > 0 && (rest.empty() || rest == "[]");
}

struct Builder {
  const Relation& rel;
  std::vector<std::optional<std::string>> params;
  std::optional<ApiError> error;

  std::string Param(std::string value) {
    params.emplace_back(std::move(value));
    return "$" + std::to_string(params.size());
  }
  std::string Table() const { return QuoteIdent(rel.schema) + "." + QuoteIdent(rel.name); }

  // A column (checked against the cache) with its JSON path.
  std::string FieldSql(const Field& f) {
    if (!rel.FindColumn(f.name)) {
      if (!error) error = ColumnError(rel.name, f.name);
      return "NULL";
    }
    std::string out = QuoteIdent(rel.name) + "." + QuoteIdent(f.name);
    for (const auto& step : f.json_path) {
      out += step.arrow == JsonStep::Arrow::kArrow ? "->" : "->>";
      if (step.kind == JsonStep::Kind::kIndex) {
        out += step.value;  // validated by the parser: optional '-' then digits
      } else {
        out += Param(step.value);
      }
    }
    return out;
  }

  std::string ArrayLiteral(const std::vector<std::string>& items) {
    std::string lit = "{";
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) lit += ',';
      lit += '"';
      for (const char c : items[i]) {
        if (c == '"' || c == '\\') lit += '\\';
        lit += c;
      }
      lit += '"';
    }
    lit += '}';
    return lit;
  }

  std::string FilterSql(const Filter& f) {
    const std::string col = FieldSql(f.field);
    const auto& e = f.expr;
    std::string sql;
    const bool text_path = !f.field.json_path.empty() && f.field.json_path.back().arrow == JsonStep::Arrow::kDoubleArrow;
    (void)text_path;
    auto binary = [&](const char* op) {
      if (e.quantifier) {
        std::vector<std::string> items = e.list;
        return col + " " + op + (*e.quantifier == Quantifier::kAny ? " ANY(" : " ALL(") + Param(ArrayLiteral(items)) +
               ")";
      }
      return col + " " + op + " " + Param(e.value);
    };
    auto like_value = [](std::string v) {
      for (char& c : v)
        if (c == '*') c = '%';
      return v;
    };
    switch (e.op) {
      case FilterOperator::kEq: sql = binary("="); break;
      case FilterOperator::kNeq: sql = binary("<>"); break;
      case FilterOperator::kGt: sql = binary(">"); break;
      case FilterOperator::kGte: sql = binary(">="); break;
      case FilterOperator::kLt: sql = binary("<"); break;
      case FilterOperator::kLte: sql = binary("<="); break;
      case FilterOperator::kMatch: sql = binary("~"); break;
      case FilterOperator::kImatch: sql = binary("~*"); break;
      case FilterOperator::kLike:
      case FilterOperator::kIlike: {
        const char* op = e.op == FilterOperator::kLike ? "LIKE" : "ILIKE";
        if (e.quantifier) {
          std::vector<std::string> items;
          for (const auto& v : e.list) items.push_back(like_value(v));
          sql = col + " " + op + (*e.quantifier == Quantifier::kAny ? " ANY(" : " ALL(") + Param(ArrayLiteral(items)) + ")";
        } else {
          sql = col + " " + op + " " + Param(like_value(e.value));
        }
        break;
      }
      case FilterOperator::kIn: sql = col + " = ANY(" + Param(ArrayLiteral(e.list)) + ")"; break;
      case FilterOperator::kIs:
        switch (e.is_value) {
          case IsValue::kNull: sql = col + " IS NULL"; break;
          case IsValue::kNotNull: sql = col + " IS NOT NULL"; break;
          case IsValue::kTrue: sql = col + " IS TRUE"; break;
          case IsValue::kFalse: sql = col + " IS FALSE"; break;
          case IsValue::kUnknown: sql = col + " IS UNKNOWN"; break;
        }
        break;
      case FilterOperator::kIsDistinct: sql = col + " IS DISTINCT FROM " + Param(e.value); break;
      case FilterOperator::kCs: sql = col + " @> " + Param(e.value); break;
      case FilterOperator::kCd: sql = col + " <@ " + Param(e.value); break;
      case FilterOperator::kOv: sql = col + " && " + Param(e.value); break;
      case FilterOperator::kSl: sql = col + " << " + Param(e.value); break;
      case FilterOperator::kSr: sql = col + " >> " + Param(e.value); break;
      case FilterOperator::kNxr: sql = col + " &< " + Param(e.value); break;
      case FilterOperator::kNxl: sql = col + " &> " + Param(e.value); break;
      case FilterOperator::kAdj: sql = col + " -|- " + Param(e.value); break;
      case FilterOperator::kFts:
      case FilterOperator::kPlfts:
      case FilterOperator::kPhfts:
      case FilterOperator::kWfts: {
        const char* fn = e.op == FilterOperator::kFts     ? "to_tsquery"
                         : e.op == FilterOperator::kPlfts ? "plainto_tsquery"
                         : e.op == FilterOperator::kPhfts ? "phraseto_tsquery"
                                                          : "websearch_to_tsquery";
        const std::string query = e.language ? std::string(fn) + "(" + Param(*e.language) + "::regconfig, " +
                                                   Param(e.value) + ")"
                                             : std::string(fn) + "(" + Param(e.value) + ")";
        sql = col + " @@ " + query;
        break;
      }
    }
    return e.negated ? "NOT (" + sql + ")" : sql;
  }

  std::string LogicSql(const LogicTree& t) {
    std::string sql;
    if (t.kind == LogicTree::Kind::kFilter) {
      sql = FilterSql(t.filter);
    } else {
      sql = "(";
      for (size_t i = 0; i < t.children.size(); ++i) {
        if (i) sql += t.op == LogicOperator::kAnd ? " AND " : " OR ";
        sql += LogicSql(t.children[i]);
      }
      sql += ")";
    }
    return t.negated ? "NOT " + sql : sql;
  }

  // WHERE of the root relation; embedded filters are not supported yet.
  std::string Where(const ApiRequest& req) {
    std::vector<std::string> conds;
    for (const auto& pf : req.filters) {
      if (!pf.path.empty()) {
        if (!error) error = NotImplemented("filters on embedded resources");
        continue;
      }
      conds.push_back(FilterSql(pf.filter));
    }
    for (const auto& pl : req.logic) {
      if (!pl.path.empty()) {
        if (!error) error = NotImplemented("logic trees on embedded resources");
        continue;
      }
      conds.push_back(LogicSql(pl.tree));
    }
    if (conds.empty()) return {};
    std::string w = " WHERE ";
    for (size_t i = 0; i < conds.size(); ++i) w += (i ? " AND " : "") + conds[i];
    return w;
  }

  std::string SelectList(const ApiRequest& req) {
    std::string out;
    for (const auto& item : req.select) {
      if (!out.empty()) out += ", ";
      if (item.kind != SelectItem::Kind::kField) {
        if (!error) error = NotImplemented("resource embedding");
        continue;
      }
      if (item.aggregate) {
        if (!error) error = NotImplemented("aggregates");
        continue;
      }
      if (item.field.name == "*") {
        out += QuoteIdent(rel.name) + ".*";
        continue;
      }
      std::string expr = FieldSql(item.field);
      if (item.cast) {
        if (!IsSafeCast(*item.cast)) {
          if (!error) error = QueryParamError("\"failed to parse select parameter (" + req.select_raw + ")\"",
                                              "invalid cast: " + *item.cast);
          continue;
        }
        expr = "(" + expr + ")::" + *item.cast;
      }
      std::string name = item.alias ? *item.alias
                         : item.field.json_path.empty() ? item.field.name
                                                        : item.field.json_path.back().value;
      out += expr + " AS " + QuoteIdent(name);
    }
    return out.empty() ? QuoteIdent(rel.name) + ".*" : out;
  }

  std::string OrderBy(const ApiRequest& req) {
    std::string out;
    for (const auto& po : req.order) {
      if (!po.path.empty()) {
        if (!error) error = NotImplemented("ordering embedded resources");
        continue;
      }
      for (const auto& term : po.terms) {
        if (term.relation) {
          if (!error) error = NotImplemented("ordering by embedded columns");
          continue;
        }
        out += out.empty() ? " ORDER BY " : ", ";
        out += FieldSql(term.field);
        if (term.direction) out += *term.direction == OrderDirection::kAsc ? " ASC" : " DESC";
        if (term.nulls) out += *term.nulls == OrderNulls::kFirst ? " NULLS FIRST" : " NULLS LAST";
      }
    }
    return out;
  }
};

std::string Envelope(const std::string& source_sql, const std::string& total_sql, bool singular) {
  // PostgREST's result row: total, page size, and the JSON body built by Postgres.
  return "WITH pgrst_source AS (" + source_sql + ") SELECT " + total_sql +
         "::bigint AS total_result_set, pg_catalog.count(_postgrest_t)::bigint AS page_total, " +
         (singular ? std::string("COALESCE((json_agg(_postgrest_t)->0)::text, 'null')")
                   : std::string("COALESCE(json_agg(_postgrest_t), '[]')::text")) +
         " AS body FROM (SELECT * FROM pgrst_source) _postgrest_t";
}

bool WantsSingular(const ApiRequest& req) {
  for (const auto& m : req.accept)
    if (m.kind == MediaTypeKind::kSingularJson) return true;
  return false;
}

}  // namespace

std::string QuoteIdent(std::string_view ident) {
  std::string out = "\"";
  for (const char c : ident) {
    if (c == '"') out += '"';
    if (c == '\0') continue;  // cannot occur in a PostgreSQL identifier
    out += c;
  }
  out += '"';
  return out;
}

ApiResult<Statement> BuildRead(const ApiRequest& req, const Relation& rel, std::optional<std::int64_t> max_rows) {
  Builder b{rel, {}, {}};
  const std::string select = b.SelectList(req);
  const std::string where = b.Where(req);
  const std::string order = b.OrderBy(req);
  std::string limit;
  std::optional<std::int64_t> lim = req.range.limit;
  if (max_rows && (!lim || *lim > *max_rows)) lim = max_rows;
  if (lim) limit += " LIMIT " + b.Param(std::to_string(*lim)) + "::bigint";
  if (req.range.offset > 0) limit += " OFFSET " + b.Param(std::to_string(req.range.offset)) + "::bigint";
  std::string total = "NULL";
  if (req.prefer.count) {
    total = "(SELECT pg_catalog.count(*) FROM " + b.Table() + " " + QuoteIdent(rel.name) + where + ")";
  }
  if (b.error) return *b.error;
  const std::string source = "SELECT " + select + " FROM " + b.Table() + " " + QuoteIdent(rel.name) + where + order + limit;
  return Statement{Envelope(source, total, WantsSingular(req)), std::move(b.params)};
}

namespace {
// Keys of the first object (or `columns=`), each checked against the relation.
ApiResult<std::vector<std::string>> InsertColumns(const ApiRequest& req, const Relation& rel, std::string_view body,
                                                  bool& is_array) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  if (ec) return BodyError("Empty or invalid json");
  is_array = v.is_array();
  const boost::json::object* first = nullptr;
  if (v.is_object()) first = &v.as_object();
  else if (v.is_array() && !v.as_array().empty() && v.as_array()[0].is_object()) first = &v.as_array()[0].as_object();
  else if (v.is_array() && v.as_array().empty()) return std::vector<std::string>{};
  else return BodyError("All object keys must match");
  std::vector<std::string> cols;
  if (req.columns) {
    cols = *req.columns;
  } else {
    for (const auto& kv : *first) cols.emplace_back(kv.key());
  }
  for (const auto& c : cols)
    if (!rel.FindColumn(c)) {
      return MakeApiError(400, "PGRST204", "Could not find the '" + c + "' column of '" + rel.name + "' in the schema cache");
    }
  return cols;
}

std::string ReturningEnvelope(const ApiRequest& req, const Relation& rel, const std::string& write_sql, Builder& b) {
  const bool representation = req.prefer.returning == PreferReturn::kRepresentation;
  const std::string select = representation ? b.SelectList(req) : std::string("1");
  (void)rel;
  return "WITH pgrst_source AS (" + write_sql + " RETURNING " + (representation ? select : std::string("1")) +
         ") SELECT NULL::bigint AS total_result_set, pg_catalog.count(_postgrest_t)::bigint AS page_total, " +
         (representation ? (WantsSingular(req) ? std::string("COALESCE((json_agg(_postgrest_t)->0)::text, 'null')")
                                               : std::string("COALESCE(json_agg(_postgrest_t), '[]')::text"))
                         : std::string("''")) +
         " AS body FROM (SELECT * FROM pgrst_source) _postgrest_t";
}
}  // namespace

ApiResult<Statement> BuildInsert(const ApiRequest& req, const Relation& rel, std::string_view body) {
  bool is_array = false;
  auto cols = InsertColumns(req, rel, body, is_array);
  if (!cols) return cols.error();
  Builder b{rel, {}, {}};
  std::string write;
  const std::string payload = b.Param(std::string(body));
  if (cols->empty()) {
    write = "INSERT INTO " + b.Table() + " AS " + QuoteIdent(rel.name) + " SELECT * FROM " + b.Table() + " WHERE false";
  } else {
    std::string list;
    for (const auto& c : *cols) list += (list.empty() ? "" : ", ") + QuoteIdent(c);
    // json_populate_recordset types every value as the column's type; columns not listed keep their defaults.
    const std::string rows = is_array ? "json_populate_recordset(NULL::" + b.Table() + ", " + payload + "::json)"
                                      : "json_populate_record(NULL::" + b.Table() + ", " + payload + "::json)";
    write = "INSERT INTO " + b.Table() + " AS " + QuoteIdent(rel.name) + " (" + list + ") SELECT " + list + " FROM " + rows;
  }
  if (req.on_conflict || req.prefer.resolution) {
    std::vector<std::string> target = req.on_conflict ? *req.on_conflict : rel.primary_key;
    for (const auto& t : target)
      if (!rel.FindColumn(t)) return ColumnError(rel.name, t);
    if (target.empty()) return NotImplemented("upsert without a primary key or on_conflict");
    std::string tl;
    for (const auto& t : target) tl += (tl.empty() ? "" : ", ") + QuoteIdent(t);
    if (req.prefer.resolution == PreferResolution::kIgnoreDuplicates) {
      write += " ON CONFLICT (" + tl + ") DO NOTHING";
    } else if (req.prefer.resolution == PreferResolution::kMergeDuplicates) {
      std::string set;
      for (const auto& c : *cols) set += (set.empty() ? "" : ", ") + QuoteIdent(c) + " = EXCLUDED." + QuoteIdent(c);
      write += " ON CONFLICT (" + tl + ") DO UPDATE SET " + (set.empty() ? tl + " = EXCLUDED." + tl : set);
    }
  }
  std::string sql = ReturningEnvelope(req, rel, write, b);
  if (b.error) return *b.error;
  return Statement{std::move(sql), std::move(b.params)};
}

ApiResult<Statement> BuildUpdate(const ApiRequest& req, const Relation& rel, std::string_view body) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return BodyError("Empty or invalid json");
  Builder b{rel, {}, {}};
  const std::string payload = b.Param(std::string(body));
  std::string set;
  for (const auto& kv : v.as_object()) {
    const std::string key(kv.key());
    if (!rel.FindColumn(key)) {
      return MakeApiError(400, "PGRST204", "Could not find the '" + key + "' column of '" + rel.name + "' in the schema cache");
    }
    set += (set.empty() ? "" : ", ") + QuoteIdent(key) + " = pgrst_body." + QuoteIdent(key);
  }
  if (set.empty()) return BodyError("Empty or invalid json");
  const std::string where = b.Where(req);
  const std::string write = "UPDATE " + b.Table() + " AS " + QuoteIdent(rel.name) + " SET " + set +
                            " FROM (SELECT * FROM json_populate_record(NULL::" + b.Table() + ", " + payload +
                            "::json)) pgrst_body" + where;
  std::string sql = ReturningEnvelope(req, rel, write, b);
  if (b.error) return *b.error;
  return Statement{std::move(sql), std::move(b.params)};
}

ApiResult<Statement> BuildDelete(const ApiRequest& req, const Relation& rel) {
  Builder b{rel, {}, {}};
  const std::string where = b.Where(req);
  const std::string write = "DELETE FROM " + b.Table() + " AS " + QuoteIdent(rel.name) + where;
  std::string sql = ReturningEnvelope(req, rel, write, b);
  if (b.error) return *b.error;
  return Statement{std::move(sql), std::move(b.params)};
}

}  // namespace pgwarden::dataapi
