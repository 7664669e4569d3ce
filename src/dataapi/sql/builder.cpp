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
                                "' and '" + std::string(target) + "'");
  e.details_json = std::move(details);  // an array of candidates, not a string
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
  bool counting = false;  // building PostgREST's count query: null-embed filters become EXISTS

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
  // Data representations (PostgREST's withTransformer): a plain column (no JSON path) whose type has an implicit
  // function cast to json (output), from text (filter values) or from json (body values).
  const Column* PlainColumn(const Node& n, const Field& f) const {
    return f.json_path.empty() ? n.rel->FindColumn(f.name) : nullptr;
  }
  const std::string* OutputRep(const Column* c) const {
    return c && cache ? cache->Representation(c->type, "json") : nullptr;
  }
  const std::string* TextParseRep(const Column* c) const {
    return c && cache ? cache->Representation("text", c->type) : nullptr;
  }

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
      for (const auto& c : n.children) {
        if (c.OutName() != f.field.name) continue;
        // The count query has no lateral joins: whether the embed has rows is an EXISTS (readPlanToCountQuery).
        if (counting) return std::string(f.expr.negated ? "EXISTS (" : "NOT EXISTS (") + CountShape(c, &n, {}) + ")";
        return QuoteIdent(c.agg_alias) + (f.expr.negated ? " IS NOT NULL" : " IS NULL");
      }
    }
    const std::string col = FieldSql(n, f.field);
    const auto& e = f.expr;
    std::string sql;
    // A text -> domain representation parses the value (PostgREST's pgFmtUnknownLiteralForField); it comes from
    // the catalog, so it is emitted as is.
    const std::string* parse = TextParseRep(PlainColumn(n, f.field));
    auto value = [&](std::string v) {
      const std::string p = Param(std::move(v));
      return parse ? *parse + "(" + p + "::text)" : p;
    };
    auto binary = [&](const char* op) {
      if (e.quantifier) {
        const std::string arr = e.list.empty() ? e.value : db::TextArrayLiteral(e.list);
        return col + " " + op + (*e.quantifier == Quantifier::kAny ? " ANY(" : " ALL(") + value(arr) + ")";
      }
      return col + " " + op + " " + value(e.value);
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
          const std::string arr = e.list.empty() ? like_value(e.value) : db::TextArrayLiteral(items);
          sql = col + " " + op + (*e.quantifier == Quantifier::kAny ? " ANY(" : " ALL(") + Param(arr) + ")";
        } else {
          sql = col + " " + op + " " + Param(like_value(e.value));
        }
        break;
      }
      case FilterOperator::kIn: {
        // `in.()` and `in.(   )` are the empty set, as in PostgREST.
        const bool empty = e.list.empty() || (e.list.size() == 1 && e.list[0].find_first_not_of(" \t") == std::string::npos);
        if (empty) {
          sql = col + " = ANY('{}')";
        } else if (parse) {
          sql = col + " = ANY((SELECT " + *parse + "(unnest(" + Param(db::TextArrayLiteral(e.list)) + "::text[]))))";
        } else {
          sql = col + " = ANY(" + Param(db::TextArrayLiteral(e.list)) + ")";
        }
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
      case FilterOperator::kCs: sql = col + " @> " + value(e.value); break;
      case FilterOperator::kCd: sql = col + " <@ " + value(e.value); break;
      case FilterOperator::kOv: sql = col + " && " + value(e.value); break;
      case FilterOperator::kSl: sql = col + " << " + value(e.value); break;
      case FilterOperator::kSr: sql = col + " >> " + value(e.value); break;
      case FilterOperator::kNxr: sql = col + " &< " + value(e.value); break;
      case FilterOperator::kNxl: sql = col + " &> " + value(e.value); break;
      case FilterOperator::kAdj: sql = col + " -|- " + value(e.value); break;
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
    // `*` is expanded when the columns are needed by name, or to format a column through its representation.
    const bool expand = n.spread || SubtreeHasAgg(n) || (cache && cache->HasOutputRepresentation(*n.rel));
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
          for (const auto& c : n.rel->columns) {
            std::string col = QuoteIdent(n.from_alias) + "." + QuoteIdent(c.name);
            if (const std::string* rep = OutputRep(&c)) col = *rep + "(" + col + ")";
            out.push_back({col, c.name, false, std::nullopt});
          }
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
        if (const std::string* rep = OutputRep(PlainColumn(n, item.field))) expr = *rep + "(" + expr + ")";
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
      from = ChildFrom(n, *parent) + extra;
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

  // The FROM item of an embedded node (a computed relationship calls its function on the parent row).
  std::string ChildFrom(const Node& n, const Node& parent) const {
    const Relationship& r = *n.to_parent;
    if (r.computed) {
      return QuoteIdent(r.function.schema) + "." + QuoteIdent(r.function.name) + "(" + QuoteIdent(parent.from_alias) +
             "::" + QuoteIdent(r.table.schema) + "." + QuoteIdent(r.table.name) + ") AS " + QuoteIdent(n.from_alias);
    }
    return QuoteIdent(n.rel->schema) + "." + QuoteIdent(n.rel->name) + " AS " + QuoteIdent(n.from_alias);
  }

  // PostgREST's readPlanToCountQuery: `SELECT 1 FROM <node> WHERE <filters> AND <join conditions> AND
  // EXISTS (<inner-joined embeds>)`; no lateral joins, no limit. Its shape decides the planner's estimate for
  // count=planned/estimated, so it follows PostgREST's exactly.
  std::string CountShape(const Node& n, const Node* parent, const std::string& root_from) {
    const bool saved = counting;
    counting = true;
    std::string from = root_from;
    std::vector<std::string> joins;
    if (parent) {
      std::string extra;
      joins = JoinConditions(n, *parent, extra);
      from = ChildFrom(n, *parent) + extra;
    }
    std::vector<std::string> conds;
    for (const auto& f : n.filters) conds.push_back(FilterSql(n, f));
    for (const auto& t : n.logic) conds.push_back(LogicSql(n, t));
    conds.insert(conds.end(), joins.begin(), joins.end());
    for (const auto& c : n.children)
      if (c.join == JoinType::kInner) conds.push_back("EXISTS (" + CountShape(c, &n, {}) + ")");
    std::string where;
    for (size_t i = 0; i < conds.size(); ++i) where += (i ? " AND " : " WHERE ") + conds[i];
    counting = saved;
    return "SELECT 1 FROM " + from + where;
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
  // count=exact and estimated count in the statement (PostgREST's pgrst_source_count); estimated stops at
  // max-rows + 1, which is enough to tell whether the planner's guess is needed. planned counts nothing here.
  std::string total = "NULL";
  const auto count = req.prefer.count;
  if (count == PreferCount::kExact || count == PreferCount::kEstimated) {
    std::string shape = b.CountShape(*root, nullptr, from);
    if (count == PreferCount::kEstimated && ctx.max_rows && ctx.from_sql.empty())
      shape += " LIMIT " + std::to_string(*ctx.max_rows + 1);
    total = "(SELECT pg_catalog.count(*) FROM (" + shape + ") pgrst_source_count)";
  }
  if (b.error) return *b.error;
  Statement stmt{Envelope(source, total, WantsSingular(req), ctx.body_sql), std::move(b.params)};
  if ((count == PreferCount::kPlanned || count == PreferCount::kEstimated) && ctx.from_sql.empty()) {
    // The planner's row estimate of the same count query, with its own parameter numbering.
    Builder e;
    e.cache = ctx.cache;
    e.schema = rel.schema;
    e.aggregates_enabled = ctx.aggregates_enabled;
    stmt.explain_sql = "EXPLAIN (FORMAT JSON) " + e.CountShape(*root, nullptr, from);
    if (e.error) return *e.error;
    stmt.explain_params = std::move(e.params);
  }
  return stmt;
}

std::optional<std::int64_t> PlanRows(std::string_view explain_json) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(explain_json, ec);
  if (ec || !v.is_array() || v.as_array().empty() || !v.as_array()[0].is_object()) return std::nullopt;
  const auto* plan = v.as_array()[0].as_object().if_contains("Plan");
  if (!plan || !plan->is_object()) return std::nullopt;
  const auto* rows = plan->as_object().if_contains("Plan Rows");
  if (!rows) return std::nullopt;
  if (rows->is_int64()) return rows->as_int64();
  if (rows->is_uint64()) return static_cast<std::int64_t>(rows->as_uint64());
  if (rows->is_double()) return static_cast<std::int64_t>(rows->as_double());
  return std::nullopt;
}

std::optional<std::int64_t> CountTotal(std::optional<PreferCount> count, std::optional<std::int64_t> statement_total,
                                       std::optional<std::int64_t> plan_rows, std::optional<std::int64_t> max_rows) {
  if (count == PreferCount::kPlanned) return plan_rows;
  if (count == PreferCount::kEstimated) {
    // PostgREST: `tableTotal > maxRows` (true when there is no max-rows), then the larger of the two.
    if (!max_rows || (statement_total && *statement_total > *max_rows)) {
      if (!statement_total) return plan_rows;
      if (!plan_rows) return statement_total;
      return std::max(*statement_total, *plan_rows);
    }
  }
  return statement_total;
}

namespace {

// ------------------------------------------------------------------ request bodies (PostgREST's Payload.hs)
//! The body as PostgREST hands it to the statement: JSON text (CSV and form bodies converted), the keys that
//! become the written columns, and whether it is one object (json_to_record) or an array (json_to_recordset).
struct Payload {
  std::string json;
  std::vector<std::string> keys;  // sorted, unique (PostgREST's Set)
  bool is_object = false;
};

bool LooksLikeObject(std::string_view json) {
  // PostgREST's light check: the first significant character.
  const auto i = json.find_first_not_of(" \t\n\r");
  return i != std::string_view::npos && json[i] == '{';
}

std::vector<std::string> SortedKeys(const boost::json::object& o) {
  std::vector<std::string> keys;
  for (const auto& kv : o) keys.emplace_back(kv.key());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

// payloadAttributes: an object, or an array of objects that all have the same keys; anything else is `[]`.
ApiResult<Payload> JsonPayload(std::string json, const boost::json::value& v, std::string_view uniform_error) {
  Payload p;
  if (v.is_object()) {
    p.keys = SortedKeys(v.as_object());
    p.is_object = true;
    p.json = std::move(json);
    return p;
  }
  if (!v.is_array() || v.as_array().empty()) {
    p.json = "[]";
    return p;
  }
  const auto& arr = v.as_array();
  if (!arr[0].is_object()) return BodyError(std::string(uniform_error));
  p.keys = SortedKeys(arr[0].as_object());
  for (const auto& e : arr)
    if (!e.is_object() || SortedKeys(e.as_object()) != p.keys) return BodyError(std::string(uniform_error));
  p.json = std::move(json);
  return p;
}

// RFC 4180 records (cassava's decodeByName): quoted fields with "" escapes, CRLF or LF line ends.
std::optional<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"' && field.empty()) {
      ++i;
      for (;;) {
        if (i >= text.size()) return std::nullopt;  // unterminated quote
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += text[i++];
      }
      any = true;
      continue;
    }
    if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
      any = true;
      ++i;
      continue;
    }
    if (c == '\r' || c == '\n') {
      record.push_back(std::move(field));
      field.clear();
      records.push_back(std::move(record));
      record.clear();
      any = false;
      i += (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
      continue;
    }
    field += c;
    any = true;
    ++i;
  }
  if (any || !field.empty()) {
    record.push_back(std::move(field));
    records.push_back(std::move(record));
  }
  return records;
}

// csvToJson: a header line, then one object per line; an unquoted or quoted NULL is null.
ApiResult<Payload> CsvPayload(std::string_view body) {
  auto records = ParseCsv(body);
  if (!records || records->empty()) return BodyError("Empty or invalid csv");
  const auto& header = records->front();
  boost::json::array rows;
  for (size_t r = 1; r < records->size(); ++r) {
    const auto& rec = (*records)[r];
    boost::json::object o;
    // The header zipped with the fields: a short line has fewer keys (and fails the uniformity check below).
    for (size_t k = 0; k < header.size() && k < rec.size(); ++k) {
      if (rec[k] == "NULL") {
        o[header[k]] = nullptr;
      } else {
        o[header[k]] = rec[k];
      }
    }
    rows.push_back(std::move(o));
  }
  boost::json::value v = std::move(rows);
  return JsonPayload(boost::json::serialize(v), v, "All lines must have same number of fields");
}

std::string PercentDecode(std::string_view in) {
  std::string out;
  auto hex = [](char h) -> int {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

// application/x-www-form-urlencoded: one object whose values are all strings (the last of a repeated key).
Payload FormPayload(std::string_view body) {
  boost::json::object o;
  size_t start = 0;
  while (start <= body.size()) {
    auto end = body.find_first_of("&;", start);
    if (end == std::string_view::npos) end = body.size();
    const auto part = body.substr(start, end - start);
    if (!part.empty()) {
      const auto eq = part.find('=');
      const std::string key = PercentDecode(part.substr(0, eq));
      const std::string value = eq == std::string_view::npos ? std::string() : PercentDecode(part.substr(eq + 1));
      o[key] = value;
    }
    start = end + 1;
  }
  Payload p;
  p.keys = SortedKeys(o);
  p.is_object = true;
  p.json = boost::json::serialize(o);
  return p;
}

// getPayload: the body by Content-Type; with `columns=` a JSON body is passed through unchecked.
ApiResult<Payload> ParsePayload(const ApiRequest& req, std::string_view body) {
  if (req.content_type.kind == MediaTypeKind::kTextCsv) return CsvPayload(body);
  if (req.content_type.kind == MediaTypeKind::kUrlEncoded) return FormPayload(body);
  if (req.columns) {
    Payload p;
    p.json = std::string(body);
    p.keys = *req.columns;
    std::sort(p.keys.begin(), p.keys.end());
    p.keys.erase(std::unique(p.keys.begin(), p.keys.end()), p.keys.end());
    p.is_object = LooksLikeObject(body);
    return p;
  }
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  if (ec) return BodyError("Empty or invalid json");
  return JsonPayload(std::string(body), v, "All object keys must match");
}

// The written columns, each checked against the relation (PGRST204 for the first unknown one, in key order).
ApiResult<std::vector<const Column*>> WrittenColumns(const Relation& rel, const std::vector<std::string>& keys) {
  std::vector<const Column*> cols;
  for (const auto& k : keys) {
    const Column* c = rel.FindColumn(k);
    if (!c) {
      return MakeApiError(400, "PGRST204",
                          "Could not find the '" + k + "' column of '" + rel.name + "' in the schema cache");
    }
    cols.push_back(c);
  }
  return cols;
}

std::string SqlLiteral(std::string_view v) {
  std::string out = "'";
  for (const char c : v) {
    if (c == '\'') out += '\'';
    if (c == '\0') continue;
    out += c;
  }
  return out + "'";
}

// PostgREST's fromJsonBodyF: the payload as rows typed like the columns, each value parsed through its
// json -> domain representation; with Prefer: missing=default a missing key takes the column's default.
// `select`: prefix `SELECT "pgrst_body"."c", ...` (INSERT ... SELECT).
std::string JsonBodySql(const std::vector<const Column*>& cols, const std::string& payload, bool is_object,
                        bool select, bool defaults, const SchemaCache* cache) {
  std::string named, parsed, typed, defs;
  for (const Column* c : cols) {
    const std::string id = QuoteIdent(c->name);
    const std::string* rep = cache ? cache->Representation("json", c->type) : nullptr;
    named += (named.empty() ? "" : ", ") + std::string("\"pgrst_body\".") + id;
    parsed += (parsed.empty() ? "" : ", ") + (rep ? *rep + "(" + id + ") AS " + id : id);
    // The column's type as valid SQL under the request's search_path; a representation reads json first.
    typed += (typed.empty() ? "" : ", ") + id + " " + (rep ? std::string("json") : c->sql_type.empty() ? c->type : c->sql_type);
    if (c->default_expr) defs += (defs.empty() ? "" : ", ") + SqlLiteral(c->name) + ", " + *c->default_expr;
  }
  const std::string j = defaults ? "jsonb" : "json";
  std::string out = select ? "SELECT " + named + " " : std::string();
  out += "FROM (SELECT " + payload + "::" + j + " AS json_data) pgrst_payload, ";
  std::string body = "pgrst_payload.json_data";
  if (defaults) {
    const std::string obj = "jsonb_build_object(" + defs + ")";
    out += is_object ? "LATERAL (SELECT " + obj + " || pgrst_payload.json_data AS val) pgrst_json_defs, "
                     : "LATERAL (SELECT jsonb_agg(" + obj +
                           " || elem) AS val FROM jsonb_array_elements(pgrst_payload.json_data) elem) pgrst_json_defs, ";
    body = "pgrst_json_defs.val";
  }
  out += "LATERAL (SELECT " + parsed + " FROM ";
  if (cols.empty()) {
    // `{}` is one row of defaults, `[{}, {}]` one per element.
    out += is_object ? std::string("(VALUES (1)) _ ") : j + "_array_elements(" + body + ") _ ";
  } else {
    out += j + (is_object ? "_to_record(" : "_to_recordset(") + body + ") AS _(" + typed + ") ";
  }
  return out + ") pgrst_body";
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

// PostgREST's inferColsEmbedNeeds: RETURNING only what the representation reads (the selected columns, the
// keys its embeds join on, the primary key), so a role with SELECT on some columns only can still see them.
// `*` anywhere (or a computed field/relationship, which takes the whole row) returns the whole row.
std::string Returning(const Node& root, const Relation& rel, const SchemaCache* cache) {
  std::vector<std::string> names;
  bool whole = false;
  for (const auto& f : root.fields) {
    if (f.field.name == "*") whole = true;
    if (!rel.FindColumn(f.field.name) && cache &&
        cache->FindComputedField(QualifiedName{rel.schema, rel.name}, f.field.name))
      whole = true;
    names.push_back(f.field.name);
  }
  for (const auto& c : root.children) {
    const Relationship* r = c.to_parent;
    if (!r) continue;
    if (r->computed) {
      whole = true;
    } else if (r->cardinality == Cardinality::kM2M) {
      for (const auto& [col, jcol] : r->junction.cols_source) names.push_back(col);
    } else {
      for (const auto& [col, fcol] : r->columns) names.push_back(col);
    }
  }
  for (const auto& t : root.order)
    if (!t.relation) names.push_back(t.field.name);
  names.insert(names.end(), rel.primary_key.begin(), rel.primary_key.end());
  const std::string alias = QuoteIdent(rel.name);
  if (whole) return alias + ".*";
  std::string out;
  for (const auto& c : rel.columns) {  // table order, each once
    if (std::find(names.begin(), names.end(), c.name) == names.end()) continue;
    out += (out.empty() ? "" : ", ") + alias + "." + QuoteIdent(c.name);
  }
  return out.empty() ? std::string("1") : out;
}

// PostgREST's prepareWrite: the written rows read back through the same read machinery as GET (so
// `select=*,client(*)` embeds work on representations), one result row (total, page, body, inserted).
// `inserted_sql`: pgrst.inserted for upserts (rows inserted, not updated), else NULL.
std::string WriteEnvelope(const ApiRequest& req, const Relation& rel, const std::string& write_sql, Builder& b,
                          const std::string& inserted_sql) {
  const std::string tail = "::int AS response_inserted";
  if (req.prefer.returning != PreferReturn::kRepresentation) {
    return "WITH pgrst_source AS (" + write_sql +
           " RETURNING 1) SELECT NULL::bigint AS total_result_set, pg_catalog.count(*)::bigint AS page_total, "
           "''::text AS body, " + inserted_sql + tail + " FROM pgrst_source";
  }
  auto root = b.Plan(req, rel, true);
  if (!root) return {};
  const std::string read =
      b.NodeQuery(*root, nullptr, false, "pgrst_source AS " + QuoteIdent(rel.name), req.select_raw);
  return "WITH pgrst_source AS (" + write_sql + " RETURNING " + Returning(*root, rel, b.cache) +
         ") SELECT NULL::bigint AS total_result_set, pg_catalog.count(_postgrest_t)::bigint AS page_total, " +
         BodySql(WantsSingular(req), b.body_sql) + " AS body, " + inserted_sql + tail + " FROM (" + read +
         ") _postgrest_t";
}

Builder WriteBuilder(const Relation& rel, const BuildContext& ctx) {
  Builder b;
  b.cache = ctx.cache;
  b.schema = rel.schema;
  b.aggregates_enabled = ctx.aggregates_enabled;
  b.body_sql = ctx.body_sql;
  return b;
}

// set_config('pgrst.inserted', ...): +1 for every row offered to the INSERT, -1 for every one the ON CONFLICT
// turned into an update, so it ends as the number of rows inserted (PostgREST's addConfigPgrstInserted).
std::string InsertedCounter(bool add) {
  return std::string("set_config('pgrst.inserted', (coalesce(nullif(current_setting('pgrst.inserted', true), '')::int, "
                     "0) ") +
         (add ? "+" : "-") + " 1)::text, true) <> '" + (add ? "0" : "-1") + "'";
}
}  // namespace

ApiResult<Statement> BuildInsert(const ApiRequest& req, const Relation& rel, std::string_view body,
                                 const BuildContext& ctx) {
  auto payload = ParsePayload(req, body);
  if (!payload) return payload.error();
  auto cols = WrittenColumns(rel, payload->keys);
  if (!cols) return cols.error();
  Builder b = WriteBuilder(rel, ctx);
  const std::string param = b.Param(std::move(payload->json));
  const bool defaults = req.prefer.missing == PreferMissing::kDefault;
  std::string list;
  for (const Column* c : *cols) list += (list.empty() ? "" : ", ") + QuoteIdent(c->name);
  std::string write = "INSERT INTO " + TableSql(rel) + " AS " + QuoteIdent(rel.name) +
                      (list.empty() ? " " : "(" + list + ") ") +
                      JsonBodySql(*cols, param, payload->is_object, true, defaults, ctx.cache);
  // Upsert: on the primary key (or on_conflict=); a table without either ignores the resolution (PostgREST).
  std::vector<std::string> target = req.on_conflict ? *req.on_conflict : rel.primary_key;
  for (const auto& t : target)
    if (!rel.FindColumn(t)) return ColumnError(rel.name, t);
  const bool upsert = req.prefer.resolution.has_value() && !target.empty();
  const bool merge = upsert && req.prefer.resolution == PreferResolution::kMergeDuplicates;
  if (merge) write += " WHERE " + InsertedCounter(true);
  if (upsert) {
    std::string tl;
    for (const auto& t : target) tl += (tl.empty() ? "" : ", ") + QuoteIdent(t);
    write += " ON CONFLICT(" + tl + ") ";
    if (!merge || cols->empty()) {
      write += "DO NOTHING";
    } else {
      std::string set;
      for (const Column* c : *cols)
        set += (set.empty() ? "" : ", ") + QuoteIdent(c->name) + " = EXCLUDED." + QuoteIdent(c->name);
      write += "DO UPDATE SET " + set + " WHERE " + InsertedCounter(false);
    }
  }
  const std::string inserted =
      merge ? "coalesce(nullif(current_setting('pgrst.inserted', true), '')::int, 0)" : std::string("NULL");
  std::string sql = WriteEnvelope(req, rel, write, b, inserted);
  if (b.error) return *b.error;
  return Statement{std::move(sql), std::move(b.params)};
}

ApiResult<Statement> BuildUpdate(const ApiRequest& req, const Relation& rel, std::string_view body,
                                 const BuildContext& ctx) {
  auto payload = ParsePayload(req, body);
  if (!payload) return payload.error();
  auto cols = WrittenColumns(rel, payload->keys);
  if (!cols) return cols.error();
  if (cols->empty()) return BodyError("Empty or invalid json");
  Builder b = WriteBuilder(rel, ctx);
  const std::string param = b.Param(std::move(payload->json));
  const bool defaults = req.prefer.missing == PreferMissing::kDefault;
  std::string set;
  for (const Column* c : *cols)
    set += (set.empty() ? "" : ", ") + QuoteIdent(c->name) + " = \"pgrst_body\"." + QuoteIdent(c->name);
  const std::string where = WriteWhere(req, rel, b);
  const std::string write = "UPDATE " + TableSql(rel) + " AS " + QuoteIdent(rel.name) + " SET " + set + " " +
                            JsonBodySql(*cols, param, payload->is_object, false, defaults, ctx.cache) + where;
  std::string sql = WriteEnvelope(req, rel, write, b, "NULL");
  if (b.error) return *b.error;
  return Statement{std::move(sql), std::move(b.params)};
}

ApiResult<Statement> BuildDelete(const ApiRequest& req, const Relation& rel, const BuildContext& ctx) {
  Builder b = WriteBuilder(rel, ctx);
  const std::string where = WriteWhere(req, rel, b);
  const std::string write = "DELETE FROM " + TableSql(rel) + " AS " + QuoteIdent(rel.name) + where;
  std::string sql = WriteEnvelope(req, rel, write, b, "NULL");
  if (b.error) return *b.error;
  return Statement{std::move(sql), std::move(b.params)};
}

}  // namespace pgwarden::dataapi
