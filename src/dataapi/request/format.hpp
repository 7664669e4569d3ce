//! Canonical query-string text for the parsed forms: every name double-quoted (with `\"` and `\\`), no
//! blanks. Parsing the text again gives the same value (the fuzz target checks this), so it serves for
//! messages, logs and test diagnostics. Not percent-encoded: callers encode when they build a URL.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "dataapi/request/api_request.hpp"

namespace pgwarden::dataapi {

//! `"a\"b"`: the form pQuotedValue reads back.
std::string QuoteName(std::string_view name);

//! `"col"->"key"->>0`
std::string FormatField(const Field& field);

//! A select= value: `"alias":"col"::text,"rel"!"fk"!inner("x"),..."spread"(*),count()`.
std::string FormatSelect(std::span<const SelectItem> items);

//! A filter key: `"rel"."col"->"a"`.
std::string FormatFilterKey(const EmbedPath& path, const Field& field);

//! A top-level filter value: `not.like(any).{a%,b%}` (the value verbatim), `in.("a","b")`, `is.not_null`.
std::string FormatFilterValue(const OpExpr& expr);

//! An or=/and= tree including its operator: `or("a".eq."1",not.and(...))`.
std::string FormatLogicTree(const LogicTree& tree);

//! An order= value: `"name".desc.nullslast,"rel"("col").asc`.
std::string FormatOrder(std::span<const OrderTerm> terms);

std::string_view OperatorName(FilterOperator op);

}  // namespace pgwarden::dataapi
