#include "dataapi/request/format.hpp"

namespace pgwarden::dataapi {
namespace {

std::string_view AggregateName(AggregateFunction f) {
  switch (f) {
    case AggregateFunction::kSum:
      return "sum";
    case AggregateFunction::kAvg:
      return "avg";
    case AggregateFunction::kCount:
      return "count";
    case AggregateFunction::kMax:
      return "max";
    case AggregateFunction::kMin:
      return "min";
  }
  return {};
}

std::string_view IsValueName(IsValue v) {
  switch (v) {
    case IsValue::kNull:
      return "null";
    case IsValue::kNotNull:
      return "not_null";
    case IsValue::kTrue:
      return "true";
    case IsValue::kFalse:
      return "false";
    case IsValue::kUnknown:
      return "unknown";
  }
  return {};
}

//! A cast or fts language is an identifier (letters, digits, '_', ' ', '$') read with surrounding blanks
//! stripped; an empty one was written as blanks, so one blank reads back as empty.
std::string Identifier(const std::string& s) { return s.empty() ? std::string(" ") : s; }

void AppendEmbed(std::string& out, const SelectItem& item) {
  out += QuoteName(item.relation);
  if (item.hint) out += "!" + QuoteName(*item.hint);
  if (item.join_type) out += item.join_type == JoinType::kInner ? "!inner" : "!left";
  out += '(';
  out += FormatSelect(item.children);
  out += ')';
}

void AppendItem(std::string& out, const SelectItem& item) {
  switch (item.kind) {
    case SelectItem::Kind::kSpread:
      out += "...";
      AppendEmbed(out, item);
      return;
    case SelectItem::Kind::kRelation:
      if (item.alias) out += QuoteName(*item.alias) + ":";
      AppendEmbed(out, item);
      return;
    case SelectItem::Kind::kField:
      break;
  }
  const bool bare = item.field.json_path.empty() && !item.cast;
  if (bare && item.field.name == "*" && !item.alias && !item.aggregate && !item.aggregate_cast) {
    out += '*';
    return;
  }
  if (item.alias) out += QuoteName(*item.alias) + ":";
  if (bare && item.field.name == "*" && item.aggregate == AggregateFunction::kCount) {
    out += "count()";
  } else {
    out += FormatField(item.field);
    if (item.cast) out += "::" + Identifier(*item.cast);
    if (item.aggregate) out += "." + std::string(AggregateName(*item.aggregate)) + "()";
  }
  if (item.aggregate_cast) out += "::" + Identifier(*item.aggregate_cast);
}

//! The operator with its modifiers, without the value: `not.like(any)`, `fts(english)`.
std::string OperatorText(const OpExpr& e) {
  std::string out = e.negated ? "not." : "";
  out += OperatorName(e.op);
  if (e.quantifier) out += e.quantifier == Quantifier::kAny ? "(any)" : "(all)";
  if (e.language) out += "(" + Identifier(*e.language) + ")";
  return out;
}

std::string ListText(const std::vector<std::string>& list) {
  std::string out = "(";
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) out += ',';
    out += QuoteName(list[i]);
  }
  return out + ")";
}

}  // namespace

std::string_view OperatorName(FilterOperator op) {
  switch (op) {
    case FilterOperator::kEq:
      return "eq";
    case FilterOperator::kNeq:
      return "neq";
    case FilterOperator::kGt:
      return "gt";
    case FilterOperator::kGte:
      return "gte";
    case FilterOperator::kLt:
      return "lt";
    case FilterOperator::kLte:
      return "lte";
    case FilterOperator::kLike:
      return "like";
    case FilterOperator::kIlike:
      return "ilike";
    case FilterOperator::kMatch:
      return "match";
    case FilterOperator::kImatch:
      return "imatch";
    case FilterOperator::kIn:
      return "in";
    case FilterOperator::kIs:
      return "is";
    case FilterOperator::kIsDistinct:
      return "isdistinct";
    case FilterOperator::kCs:
      return "cs";
    case FilterOperator::kCd:
      return "cd";
    case FilterOperator::kOv:
      return "ov";
    case FilterOperator::kSl:
      return "sl";
    case FilterOperator::kSr:
      return "sr";
    case FilterOperator::kNxr:
      return "nxr";
    case FilterOperator::kNxl:
      return "nxl";
    case FilterOperator::kAdj:
      return "adj";
    case FilterOperator::kFts:
      return "fts";
    case FilterOperator::kPlfts:
      return "plfts";
    case FilterOperator::kPhfts:
      return "phfts";
    case FilterOperator::kWfts:
      return "wfts";
  }
  return {};
}

std::string QuoteName(std::string_view name) {
  std::string out = "\"";
  for (const char c : name) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string FormatField(const Field& field) {
  std::string out = QuoteName(field.name);
  for (const JsonStep& step : field.json_path) {
    out += step.arrow == JsonStep::Arrow::kDoubleArrow ? "->>" : "->";
    out += step.kind == JsonStep::Kind::kIndex ? step.value : QuoteName(step.value);
  }
  return out;
}

std::string FormatSelect(std::span<const SelectItem> items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    AppendItem(out, items[i]);
  }
  return out;
}

std::string FormatFilterKey(const EmbedPath& path, const Field& field) {
  std::string out;
  for (const std::string& p : path) out += QuoteName(p) + ".";
  return out + FormatField(field);
}

std::string FormatFilterValue(const OpExpr& e) {
  std::string out = OperatorText(e);
  switch (e.op) {
    case FilterOperator::kIn:
      return out + "." + ListText(e.list);
    case FilterOperator::kIs:
      return out + "." + std::string(IsValueName(e.is_value));
    default:
      return out + "." + e.value;
  }
}

std::string FormatLogicTree(const LogicTree& tree) {
  if (tree.kind == LogicTree::Kind::kFilter) {
    const OpExpr& e = tree.filter.expr;
    std::string out = FormatField(tree.filter.field) + "." + OperatorText(e) + ".";
    // Inside or=/and= a quoted value is unquoted when read, so quoting every value reads back the same text.
    switch (e.op) {
      case FilterOperator::kIn:
        return out + ListText(e.list);
      case FilterOperator::kIs:
        return out + std::string(IsValueName(e.is_value));
      default:
        return out + QuoteName(e.value);
    }
  }
  std::string out = tree.negated ? "not." : "";
  out += tree.op == LogicOperator::kAnd ? "and(" : "or(";
  for (std::size_t i = 0; i < tree.children.size(); ++i) {
    if (i) out += ',';
    out += FormatLogicTree(tree.children[i]);
  }
  return out + ")";
}

std::string FormatOrder(std::span<const OrderTerm> terms) {
  std::string out;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    const OrderTerm& t = terms[i];
    if (i) out += ',';
    if (t.relation) {
      out += QuoteName(*t.relation) + "(" + FormatField(t.field) + ")";
    } else {
      out += FormatField(t.field);
    }
    if (t.direction) out += t.direction == OrderDirection::kAsc ? ".asc" : ".desc";
    if (t.nulls) out += t.nulls == OrderNulls::kFirst ? ".nullsfirst" : ".nullslast";
  }
  return out;
}

}  // namespace pgwarden::dataapi
