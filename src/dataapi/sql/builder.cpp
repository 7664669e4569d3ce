#include "dataapi/sql/builder.hpp"

#include <algorithm>
#include <functional>

#include <boost/json.hpp>

#include "core/json.hpp"
#include "dataapi/sql/fuzzy.hpp"

namespace pgwarden::dataapi {
namespace {

ApiError ColumnError(std::string_view rel, std::string_view column) {
  return MakeApiError(400, "42703", "column " + std::string(rel) + "." + std::string(column) + " does not exist");
}

ApiError BodyError(std::string message) { return MakeApiError(400, "PGRST102", std::move(message)); }

ApiError NotImplemented(std::string what) {
  return MakeApiError(400, "PGRST127", "Feature not implemented", std::move(what));
}

// PGRST108: a filter/order/limit path or a related order names something the select does not embed.
ApiError NotEmbeddedError(std::string_view name) {
  ApiError e = MakeApiError(400, "PGRST108",
                            "'" + std::string(name) + "' is not an embedded resource in this request");
  e.hint = "Verify that '" + std::string(name) + "' is included in the 'select' query parameter.";
  return e;
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

const char* AggregateName(AggregateFunction f) {
  switch (f) {
    case AggregateFunction::kSum: return "sum";
    case AggregateFunction::kAvg: return "avg";
    case AggregateFunction::kCount: return "count";
    case AggregateFunction::kMax: return "max";
    case AggregateFunction::kMin: return "min";
  }
  return "count";
}

std::string CardinalityName(Cardinality c) {
  switch (c) {
    case Cardinality::kO2M: return "one-to-many";
    case Cardinality::kM2O: return "many-to-one";
    case Cardinality::kO2O: return "one-to-one";
    case Cardinality::kM2M: return "many-to-many";
  }
  return "";
}

std::string FmtCols(const ColumnPairs& cols, bool first) {
  std::string out = "(";
  for (size_t i = 0; i < cols.size(); ++i) {
    if (i) out += ", ";
    out += first ? cols[i].first : cols[i].second;
  }
  return out + ")";
}

// PGRST201 (status 300, as PostgREST): the candidates in `details`, a hint per candidate.
ApiError AmbiguousRelError(std::string_view origin, std::string_view target, const std::vector<const Relationship*>& rels) {
  std::string details = "[";
  std::string hint = "Try changing '" + std::string(target) + "' to one of the following: ";
  bool first = true;
  for (const auto* r : rels) {
    if (r->computed) continue;
    if (!first) {
      details += ",";
      hint += ", ";
    }
    first = false;
    std::string relationship;
    std::string hint_name;
    if (r->cardinality == Cardinality::kM2M) {
      relationship = r->junction.table.name + " using " + r->junction.constraint1 + FmtCols(r->junction.cols_source, false) +
                     " and " + r->junction.constraint2 + FmtCols(r->junction.cols_target, false);
      hint_name = r->junction.table.name;
    } else {
      relationship = r->constraint + " using " + r->table.name + FmtCols(r->columns, true) + " and " +
                     r->foreign_table.name + FmtCols(r->columns, false);
      hint_name = r->constraint;
    }
    details += "{\"cardinality\":";
    AppendJsonString(details, CardinalityName(r->cardinality));
    details += ",\"embedding\":";
    AppendJsonString(details, r->table.name + " with " + r->foreign_table.name);
    details += ",\"relationship\":";
    AppendJsonString(details, relationship);
    details += "}";
    hint += "'" + r->foreign_table.name + "!" + hint_name + "'";
  }
  details += "]";
  ApiError e = MakeApiError(300, "PGRST201",
                            "Could not embed because more than one relationship was found for '" + std::string(origin) +
                                "' and '" + std::string(target) + "'",
                            details);
  e.hint = hint + ". Find the desired relationship in the 'details' key.";
  return e;
}

// PGRST200 with PostgREST's fuzzy "Perhaps you meant" hint.
ApiError NoRelError(const SchemaCache& cache, std::string_view schema, std::string_view origin, std::string_view target,
                    const std::optional<std::string>& hint) {
  ApiError e = MakeApiError(400, "PGRST200",
                            "Could not find a relationship between '" + std::string(origin) + "' and '" +
                                std::string(target) + "' in the schema cache",
                            "Searched for a foreign key relationship between '" + std::string(origin) + "' and '" +
                                std::string(target) + (hint ? "' using the hint '" + *hint : std::string()) +
                                "' in the schema '" + std::string(schema) + "', but no matches were found.");
  const auto* from_origin = cache.FindRelationships(QualifiedName{std::string(schema), std::string(origin)}, schema);
  if (from_origin) {
    std::vector<std::string> children;
    for (const auto& r : *from_origin) children.push_back(r.computed ? r.function.name : r.foreign_table.name);
    if (auto s = FuzzyBest(children, target, /*exclude_exact=*/true))
      e.hint = "Perhaps you meant '" + *s + "' instead of '" + std::string(target) + "'.";
  } else {
    if (auto s = FuzzyBest(cache.RelationshipOrigins(schema), origin, /*exclude_exact=*/false))
      e.hint = "Perhaps you meant '" + *s + "' instead of '" + std::string(origin) + "'.";
  }
  return e;
}

// PostgREST's findRel.
ApiResult<const Relationship*> FindRel(const SchemaCache& cache, const std::string& schema, const std::string& origin,
                                       const std::string& target, const std::optional<std::string>& hint) {
  auto single_col = [](const Relationship& r, const std::string& h, bool first) {
    if (r.computed || r.cardinality == Cardinality::kM2M || r.columns.size() != 1) return false;
    return (first ? r.columns[0].first : r.columns[0].second) == h;
  };
  auto cons = [](const Relationship& r, const std::string& h) {
    return !r.computed && r.cardinality != Cardinality::kM2M && r.constraint == h;
  };
  std::vector<const Relationship*> found;
  for (const auto& r : cache.RelationshipsFrom(QualifiedName{schema, origin}, schema)) {
    bool match = false;
    if (r.computed) {
      match = target == r.function.name;
    } else if (r.is_self) {
      if (!hint) {
        match = (target == r.foreign_table.name && r.cardinality == Cardinality::kO2M) ||
                (single_col(r, target, true) && r.cardinality == Cardinality::kM2O);
      } else {
        match = target == r.foreign_table.name && r.cardinality == Cardinality::kO2M && single_col(r, *hint, false);
      }
    } else if (!hint) {
      match = target == r.foreign_table.name || (cons(r, target) && !r.foreign_table_is_view) ||
              (single_col(r, target, true) && !r.foreign_table_is_view);
    } else {
      match = target == r.foreign_table.name &&
              (cons(r, *hint) || single_col(r, *hint, true) || single_col(r, *hint, false) ||
               (r.cardinality == Cardinality::kM2M && r.junction.table.name == *hint));
    }
    if (match) found.push_back(&r);
  }
  if (found.empty()) return NoRelError(cache, schema, origin, target, hint);
  if (found.size() > 1) return AmbiguousRelError(origin, target, found);
  return found.front();
}

//! One node of the read plan: the root relation or an embedded one.
struct Node {
  const Relation* rel = nullptr;
  std::string name;  // relName as written
  std::optional<std::string> alias;
  std::optional<std::string> hint;
  std::optional<JoinType> join;
  bool spread = false;
  int depth = 0;
  const Relationship* to_parent = nullptr;
  std::string from_alias;
  std::string agg_alias;
  std::vector<SelectItem> fields;
  std::vector<Node> children;
  std::vector<Filter> filters;
  std::vector<LogicTree> logic;
  std::vector<OrderTerm> order;
  std::optional<RowRange> range;

  std::string OutName() const { return alias ? *alias : name; }
  bool ToOne() const { return to_parent && to_parent->IsToOne(); }
  //! No fields here nor below (PostgREST's hasOnlyNullEmbed): joined for filtering, not output.
  bool EmptyEmbed() const {
    if (!fields.empty()) return false;
    for (const auto& c : children)
      if (!c.EmptyEmbed()) return false;
    return true;
  }
};

//! A column a node's query outputs. `hoist`: an aggregate of a to-one spread, applied by the nearest
//! ancestor that is not a to-one spread (PostgREST's hoistSpreadAggFunctions).
struct OutCol {
  std::string expr;  // without AS
  std::string name;  // output name ("" for `alias.*`)
  bool aggregated = false;
  struct Hoist {
    AggregateFunction fn;
    std::optional<std::string> cast;
    std::string out_name;
  };
  std::optional<Hoist> hoist;
};

Node* FindChild(Node& n, std::string_view name) {
  for (auto& c : n.children)
    if (c.name == name || (c.alias && *c.alias == name)) return &c;
  return nullptr;
}

ApiResult<Node*> FindPath(Node& root, const EmbedPath& path) {
  Node* n = &root;
  for (const auto& step : path) {
    Node* c = FindChild(*n, step);
    if (!c) return NotEmbeddedError(step);
    n = c;
  }
  return n;
}

struct Builder {
  const SchemaCache* cache = nullptr;
  std::string schema;  // the request schema: embedded relations live here
  std::vector<std::optional<std::string>> params;
  std::optional<ApiError> error;
  std::optional<std::int64_t> max_rows;  // reads only: applies to every node
  bool aggregates_enabled = false;
  std::string body_sql;  // BuildContext::body_sql (write representations)

  void Fail(ApiError e) {
    if (!error) error = std::move(e);
  }
  std::string Param(std::string value) {
    params.emplace_back(std::move(value));
    return "$" + std::to_string(params.size());
  }

  // ------------------------------------------------------------------ plan
  void AddItems(Node& n, const std::vector<SelectItem>& items) {
    for (const auto& item : items) {
      if (item.kind == SelectItem::Kind::kField) {
        n.fields.push_back(item);
        continue;
      }
      Node c;
      c.name = item.relation;
      c.alias = item.kind == SelectItem::Kind::kRelation ? item.alias : std::nullopt;
      c.hint = item.hint;
      c.join = item.join_type;
      c.spread = item.kind == SelectItem::Kind::kSpread;
      c.depth = n.depth + 1;
      AddItems(c, item.children);
      n.children.push_back(std::move(c));
    }
  }

  // Attaches filters, logic trees, orders and ranges to their nodes (PGRST108 for unknown paths).
  void Attach(Node& root, const ApiRequest& req, bool mutation) {
    for (const auto& pf : req.filters) {
      if (mutation && pf.path.empty()) continue;  // root filters belong to the write
      auto n = FindPath(root, pf.path);
      if (!n) return Fail(n.error());
      (*n)->filters.push_back(pf.filter);
    }
    for (const auto& pl : req.logic) {
      if (mutation && pl.path.empty()) continue;
      auto n = FindPath(root, pl.path);
      if (!n) return Fail(n.error());
      (*n)->logic.push_back(pl.tree);
    }
    if (mutation) {
      for (const auto& po : req.order) {
        auto n = FindPath(root, po.path);
        if (!n) return Fail(n.error());
        (*n)->order = po.terms;
      }
      for (const auto& pr : req.embedded_ranges) {
        auto n = FindPath(root, pr.path);
        if (!n) return Fail(n.error());
        (*n)->range = pr.range;
      }
      return;
    }
    for (const auto& po : req.order) {
      auto n = FindPath(root, po.path);
      if (!n) return Fail(n.error());
      (*n)->order = po.terms;
    }
    for (const auto& pr : req.embedded_ranges) {
      auto n = FindPath(root, pr.path);
      if (!n) return Fail(n.error());
      (*n)->range = pr.range;
    }
  }

  // Resolves each embed's relationship (PostgREST's addRels), names its aliases.
  void Resolve(Node& parent) {
    for (auto& c : parent.children) {
      if (error) return;
      if (!cache) return Fail(NotImplemented("resource embedding without a schema cache"));
      auto rel = FindRel(*cache, schema, parent.rel->name, c.name, c.hint);
      if (!rel) return Fail(rel.error());
      c.to_parent = *rel;
      const QualifiedName& target = (*rel)->foreign_table;
      c.rel = cache->Find(target.schema, target.name);
      if (!c.rel) return Fail(NoRelError(*cache, schema, parent.rel->name, c.name, c.hint));
      c.from_alias = target.name + "_" + std::to_string(c.depth);
      c.agg_alias = parent.rel->name + "_" + c.OutName() + "_" + std::to_string(c.depth);
      Resolve(c);
    }
  }

  void Validate(Node& n, bool is_root) {
    for (const auto& f : n.fields)
      if (f.aggregate && !aggregates_enabled)
        return Fail(MakeApiError(400, "PGRST123", "Use of aggregate functions is not allowed"));
    for (const auto& t : n.order) {
      if (!t.relation) continue;
      Node* c = FindChild(n, *t.relation);
      if (!c) return Fail(NotEmbeddedError(*t.relation));
      if (!c->ToOne()) {
        return Fail(MakeApiError(400, "PGRST118", "A related order on '" + c->OutName() + "' is not possible",
                                 "'" + n.rel->name + "' and '" + c->OutName() +
                                     "' do not form a many-to-one or one-to-one relationship"));
      }
    }
    if (n.spread && !n.ToOne() && !is_root) {
      for (const auto& f : n.fields)
        if (f.aggregate)
          return Fail(NotImplemented("Aggregates are not implemented for one-to-many or many-to-many spreads."));
    }
    for (auto& c : n.children) Validate(c, false);
  }

  // ------------------------------------------------------------------ expressions
  // A column or computed field of `n`'s relation (checked against the cache) with its JSON path.
  std::string FieldSql(const Node& n, const Field& f) {
    const Column* col = n.rel->FindColumn(f.name);
    std::string out;
    bool json = false;
    if (col) {
      out = QuoteIdent(n.from_alias) + "." + QuoteIdent(f.name);
      json = col->type == "json" || col->type == "jsonb";
    } else if (const ComputedField* cf =
                   cache ? cache->FindComputedField(QualifiedName{n.rel->schema, n.rel->name}, f.name) : nullptr) {
      // The row is cast to the table's type: writes read a CTE (an anonymous record) and overloads need the type.
      out = QuoteIdent(cf->table.schema) + "." + QuoteIdent(cf->name) + "(" + QuoteIdent(n.from_alias) +
            "::" + QuoteIdent(n.rel->schema) + "." + QuoteIdent(n.rel->name) + ")";
      json = cf->return_type == "json" || cf->return_type == "jsonb";
    } else {
      Fail(ColumnError(n.from_alias, f.name));
      return "NULL";
    }
    if (f.json_path.empty()) return out;
    if (!json) out = "to_jsonb(" + out + ")";
    for (const auto& step : f.json_path) {
      out += step.arrow == JsonStep::Arrow::kArrow ? "->" : "->>";
      if (step.kind == JsonStep::Kind::kIndex) {
        out += step.value;  // validated by the parser: optional '-' then digits
      } else if (step.value.find_first_of("'\\") == std::string::npos) {
        // An unknown-typed literal, as PostgREST writes it (so `text -> unknown` errors read the same).
        out += "'" + step.value + "'";
      } else {
        out += Param(step.value);
      }
    }
    return out;
  }

  std::string FilterSql(const Node& n, const Filter& f) {
    // `rel=is.null` / `rel=not.is.null` on an embed: whether the embed has rows.
    if (f.field.json_path.empty() && f.expr.op == FilterOperator::kIs && f.expr.is_value == IsValue::kNull) {
      for (const auto& c : n.children)
        if (c.OutName() == f.field.name)
          return QuoteIdent(c.agg_alias) + (f.expr.negated ? " IS NOT NULL" : " IS NULL");
    }
    const std::string col = FieldSql(n, f.field);
    const auto& e = f.expr;
    std::string sql;
    auto binary = [&](const char* op) {
      if (e.quantifier) {
        const std::string arr = e.list.empty() ? e.value : ArrayLiteral(e.list);
        return col + " " + op + (*e.quantifier == Quantifier::kAny ? " ANY(" : " ALL(") + Param(arr) + ")";
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
          const std::string arr = e.list.empty() ? like_value(e.value) : ArrayLiteral(items);
          sql = col + " " + op + (*e.quantifier == Quantifier::kAny ? " ANY(" : " ALL(") + Param(arr) + ")";
        } else {
          sql = col + " " + op + " " + Param(like_value(e.value));
        }
        break;
      }
      case FilterOperator::kIn: {
        // `in.()` and `in.(   )` are the empty set, as in PostgREST.
        const bool empty = e.list.empty() || (e.list.size() == 1 && e.list[0].find_first_not_of(" \t") == std::string::npos);
        sql = col + " = ANY(" + (empty ? std::string("'{}'") : Param(ArrayLiteral(e.list))) + ")";
        break;
      }
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
        const Column* c = f.field.json_path.empty() ? n.rel->FindColumn(f.field.name) : nullptr;
        const ComputedField* cf = !c && f.field.json_path.empty() && cache
                                      ? cache->FindComputedField(QualifiedName{n.rel->schema, n.rel->name}, f.field.name)
                                      : nullptr;
        const bool tsvector = (c && (c->type == "tsvector" || c->base_type == "tsvector")) ||
                              (cf && cf->return_type == "tsvector");
        const std::string vec = tsvector ? col
                                : e.language ? "to_tsvector(" + Param(*e.language) + "::regconfig, " + col + ")"
                                             : "to_tsvector(" + col + ")";
        sql = vec + " @@ " + query;
        break;
      }
    }
    return e.negated ? "NOT (" + sql + ")" : sql;
  }

  std::string LogicSql(const Node& n, const LogicTree& t) {
    std::string sql;
    if (t.kind == LogicTree::Kind::kFilter) {
      sql = FilterSql(n, t.filter);
    } else {
      sql = "(";
      for (size_t i = 0; i < t.children.size(); ++i) {
        if (i) sql += t.op == LogicOperator::kAnd ? " AND " : " OR ";
        sql += LogicSql(n, t.children[i]);
      }
      sql += ")";
    }
    return t.negated ? "NOT " + sql : sql;
  }

  std::string OutputName(const SelectItem& item) const {
    if (item.alias) return *item.alias;
    if (item.aggregate) return AggregateName(*item.aggregate);
    if (!item.field.json_path.empty()) {
      for (auto it = item.field.json_path.rbegin(); it != item.field.json_path.rend(); ++it)
        if (it->kind == JsonStep::Kind::kKey) return it->value;
    }
    return item.field.name;
  }

  bool SubtreeHasAgg(const Node& n) const {
    for (const auto& f : n.fields)
      if (f.aggregate || (f.field.name == "count" && f.field.json_path.empty() && !f.cast && !n.rel->FindColumn("count")))
        return true;
    for (const auto& c : n.children)
      if (c.spread && c.ToOne() && SubtreeHasAgg(c)) return true;
    return false;
  }

  // ------------------------------------------------------------------ queries
  // The output columns of node `n` (own fields, then embeds in select order).
  // `hoisting`: `n` is a to-one spread, its aggregates are applied by an ancestor.
  std::vector<OutCol> Outputs(const Node& n, bool hoisting, const std::string& select_raw) {
    std::vector<OutCol> out;
    const bool expand = n.spread || SubtreeHasAgg(n);
    for (const auto& written : n.fields) {
      // `select=count` without parentheses (no such column): PostgREST's backwards-compatible count().
      SelectItem item = written;
      if (item.field.name == "count" && item.field.json_path.empty() && !item.aggregate && !item.cast &&
          !n.rel->FindColumn("count")) {
        item.field.name = "*";
        item.aggregate = AggregateFunction::kCount;
      }
      if (item.field.name == "*" && !item.aggregate) {
        if (expand) {
          for (const auto& c : n.rel->columns)
            out.push_back({QuoteIdent(n.from_alias) + "." + QuoteIdent(c.name), c.name, false, std::nullopt});
        } else {
          out.push_back({QuoteIdent(n.from_alias) + ".*", "", false, std::nullopt});
        }
        continue;
      }
      std::string expr;
      if (item.field.name == "*") {  // count()
        expr = hoisting ? "1" : "*";
      } else {
        expr = FieldSql(n, item.field);
      }
      if (item.cast) {
        if (!IsSafeCast(*item.cast)) {
          Fail(QueryParamError("\"failed to parse select parameter (" + select_raw + ")\"", "invalid cast: " + *item.cast));
          continue;
        }
        expr = "(" + expr + ")::" + *item.cast;
      }
      if (item.aggregate_cast && !IsSafeCast(*item.aggregate_cast)) {
        Fail(QueryParamError("\"failed to parse select parameter (" + select_raw + ")\"",
                             "invalid cast: " + *item.aggregate_cast));
        continue;
      }
      const std::string name = OutputName(item);
      if (item.aggregate && hoisting) {
        out.push_back({expr, name, false, OutCol::Hoist{*item.aggregate, item.aggregate_cast, name}});
      } else if (item.aggregate) {
        std::string a = std::string(AggregateName(*item.aggregate)) + "(" + expr + ")";
        if (item.aggregate_cast) a = "(" + a + ")::" + *item.aggregate_cast;
        out.push_back({a, name, true, std::nullopt});
      } else {
        out.push_back({expr, name, false, std::nullopt});
      }
    }
    for (const auto& c : n.children) {
      if (c.EmptyEmbed()) continue;
      const std::string agg = QuoteIdent(c.agg_alias);
      if (!c.spread) {
        out.push_back({c.ToOne() ? "to_jsonb(" + agg + ".*)" : "COALESCE(" + agg + "." + agg + ", '[]'::jsonb)",
                       c.OutName(), false, std::nullopt});
        continue;
      }
      // A spread: the child's columns as ours.
      const bool child_to_one = c.ToOne();
      for (const auto& sc : SpreadColumns(c)) {
        const std::string ref = agg + "." + QuoteIdent(sc.name);
        if (!child_to_one) {
          out.push_back({"COALESCE(" + ref + ", '[]'::jsonb)", sc.name, false, std::nullopt});
        } else if (sc.hoist && !hoisting) {
          std::string a = std::string(AggregateName(sc.hoist->fn)) + "(" + ref + ")";
          if (sc.hoist->cast) a = "(" + a + ")::" + *sc.hoist->cast;
          out.push_back({a, sc.hoist->out_name, true, std::nullopt});
        } else {
          out.push_back({ref, sc.name, false, sc.hoist});
        }
      }
    }
    return out;
  }

  // The names (and pending aggregates) a spread node hands to its parent.
  std::vector<OutCol> SpreadColumns(const Node& c) {
    std::vector<OutCol> cols;
    // Side-effect free apart from parameters: the expressions are rebuilt, only the names are kept.
    const auto saved = params.size();
    for (auto& oc : Outputs(c, c.ToOne(), "")) cols.push_back(OutCol{"", oc.name, false, oc.hoist});
    params.resize(saved);
    return cols;
  }

  std::string RangeSql(const std::optional<RowRange>& range, bool apply_max) {
    bool has_limit = range && range->limit.has_value();
    std::int64_t lim = has_limit ? range->limit.value() : 0;
    if (apply_max && max_rows.has_value() && (!has_limit || lim > max_rows.value())) {
      has_limit = true;
      lim = max_rows.value();
    }
    std::string out;
    if (has_limit) out += " LIMIT " + Param(std::to_string(lim)) + "::bigint";
    if (range && range->offset != 0) out += " OFFSET " + Param(std::to_string(range->offset)) + "::bigint";
    return out;
  }

  std::string OrderSql(const Node& n) {
    std::string out;
    for (const auto& term : n.order) {
      out += out.empty() ? " ORDER BY " : ", ";
      if (term.relation) {
        const Node* c = nullptr;
        for (const auto& ch : n.children)
          if (ch.OutName() == *term.relation) c = &ch;
        std::string ref = QuoteIdent(c ? c->agg_alias : *term.relation) + "." + QuoteIdent(term.field.name);
        for (const auto& step : term.field.json_path) {
          ref += step.arrow == JsonStep::Arrow::kArrow ? "->" : "->>";
          ref += step.kind == JsonStep::Kind::kIndex ? step.value : Param(step.value);
        }
        out += ref;
      } else {
        out += FieldSql(n, term.field);
      }
      if (term.direction) out += *term.direction == OrderDirection::kAsc ? " ASC" : " DESC";
      if (term.nulls) out += *term.nulls == OrderNulls::kFirst ? " NULLS FIRST" : " NULLS LAST";
    }
    return out;
  }

  // The lateral joins of `n`'s embeds.
  std::string Joins(const Node& n, bool apply_max) {
    std::string out;
    for (const auto& c : n.children) {
      const std::string agg = QuoteIdent(c.agg_alias);
      const bool inner = c.join == JoinType::kInner;
      const std::string sub = NodeQuery(c, &n, apply_max);
      if (c.ToOne()) {
        out += std::string(inner ? " INNER" : " LEFT") + " JOIN LATERAL (" + sub + ") AS " + agg + " ON TRUE";
        continue;
      }
      std::string aggs;
      if (!c.spread) {
        aggs = "jsonb_agg(" + agg + ") AS " + agg;
      } else {
        for (const auto& sc : SpreadColumns(c)) {
          if (!aggs.empty()) aggs += ", ";
          aggs += "jsonb_agg(" + agg + "." + QuoteIdent(sc.name) + ") AS " + QuoteIdent(sc.name);
        }
        if (aggs.empty()) aggs = "count(*) AS " + QuoteIdent("pgrst_count");
      }
      out += std::string(inner ? " INNER" : " LEFT") + " JOIN LATERAL (SELECT " + aggs + " FROM (" + sub + ") AS " +
             agg + (inner ? " HAVING pg_catalog.count(*) > 0" : "") + ") AS " + agg + " ON TRUE";
    }
    return out;
  }

  std::vector<std::string> JoinConditions(const Node& c, const Node& parent, std::string& extra_from) {
    std::vector<std::string> conds;
    const Relationship& r = *c.to_parent;
    const std::string me = QuoteIdent(c.from_alias);
    const std::string up = QuoteIdent(parent.from_alias);
    if (r.computed) return conds;
    if (r.cardinality == Cardinality::kM2M) {
      const std::string jt = QuoteIdent(r.junction.table.schema) + "." + QuoteIdent(r.junction.table.name);
      extra_from = ", " + jt;
      for (const auto& [tcol, jcol] : r.junction.cols_target) conds.push_back(me + "." + QuoteIdent(tcol) + " = " + jt + "." + QuoteIdent(jcol));
      for (const auto& [scol, jcol] : r.junction.cols_source) conds.push_back(jt + "." + QuoteIdent(jcol) + " = " + up + "." + QuoteIdent(scol));
      return conds;
    }
    for (const auto& [pcol, ccol] : r.columns) conds.push_back(me + "." + QuoteIdent(ccol) + " = " + up + "." + QuoteIdent(pcol));
    return conds;
  }

  // SELECT ... FROM ... for an embedded node (parent != null) or the root (from_item given by the caller).
  std::string NodeQuery(const Node& n, const Node* parent, bool apply_max, const std::string& root_from = {},
                        const std::string& select_raw = {}, bool with_range = true) {
    const bool hoisting = n.spread && n.ToOne();
    auto outs = Outputs(n, hoisting, select_raw);
    std::string select;
    bool any_agg = false;
    for (const auto& o : outs) any_agg = any_agg || o.aggregated;
    std::string group;
    for (size_t i = 0; i < outs.size(); ++i) {
      if (!select.empty()) select += ", ";
      select += outs[i].expr;
      if (!outs[i].name.empty()) select += " AS " + QuoteIdent(outs[i].name);
      if (any_agg && !outs[i].aggregated) group += (group.empty() ? " GROUP BY " : ", ") + std::to_string(i + 1);
    }
    if (select.empty()) select = parent ? QuoteIdent(n.from_alias) + ".*" : QuoteIdent(n.from_alias) + ".*";
    std::string from;
    std::vector<std::string> conds;
    if (parent) {
      std::string extra;
      conds = JoinConditions(n, *parent, extra);
      const Relationship& r = *n.to_parent;
      if (r.computed) {
        from = QuoteIdent(r.function.schema) + "." + QuoteIdent(r.function.name) + "(" + QuoteIdent(parent->from_alias) +
               "::" + QuoteIdent(r.table.schema) + "." + QuoteIdent(r.table.name) + ") AS " + QuoteIdent(n.from_alias);
      } else {
        from = QuoteIdent(n.rel->schema) + "." + QuoteIdent(n.rel->name) + " AS " + QuoteIdent(n.from_alias) + extra;
      }
    } else {
      from = root_from;
    }
    const std::string joins = Joins(n, apply_max);
    for (const auto& f : n.filters) conds.push_back(FilterSql(n, f));
    for (const auto& t : n.logic) conds.push_back(LogicSql(n, t));
    std::string where;
    for (size_t i = 0; i < conds.size(); ++i) where += (i ? " AND " : " WHERE ") + conds[i];
    const std::string order = OrderSql(n);
    const std::string range = with_range ? RangeSql(n.range, apply_max) : std::string();
    return "SELECT " + select + " FROM " + from + joins + where + group + order + range;
  }

  // FROM + joins + WHERE of the root, for the exact count.
  std::string CountQuery(const Node& root, const std::string& root_from, bool apply_max) {
    std::vector<std::string> conds;
    const std::string joins = Joins(root, apply_max);
    for (const auto& f : root.filters) conds.push_back(FilterSql(root, f));
    for (const auto& t : root.logic) conds.push_back(LogicSql(root, t));
    std::string where;
    for (size_t i = 0; i < conds.size(); ++i) where += (i ? " AND " : " WHERE ") + conds[i];
    return "SELECT pg_catalog.count(*) FROM " + root_from + joins + where;
  }

  // Builds and checks the plan tree of a read rooted at `rel` (aliased as its name).
  std::optional<Node> Plan(const ApiRequest& req, const Relation& rel, bool mutation) {
    Node root;
    root.rel = &rel;
    root.name = rel.name;
    root.from_alias = rel.name;
    AddItems(root, req.select);
    Attach(root, req, mutation);
    if (error) return std::nullopt;
    Resolve(root);
    if (error) return std::nullopt;
    Validate(root, true);
    if (error) return std::nullopt;
    return root;
  }
};

// The body aggregate over _postgrest_t: the media type's (BuildContext::body_sql) or JSON.
std::string BodySql(bool singular, const std::string& body_sql) {
  if (!body_sql.empty()) return body_sql;
  return singular ? std::string("COALESCE((json_agg(_postgrest_t)->0)::text, 'null')")
                  : std::string("COALESCE(json_agg(_postgrest_t), '[]')::text");
}

std::string Envelope(const std::string& source_sql, const std::string& total_sql, bool singular,
                     const std::string& body_sql) {
  // PostgREST's result row: total, page size, and the body built by Postgres.
  return "WITH pgrst_source AS (" + source_sql + ") SELECT " + total_sql +
         "::bigint AS total_result_set, pg_catalog.count(_postgrest_t)::bigint AS page_total, " +
         BodySql(singular, body_sql) + " AS body FROM (SELECT * FROM pgrst_source) _postgrest_t";
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

ApiResult<Statement> BuildRead(const ApiRequest& req, const Relation& rel, const BuildContext& ctx) {
  Builder b;
  b.cache = ctx.cache;
  b.schema = rel.schema;
  b.params = ctx.leading_params;
  b.max_rows = ctx.max_rows;
  b.aggregates_enabled = ctx.aggregates_enabled;
  auto root = b.Plan(req, rel, false);
  if (!root) return *b.error;
  root->range = req.range;
  const std::string from =
      (ctx.from_sql.empty() ? QuoteIdent(rel.schema) + "." + QuoteIdent(rel.name) : ctx.from_sql) + " AS " +
      QuoteIdent(rel.name);
  const std::string source = b.NodeQuery(*root, nullptr, true, from, req.select_raw);
  std::string total = "NULL";
  if (req.prefer.count) total = "(" + b.CountQuery(*root, from, true) + ")";
  if (b.error) return *b.error;
  return Statement{Envelope(source, total, WantsSingular(req), ctx.body_sql), std::move(b.params)};
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

std::string TableSql(const Relation& rel) { return QuoteIdent(rel.schema) + "." + QuoteIdent(rel.name); }

// WHERE of the written rows: the root filters and logic trees.
std::string WriteWhere(const ApiRequest& req, const Relation& rel, Builder& b) {
  Node root;
  root.rel = &rel;
  root.name = rel.name;
  root.from_alias = rel.name;
  std::vector<std::string> conds;
  for (const auto& pf : req.filters)
    if (pf.path.empty()) conds.push_back(b.FilterSql(root, pf.filter));
  for (const auto& pl : req.logic)
    if (pl.path.empty()) conds.push_back(b.LogicSql(root, pl.tree));
  std::string w;
  for (size_t i = 0; i < conds.size(); ++i) w += (i ? " AND " : " WHERE ") + conds[i];
  return w;
}

// The written rows (RETURNING every column) read back through the same read machinery as GET, so
// `select=*,client(*)` embeds work on representations.
std::string ReturningEnvelope(const ApiRequest& req, const Relation& rel, const std::string& write_sql, Builder& b) {
  const bool representation = req.prefer.returning == PreferReturn::kRepresentation;
  if (!representation) {
    return "WITH pgrst_source AS (" + write_sql +
           " RETURNING 1) SELECT NULL::bigint AS total_result_set, pg_catalog.count(*)::bigint AS page_total, ''::text "
           "AS body FROM pgrst_source";
  }
  auto root = b.Plan(req, rel, true);
  if (!root) return {};
  const std::string read =
      b.NodeQuery(*root, nullptr, false, "pgrst_source AS " + QuoteIdent(rel.name), req.select_raw);
  return "WITH pgrst_source AS (" + write_sql + " RETURNING " + QuoteIdent(rel.name) +
         ".*) SELECT NULL::bigint AS total_result_set, pg_catalog.count(_postgrest_t)::bigint AS page_total, " +
         BodySql(WantsSingular(req), b.body_sql) + " AS body FROM (" + read + ") _postgrest_t";
}

Builder WriteBuilder(const Relation& rel, const BuildContext& ctx) {
  Builder b;
  b.cache = ctx.cache;
  b.schema = rel.schema;
  b.aggregates_enabled = ctx.aggregates_enabled;
  b.body_sql = ctx.body_sql;
  return b;
}
}  // namespace

ApiResult<Statement> BuildInsert(const ApiRequest& req, const Relation& rel, std::string_view body,
                                 const BuildContext& ctx) {
  bool is_array = false;
  auto cols = InsertColumns(req, rel, body, is_array);
  if (!cols) return cols.error();
  Builder b = WriteBuilder(rel, ctx);
  const std::string table = TableSql(rel);
  std::string write;
  const std::string payload = b.Param(std::string(body));
  if (cols->empty()) {
    // `{}`, `[{}, {}]`: rows of defaults only (a zero-column SELECT leaves every column to its default); `[]`: none.
    write = "INSERT INTO " + table + " AS " + QuoteIdent(rel.name) + " SELECT FROM json_array_elements(CASE json_typeof(" +
            payload + "::json) WHEN 'array' THEN " + payload + "::json ELSE json_build_array(" + payload + "::json) END)";
  } else {
    std::string list;
    for (const auto& c : *cols) list += (list.empty() ? "" : ", ") + QuoteIdent(c);
    // json_populate_recordset types every value as the column's type; columns not listed keep their defaults.
    const std::string rows = is_array ? "json_populate_recordset(NULL::" + table + ", " + payload + "::json)"
                                      : "json_populate_record(NULL::" + table + ", " + payload + "::json)";
    write = "INSERT INTO " + table + " AS " + QuoteIdent(rel.name) + " (" + list + ") SELECT " + list + " FROM " + rows;
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

ApiResult<Statement> BuildUpdate(const ApiRequest& req, const Relation& rel, std::string_view body,
                                 const BuildContext& ctx) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return BodyError("Empty or invalid json");
  Builder b = WriteBuilder(rel, ctx);
  const std::string table = TableSql(rel);
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
  const std::string where = WriteWhere(req, rel, b);
  const std::string write = "UPDATE " + table + " AS " + QuoteIdent(rel.name) + " SET " + set +
                            " FROM (SELECT * FROM json_populate_record(NULL::" + table + ", " + payload +
                            "::json)) pgrst_body" + where;
  std::string sql = ReturningEnvelope(req, rel, write, b);
  if (b.error) return *b.error;
  return Statement{std::move(sql), std::move(b.params)};
}

ApiResult<Statement> BuildDelete(const ApiRequest& req, const Relation& rel, const BuildContext& ctx) {
  Builder b = WriteBuilder(rel, ctx);
  const std::string where = WriteWhere(req, rel, b);
  const std::string write = "DELETE FROM " + TableSql(rel) + " AS " + QuoteIdent(rel.name) + where;
  std::string sql = ReturningEnvelope(req, rel, write, b);
  if (b.error) return *b.error;
  return Statement{std::move(sql), std::move(b.params)};
}

}  // namespace pgwarden::dataapi
