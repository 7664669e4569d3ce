// The rules below transcribe PostgREST's Parsec grammar (QueryParams.hs, v13) one to one; each carries the
// Haskell it stands for. Alternatives, `try` and labels are where PostgREST has them: moving one changes what is
// accepted or the error text.
#include "dataapi/request/grammar.hpp"

#include <array>
#include <string>

#include "dataapi/request/parsec.hpp"
#include "dataapi/request/unicode.hpp"

namespace pgwarden::dataapi::grammar {

using parsec::Error;
using parsec::Fail;
using parsec::Forward;
using parsec::Input;
using parsec::Label;
using parsec::LookAhead;
using parsec::Many;
using parsec::Merge;
using parsec::Ok;
using parsec::Or;
using parsec::Reply;
using parsec::Seq;
using parsec::Try;
using parsec::Unit;
using parsec::UnknownAt;

namespace {

constexpr std::string_view kTooDeep = "nesting deeper than 64 levels";

//! Data.Text.strip
std::string Strip(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e) {
    const DecodedChar d = DecodeUtf8At(s, b);
    if (!IsSpace(d.cp)) break;
    b += d.len;
  }
  while (e > b) {
    std::size_t start = e - 1;
    while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    if (!IsSpace(DecodeUtf8At(s, start).cp)) break;
    e = start;
  }
  return std::string(s.substr(b, e - b));
}

//! A failed-or-not reply with its value replaced (`p $> v`).
template <class V, class T>
Reply<V> As(Reply<T> r, V v) {
  return Reply<V>{r.ok, r.consumed, r.pos, std::move(r.err), std::move(v)};
}

//! `f <$> p`
template <class T, class F>
auto Map(Reply<T> r, F&& f) -> Reply<decltype(f(std::move(r.value)))> {
  using V = decltype(f(std::move(r.value)));
  if (!r.ok) return Forward<V>(std::move(r));
  return Reply<V>{true, r.consumed, r.pos, std::move(r.err), f(std::move(r.value))};
}

//! optionMaybe p, given p's reply at `start`.
template <class T>
Reply<std::optional<T>> OptionMaybe(Reply<T> r, std::size_t start) {
  if (r.ok) return Ok(std::optional<T>(std::move(r.value)), r.pos, r.consumed, std::move(r.err));
  if (r.consumed) return Forward<std::optional<T>>(std::move(r));
  return Ok(std::optional<T>{}, start, false, Merge(std::move(r.err), UnknownAt(start)));
}

//! option x p, given p's reply at `start`.
template <class T>
Reply<T> Option(Reply<T> r, std::size_t start, T fallback) {
  if (r.ok || r.consumed) return r;
  return Ok(std::move(fallback), start, false, Merge(std::move(r.err), UnknownAt(start)));
}

template <class V>
struct Keyword {
  std::string_view text;
  V value;
  bool try_ = true;
};

enum class ValueKind {
  kSingle,  //!< pSingleVal = many anyChar (top-level filters)
  kLogic,   //!< pLogicSingleVal (inside or=/and=)
};

struct EmbedParam {
  std::optional<std::string> hint;
  std::optional<JoinType> join;
};

class Grammar {
 public:
  //! `select_depth`: the embedding levels select= may nest (kMaxNesting or less, DataApiConfig::max_embed_depth).
  explicit Grammar(std::string_view text, int select_depth = kMaxNesting)
      : in_(text),
        select_depth_(select_depth),
        select_too_deep_(select_depth == kMaxNesting
                             ? std::string(kTooDeep)
                             : "embedding nested deeper than " + std::to_string(select_depth) + " levels") {}

  const Input& in() const { return in_; }

  // ---------------------------------------------------------------------------------------- lexical

  bool IsWs(char32_t c) const { return c == ' ' || c == '\t'; }

  // ws = many (oneOf " \t")
  Reply<Unit> Ws(std::size_t p) const {
    return Many(
        p, [this](std::size_t q) { return in_.Satisfy(q, [this](char32_t c) { return IsWs(c); }); }, [](char32_t) {});
  }

  // lexeme p = ws *> p <* ws
  template <class P>
  auto Lexeme(std::size_t p, P&& rule) const -> decltype(rule(p)) {
    using T = decltype(rule(p).value);
    Seq s(p);
    auto w1 = Ws(s.pos());
    if (!s.Take(w1)) return s.Failed<T>();
    auto r = rule(s.pos());
    if (!s.Take(r)) return s.Failed<T>();
    auto w2 = Ws(s.pos());
    if (!s.Take(w2)) return s.Failed<T>();
    return s.Done(std::move(r.value));
  }

  Reply<char32_t> Char(std::size_t p, char c) const { return in_.Char(p, c); }

  //! string s (s is a literal of the grammar).
  Reply<Unit> Str(std::size_t p, std::string_view s) const { return in_.String(p, s); }

  // pDelimiter = char '.' <?> "delimiter (.)"
  Reply<char32_t> Delimiter(std::size_t p) const { return Label(Char(p, '.'), "delimiter (.)"); }

  //! `try (string kw)` / `string kw` alternatives, in order (Parsec's `a <|> b <|> ...`).
  template <class V, std::size_t N>
  Reply<V> Keywords(std::size_t p, const std::array<Keyword<V>, N>& kws) const {
    auto one = [&](const Keyword<V>& k) {
      auto r = Str(p, k.text);
      return As(k.try_ ? Try(std::move(r)) : std::move(r), k.value);
    };
    Reply<V> acc = one(kws[0]);
    for (std::size_t i = 1; i < N; ++i) acc = Or(std::move(acc), [&] { return one(kws[i]); });
    return acc;
  }

  //! many (satisfy pred), as the text it covered.
  template <class Pred>
  Reply<std::string_view> ManyText(std::size_t p, Pred&& pred) const {
    auto r = Many(
        p, [&](std::size_t q) { return in_.Satisfy(q, pred); }, [](char32_t) {});
    if (!r.ok) return Forward<std::string_view>(std::move(r));
    return Ok(in_.Slice(p, r.pos), r.pos, r.consumed, std::move(r.err));
  }

  //! many1 p, handing each value to `sink`.
  template <class P, class Sink>
  Reply<Unit> Many1(std::size_t p, P&& rule, Sink&& sink) const {
    Seq s(p);
    auto first = rule(s.pos());
    if (!s.Take(first)) return s.Failed<Unit>();
    sink(std::move(first.value));
    auto rest = Many(s.pos(), rule, sink);
    if (!s.Take(rest)) return s.Failed<Unit>();
    return s.Done(Unit{});
  }

  // p `sepBy1` sep = do { x <- p; xs <- many (sep >> p); return (x:xs) }
  template <class T, class P, class S>
  Reply<std::vector<T>> SepBy1(std::size_t p, P&& item, S&& sep) const {
    Seq s(p);
    std::vector<T> out;
    auto first = item(s.pos());
    if (!s.Take(first)) return s.Failed<std::vector<T>>();
    out.push_back(std::move(first.value));
    auto rest = Many(
        s.pos(),
        [&](std::size_t q) -> Reply<T> {
          Seq t(q);
          auto sp = sep(t.pos());
          if (!t.Take(sp)) return t.Failed<T>();
          auto it = item(t.pos());
          if (!t.Take(it)) return t.Failed<T>();
          return t.Done(std::move(it.value));
        },
        [&](T&& v) { out.push_back(std::move(v)); });
    if (!s.Take(rest)) return s.Failed<std::vector<T>>();
    return s.Done(std::move(out));
  }

  // ---------------------------------------------------------------------------------------- names

  // pIdentifierChar = letter <|> digit <|> oneOf "_ $"
  Reply<char32_t> IdentifierChar(std::size_t p) const {
    return Or(Label(in_.Satisfy(p, IsAlpha), "letter"), [&] {
      return Or(Label(in_.Satisfy(p, IsDigit), "digit"),
                [&] { return in_.Satisfy(p, [](char32_t c) { return c == '_' || c == ' ' || c == '$'; }); });
    });
  }

  // pIdentifier = T.strip . toS <$> many1 pIdentifierChar
  Reply<std::string> Identifier(std::size_t p) const {
    auto r = Many1(
        p, [this](std::size_t q) { return IdentifierChar(q); }, [](char32_t) {});
    if (!r.ok) return Forward<std::string>(std::move(r));
    return Ok(Strip(in_.Slice(p, r.pos)), r.pos, r.consumed, std::move(r.err));
  }

  // isDash = try (char '-' >> notFollowedBy (char '>'))
  Reply<Unit> Dash(std::size_t p) const {
    Seq s(p);
    auto c = Char(s.pos(), '-');
    if (!s.Take(c)) return Try(s.Failed<Unit>());
    auto n = in_.NotFollowedBy(s.pos(), [this](std::size_t q) { return Char(q, '>'); });
    if (!s.Take(n)) return Try(s.Failed<Unit>());
    return s.Done(Unit{});
  }

  // sepByDash fieldIdent = T.intercalate "-" . map toS <$> (fieldIdent `sepBy1` dash)
  template <class Part>
  Reply<std::string> SepByDash(std::size_t p, Part&& part) const {
    Seq s(p);
    auto first = part(s.pos());
    if (!s.Take(first)) return s.Failed<std::string>();
    std::string out = std::move(first.value);
    auto rest = Many(
        s.pos(),
        [&](std::size_t q) -> Reply<std::string> {
          Seq t(q);
          auto d = Dash(t.pos());
          if (!t.Take(d)) return t.Failed<std::string>();
          auto r = part(t.pos());
          if (!t.Take(r)) return t.Failed<std::string>();
          return t.Done(std::move(r.value));
        },
        [&](std::string&& v) {
          out += '-';
          out += v;
        });
    if (!s.Take(rest)) return s.Failed<std::string>();
    return s.Done(std::move(out));
  }

  // pQuotedValue = char '"' *> many (noneOf "\\\"" <|> (char '\\' *> anyChar)) <* char '"'
  Reply<std::string> QuotedValue(std::size_t p) const {
    Seq s(p);
    auto open = Char(s.pos(), '"');
    if (!s.Take(open)) return s.Failed<std::string>();
    std::string out;
    auto body = Many(
        s.pos(),
        [this](std::size_t q) {
          return Or(in_.Satisfy(q, [](char32_t c) { return c != '\\' && c != '"'; }), [&]() -> Reply<char32_t> {
            Seq t(q);
            auto bs = Char(t.pos(), '\\');
            if (!t.Take(bs)) return t.Failed<char32_t>();
            auto any = in_.Satisfy(t.pos(), [](char32_t) { return true; });
            if (!t.Take(any)) return t.Failed<char32_t>();
            return t.Done(any.value);
          });
        },
        [&](char32_t c) { AppendUtf8(out, c); });
    if (!s.Take(body)) return s.Failed<std::string>();
    auto close = Char(s.pos(), '"');
    if (!s.Take(close)) return s.Failed<std::string>();
    return s.Done(std::move(out));
  }

  // pFieldName = pQuotedValue <|> sepByDash pIdentifier <?> "field name (* or [a..z0..9_$])"
  Reply<std::string> FieldName(std::size_t p) const {
    return Label(Or(QuotedValue(p), [&] { return SepByDash(p, [this](std::size_t q) { return Identifier(q); }); }),
                 "field name (* or [a..z0..9_$])");
  }

  // pJsonKeyIdentifier = T.strip . toS <$> many1 (noneOf "(-:.,>)")
  Reply<std::string> JsonKeyIdentifier(std::size_t p) const {
    auto r = Many1(
        p,
        [this](std::size_t q) {
          return in_.Satisfy(q, [](char32_t c) {
            return c != '(' && c != '-' && c != ':' && c != '.' && c != ',' && c != '>' && c != ')';
          });
        },
        [](char32_t) {});
    if (!r.ok) return Forward<std::string>(std::move(r));
    return Ok(Strip(in_.Slice(p, r.pos)), r.pos, r.consumed, std::move(r.err));
  }

  // pJsonKeyName = pQuotedValue <|> sepByDash pJsonKeyIdentifier <?> "any non reserved character ..."
  Reply<std::string> JsonKeyName(std::size_t p) const {
    return Label(
        Or(QuotedValue(p), [&] { return SepByDash(p, [this](std::size_t q) { return JsonKeyIdentifier(q); }); }),
        "any non reserved character different from: .,>()");
  }

  // pJIdx's pEnd: a lookahead of "->", "::", ".", "," or the end of input
  Reply<Unit> JsonIndexEnd(std::size_t p) const {
    auto ahead = [&](std::string_view s) { return Try(LookAhead(Str(p, s), p)); };
    return Or(ahead("->"), [&] {
      return Or(ahead("::"),
                [&] { return Or(ahead("."), [&] { return Or(ahead(","), [&] { return Try(in_.Eof(p)); }); }); });
    });
  }

  // pJIdx = JIdx <$> ((:) <$> P.option '+' (char '-') <*> many1 digit) <* pEnd
  Reply<std::string> JsonIndex(std::size_t p) const {
    Seq s(p);
    auto sign = Or(Char(s.pos(), '-'), [&] { return Ok(char32_t{'+'}, p, false, UnknownAt(p)); });
    if (!s.Take(sign)) return s.Failed<std::string>();
    const std::size_t digits_from = s.pos();
    auto digits = Many1(
        s.pos(), [this](std::size_t q) { return Label(in_.Satisfy(q, IsDigit), "digit"); }, [](char32_t) {});
    if (!s.Take(digits)) return s.Failed<std::string>();
    const std::size_t digits_to = s.pos();
    auto end = JsonIndexEnd(s.pos());
    if (!s.Take(end)) return s.Failed<std::string>();
    std::string value = sign.value == '-' ? "-" : "";
    value += in_.Slice(digits_from, digits_to);
    return s.Done(std::move(value));
  }

  // pJsonOperation = pJsonArrow <*> pJsonOperand
  Reply<JsonStep> JsonOperation(std::size_t p) const {
    Seq s(p);
    auto arrow = Or(As(Try(Str(p, "->>")), JsonStep::Arrow::kDoubleArrow),
                    [&] { return As(Try(Str(p, "->")), JsonStep::Arrow::kArrow); });
    if (!s.Take(arrow)) return s.Failed<JsonStep>();
    const std::size_t q = s.pos();
    // pJsonOperand = try pJIdx <|> try pJKey
    auto operand = Or(Map(Try(JsonIndex(q)), [](std::string v) { return std::pair(JsonStep::Kind::kIndex, v); }), [&] {
      return Map(Try(JsonKeyName(q)), [](std::string v) { return std::pair(JsonStep::Kind::kKey, v); });
    });
    if (!s.Take(operand)) return s.Failed<JsonStep>();
    return s.Done(JsonStep{arrow.value, operand.value.first, std::move(operand.value.second)});
  }

  // pJsonPath = many pJsonOperation
  Reply<JsonPath> JsonPathRule(std::size_t p) const {
    JsonPath path;
    auto r = Many(
        p, [this](std::size_t q) { return JsonOperation(q); }, [&](JsonStep&& st) { path.push_back(std::move(st)); });
    if (!r.ok) return Forward<JsonPath>(std::move(r));
    return Ok(std::move(path), r.pos, r.consumed, std::move(r.err));
  }

  // pField = lexeme $ (,) <$> pFieldName <*> P.option [] pJsonPath
  Reply<Field> FieldRule(std::size_t p) const {
    return Lexeme(p, [this](std::size_t q) -> Reply<Field> {
      Seq s(q);
      auto name = FieldName(s.pos());
      if (!s.Take(name)) return s.Failed<Field>();
      auto path = Option(JsonPathRule(s.pos()), s.pos(), JsonPath{});
      if (!s.Take(path)) return s.Failed<Field>();
      return s.Done(Field{std::move(name.value), std::move(path.value)});
    });
  }

  // aliasSeparator = char ':' >> notFollowedBy (char ':')
  Reply<Unit> AliasSeparator(std::size_t p) const {
    Seq s(p);
    auto c = Char(s.pos(), ':');
    if (!s.Take(c)) return s.Failed<Unit>();
    auto n = in_.NotFollowedBy(s.pos(), [this](std::size_t q) { return Char(q, ':'); });
    if (!s.Take(n)) return s.Failed<Unit>();
    return s.Done(Unit{});
  }

  // optionMaybe ( try(pFieldName <* aliasSeparator) )
  Reply<std::optional<std::string>> OptionalAlias(std::size_t p) const {
    auto aliased = [&]() -> Reply<std::string> {
      Seq s(p);
      auto name = FieldName(s.pos());
      if (!s.Take(name)) return s.Failed<std::string>();
      auto sep = AliasSeparator(s.pos());
      if (!s.Take(sep)) return s.Failed<std::string>();
      return s.Done(std::move(name.value));
    };
    return OptionMaybe(Try(aliased()), p);
  }

  // string "::" *> pIdentifier
  Reply<std::string> Cast(std::size_t p) const {
    Seq s(p);
    auto colons = Str(s.pos(), "::");
    if (!s.Take(colons)) return s.Failed<std::string>();
    auto ident = Identifier(s.pos());
    if (!s.Take(ident)) return s.Failed<std::string>();
    return s.Done(std::move(ident.value));
  }

  // ---------------------------------------------------------------------------------------- select=

  // pFieldForest = pFieldTree `sepBy` lexeme (char ',')
  Reply<std::vector<SelectItem>> FieldForest(std::size_t p, int depth) const {
    auto items = SepBy1<SelectItem>(
        p, [&](std::size_t q) { return FieldTree(q, depth); },
        [this](std::size_t q) { return Lexeme(q, [this](std::size_t r) { return Char(r, ','); }); });
    return Or(std::move(items), [&] { return Ok(std::vector<SelectItem>{}, p, false, UnknownAt(p)); });
  }

  // between (char '(') (char ')') pFieldForest
  Reply<std::vector<SelectItem>> Children(std::size_t p, int depth) const {
    Seq s(p);
    auto open = Char(s.pos(), '(');
    if (!s.Take(open)) return s.Failed<std::vector<SelectItem>>();
    if (depth >= select_depth_) {
      auto deep = Input::FailWith(s.pos(), select_too_deep_);
      s.Take(deep);
      return s.Failed<std::vector<SelectItem>>();
    }
    auto forest = FieldForest(s.pos(), depth + 1);
    if (!s.Take(forest)) return s.Failed<std::vector<SelectItem>>();
    auto close = Char(s.pos(), ')');
    if (!s.Take(close)) return s.Failed<std::vector<SelectItem>>();
    return s.Done(std::move(forest.value));
  }

  // pFieldTree =  Node <$> try pSpreadRelationSelect <*> between (char '(') (char ')') pFieldForest <|>
  //               Node <$> try pRelationSelect       <*> between (char '(') (char ')') pFieldForest <|>
  //               Node <$> pFieldSelect <*> pure []
  Reply<SelectItem> FieldTree(std::size_t p, int depth) const {
    auto with_children = [&](Reply<SelectItem> head) -> Reply<SelectItem> {
      Seq s(p);
      if (!s.Take(head)) return s.Failed<SelectItem>();
      auto children = Children(s.pos(), depth);
      if (!s.Take(children)) return s.Failed<SelectItem>();
      head.value.children = std::move(children.value);
      return s.Done(std::move(head.value));
    };
    return Or(with_children(Try(SpreadRelationSelect(p))),
              [&] { return Or(with_children(Try(RelationSelect(p))), [&] { return FieldSelect(p); }); });
  }

  // pEmbedParam = char '!' *> (try (string "left") <|> try (string "inner") <|> try (EPHint <$> pFieldName))
  Reply<EmbedParam> EmbedParamRule(std::size_t p) const {
    Seq s(p);
    auto bang = Char(s.pos(), '!');
    if (!s.Take(bang)) return s.Failed<EmbedParam>();
    const std::size_t q = s.pos();
    auto v = Or(As(Try(Str(q, "left")), EmbedParam{std::nullopt, JoinType::kLeft}), [&] {
      return Or(As(Try(Str(q, "inner")), EmbedParam{std::nullopt, JoinType::kInner}), [&] {
        return Map(Try(FieldName(q)), [](std::string h) { return EmbedParam{std::move(h), std::nullopt}; });
      });
    });
    if (!s.Take(v)) return s.Failed<EmbedParam>();
    return s.Done(std::move(v.value));
  }

  // pEmbedParams: up to two of them; the first hint and the first join type win
  Reply<EmbedParam> EmbedParams(std::size_t p) const {
    Seq s(p);
    auto a = OptionMaybe(EmbedParamRule(s.pos()), s.pos());
    if (!s.Take(a)) return s.Failed<EmbedParam>();
    auto b = OptionMaybe(EmbedParamRule(s.pos()), s.pos());
    if (!s.Take(b)) return s.Failed<EmbedParam>();
    EmbedParam out;
    for (const auto* prm : {&a.value, &b.value}) {
      if (!*prm) continue;
      if (!out.hint && (*prm)->hint) out.hint = (*prm)->hint;
      if (!out.join && (*prm)->join) out.join = (*prm)->join;
    }
    return s.Done(std::move(out));
  }

  // pRelationSelect = lexeme $ do
  //     alias <- optionMaybe ( try(pFieldName <* aliasSeparator) )
  //     name <- pFieldName
  //     guard (name /= "count")
  //     (hint, jType) <- pEmbedParams
  //     try (void $ lookAhead (string "("))
  Reply<SelectItem> RelationSelect(std::size_t p) const {
    return Lexeme(p, [this](std::size_t q) -> Reply<SelectItem> {
      Seq s(q);
      auto alias = OptionalAlias(s.pos());
      if (!s.Take(alias)) return s.Failed<SelectItem>();
      auto name = FieldName(s.pos());
      if (!s.Take(name)) return s.Failed<SelectItem>();
      if (name.value == "count") return s.Zero<SelectItem>();
      auto params = EmbedParams(s.pos());
      if (!s.Take(params)) return s.Failed<SelectItem>();
      auto paren = Try(LookAhead(Str(s.pos(), "("), s.pos()));
      if (!s.Take(paren)) return s.Failed<SelectItem>();
      SelectItem item;
      item.kind = SelectItem::Kind::kRelation;
      item.relation = std::move(name.value);
      item.alias = std::move(alias.value);
      item.hint = std::move(params.value.hint);
      item.join_type = params.value.join;
      return s.Done(std::move(item));
    });
  }

  // pSpreadRelationSelect = lexeme $ do
  //     name <- string "..." >> pFieldName
  //     (hint, jType) <- pEmbedParams
  //     try (void $ lookAhead (string "("))
  Reply<SelectItem> SpreadRelationSelect(std::size_t p) const {
    return Lexeme(p, [this](std::size_t q) -> Reply<SelectItem> {
      Seq s(q);
      auto dots = Str(s.pos(), "...");
      if (!s.Take(dots)) return s.Failed<SelectItem>();
      auto name = FieldName(s.pos());
      if (!s.Take(name)) return s.Failed<SelectItem>();
      auto params = EmbedParams(s.pos());
      if (!s.Take(params)) return s.Failed<SelectItem>();
      auto paren = Try(LookAhead(Str(s.pos(), "("), s.pos()));
      if (!s.Take(paren)) return s.Failed<SelectItem>();
      SelectItem item;
      item.kind = SelectItem::Kind::kSpread;
      item.relation = std::move(name.value);
      item.hint = std::move(params.value.hint);
      item.join_type = params.value.join;
      return s.Done(std::move(item));
    });
  }

  // pFieldSelect's pEnd = try (lookAhead (string ")")) <|> try (lookAhead (string ",")) <|> try eof
  Reply<Unit> SelectEnd(std::size_t p) const {
    return Or(Try(LookAhead(Str(p, ")"), p)),
              [&] { return Or(Try(LookAhead(Str(p, ","), p)), [&] { return Try(in_.Eof(p)); }); });
  }

  // pAggregation = choice [string "sum", string "avg", string "count", try (string "max"), try (string "min")]
  Reply<AggregateFunction> Aggregation(std::size_t p) const {
    static constexpr std::array<Keyword<AggregateFunction>, 5> kAggregates{{
        {"sum", AggregateFunction::kSum, false},
        {"avg", AggregateFunction::kAvg, false},
        {"count", AggregateFunction::kCount, false},
        {"max", AggregateFunction::kMax, true},
        {"min", AggregateFunction::kMin, true},
    }};
    return Keywords(p, kAggregates);
  }

  // pFieldSelect = lexeme $ try (pStar <* pEnd) <|> try (alias, "count()", aggregate cast, pEnd) <|> do
  //     alias, pField, cast, optionMaybe (try (char '.' *> pAggregation <* string "()")), aggregate cast, pEnd
  Reply<SelectItem> FieldSelect(std::size_t p) const {
    return Lexeme(p, [this](std::size_t q) {
      return Or(Try(StarSelect(q)), [&] { return Or(Try(CountSelect(q)), [&] { return ColumnSelect(q); }); });
    });
  }

  Reply<SelectItem> StarSelect(std::size_t p) const {
    Seq s(p);
    auto star = Str(s.pos(), "*");
    if (!s.Take(star)) return s.Failed<SelectItem>();
    auto end = SelectEnd(s.pos());
    if (!s.Take(end)) return s.Failed<SelectItem>();
    SelectItem item;
    item.field.name = "*";
    return s.Done(std::move(item));
  }

  Reply<SelectItem> CountSelect(std::size_t p) const {
    Seq s(p);
    auto alias = OptionalAlias(s.pos());
    if (!s.Take(alias)) return s.Failed<SelectItem>();
    auto count = Str(s.pos(), "count()");
    if (!s.Take(count)) return s.Failed<SelectItem>();
    auto agg_cast = OptionMaybe(Cast(s.pos()), s.pos());
    if (!s.Take(agg_cast)) return s.Failed<SelectItem>();
    auto end = SelectEnd(s.pos());
    if (!s.Take(end)) return s.Failed<SelectItem>();
    SelectItem item;
    item.field.name = "*";
    item.aggregate = AggregateFunction::kCount;
    item.aggregate_cast = std::move(agg_cast.value);
    item.alias = std::move(alias.value);
    return s.Done(std::move(item));
  }

  Reply<SelectItem> ColumnSelect(std::size_t p) const {
    Seq s(p);
    auto alias = OptionalAlias(s.pos());
    if (!s.Take(alias)) return s.Failed<SelectItem>();
    auto field = FieldRule(s.pos());
    if (!s.Take(field)) return s.Failed<SelectItem>();
    auto cast = OptionMaybe(Cast(s.pos()), s.pos());
    if (!s.Take(cast)) return s.Failed<SelectItem>();
    const std::size_t q = s.pos();
    auto aggregate = OptionMaybe(Try([&]() -> Reply<AggregateFunction> {
                                   Seq t(q);
                                   auto dot = Char(t.pos(), '.');
                                   if (!t.Take(dot)) return t.Failed<AggregateFunction>();
                                   auto fn = Aggregation(t.pos());
                                   if (!t.Take(fn)) return t.Failed<AggregateFunction>();
                                   auto parens = Str(t.pos(), "()");
                                   if (!t.Take(parens)) return t.Failed<AggregateFunction>();
                                   return t.Done(fn.value);
                                 }()),
                                 q);
    if (!s.Take(aggregate)) return s.Failed<SelectItem>();
    auto agg_cast = OptionMaybe(Cast(s.pos()), s.pos());
    if (!s.Take(agg_cast)) return s.Failed<SelectItem>();
    auto end = SelectEnd(s.pos());
    if (!s.Take(end)) return s.Failed<SelectItem>();
    SelectItem item;
    item.field = std::move(field.value);
    item.cast = std::move(cast.value);
    item.aggregate = aggregate.value;
    item.aggregate_cast = std::move(agg_cast.value);
    item.alias = std::move(alias.value);
    return s.Done(std::move(item));
  }

  // ---------------------------------------------------------------------------------------- filters

  // pSingleVal = many anyChar / pLogicSingleVal
  Reply<std::string> SingleValue(std::size_t p, ValueKind kind) const {
    if (kind == ValueKind::kSingle) {
      const std::size_t end = in_.text().size();
      return Ok(std::string(in_.Slice(p, end)), end, end > p,
                parsec::ErrorAt(end, parsec::Message{parsec::MsgKind::kSysUnExpect, parsec::MsgForm::kText, 0, {}}));
    }
    // pLogicSingleVal = try (pQuotedValue <* notFollowedBy (noneOf ",)")) <|> try pPgArray
    //                   <|> (toS <$> many (noneOf ",)"))
    return Or(Try(QuotedElement(p)), [&] {
      return Or(Try(PgArray(p)), [&] {
        return Map(ManyText(p, [](char32_t c) { return c != ',' && c != ')'; }),
                   [](std::string_view v) { return std::string(v); });
      });
    });
  }

  // pQuotedValue <* notFollowedBy (noneOf ",)")
  Reply<std::string> QuotedElement(std::size_t p) const {
    Seq s(p);
    auto v = QuotedValue(s.pos());
    if (!s.Take(v)) return s.Failed<std::string>();
    auto n = in_.NotFollowedBy(
        s.pos(), [this](std::size_t q) { return in_.Satisfy(q, [](char32_t c) { return c != ',' && c != ')'; }); });
    if (!s.Take(n)) return s.Failed<std::string>();
    return s.Done(std::move(v.value));
  }

  // pPgArray = do { a <- string "{"; b <- many (noneOf "{}"); c <- string "}"; pure (a ++ b ++ c) }
  Reply<std::string> PgArray(std::size_t p) const {
    Seq s(p);
    auto open = Str(s.pos(), "{");
    if (!s.Take(open)) return s.Failed<std::string>();
    auto body = ManyText(s.pos(), [](char32_t c) { return c != '{' && c != '}'; });
    if (!s.Take(body)) return s.Failed<std::string>();
    auto close = Str(s.pos(), "}");
    if (!s.Take(close)) return s.Failed<std::string>();
    return s.Done("{" + std::string(body.value) + "}");
  }

  // pListVal = lexeme (char '(') *> pListElement `sepBy1` char ',' <* lexeme (char ')')
  // pListElement = try (pQuotedValue <* notFollowedBy (noneOf ",)")) <|> (toS <$> many (noneOf ",)"))
  Reply<std::vector<std::string>> ListValue(std::size_t p) const {
    Seq s(p);
    auto open = Lexeme(s.pos(), [this](std::size_t q) { return Char(q, '('); });
    if (!s.Take(open)) return s.Failed<std::vector<std::string>>();
    auto items = SepBy1<std::string>(
        s.pos(),
        [this](std::size_t q) {
          return Or(Try(QuotedElement(q)), [&] {
            return Map(ManyText(q, [](char32_t c) { return c != ',' && c != ')'; }),
                       [](std::string_view v) { return std::string(v); });
          });
        },
        [this](std::size_t q) { return Char(q, ','); });
    if (!s.Take(items)) return s.Failed<std::vector<std::string>>();
    auto close = Lexeme(s.pos(), [this](std::size_t q) { return Char(q, ')'); });
    if (!s.Take(close)) return s.Failed<std::vector<std::string>>();
    return s.Done(std::move(items.value));
  }

  //! ciString: each character matches itself or its upper case.
  Reply<Unit> CiString(std::size_t p, std::string_view word) const {
    Seq s(p);
    for (const char c : word) {
      const char upper = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
      const std::size_t q = s.pos();
      auto r = Or(Char(q, c), [&] { return Char(q, upper); });
      if (!s.Take(r)) return s.Failed<Unit>();
    }
    return s.Done(Unit{});
  }

  // pIsVal = try (ciString "null") <|> ... <?> "isVal: (null, not_null, true, false, unknown)"
  Reply<IsValue> IsVal(std::size_t p) const {
    static constexpr std::array<std::pair<std::string_view, IsValue>, 5> kValues{{
        {"null", IsValue::kNull},
        {"not_null", IsValue::kNotNull},
        {"true", IsValue::kTrue},
        {"false", IsValue::kFalse},
        {"unknown", IsValue::kUnknown},
    }};
    Reply<IsValue> acc = As(Try(CiString(p, kValues[0].first)), kValues[0].second);
    for (std::size_t i = 1; i < kValues.size(); ++i) {
      acc = Or(std::move(acc), [&] { return As(Try(CiString(p, kValues[i].first)), kValues[i].second); });
    }
    return Label(std::move(acc), "isVal: (null, not_null, true, false, unknown)");
  }

  //! try (string kw *> pDelimiter)
  Reply<Unit> KeywordDot(std::size_t p, std::string_view kw) const {
    Seq s(p);
    auto k = Str(s.pos(), kw);
    if (!s.Take(k)) return Try(s.Failed<Unit>());
    auto d = Delimiter(s.pos());
    if (!s.Take(d)) return Try(s.Failed<Unit>());
    return s.Done(Unit{});
  }

  //! `head` (a reply at p) followed by pDelimiter and the value: `pDelimiter *> (Op op <$> pSVal)`.
  Reply<OpExpr> ThenValue(Seq& s, OpExpr expr, ValueKind kind) const {
    auto d = Delimiter(s.pos());
    if (!s.Take(d)) return s.Failed<OpExpr>();
    auto v = SingleValue(s.pos(), kind);
    if (!s.Take(v)) return s.Failed<OpExpr>();
    expr.value = std::move(v.value);
    return s.Done(std::move(expr));
  }

  // pIn = In <$> (try (string "in" *> pDelimiter) *> pListVal)
  Reply<OpExpr> InOp(std::size_t p) const {
    Seq s(p);
    auto k = KeywordDot(s.pos(), "in");
    if (!s.Take(k)) return s.Failed<OpExpr>();
    auto list = ListValue(s.pos());
    if (!s.Take(list)) return s.Failed<OpExpr>();
    OpExpr e;
    e.op = FilterOperator::kIn;
    e.list = std::move(list.value);
    return s.Done(std::move(e));
  }

  // pIs = Is <$> (try (string "is" *> pDelimiter) *> pIsVal)
  Reply<OpExpr> IsOp(std::size_t p) const {
    Seq s(p);
    auto k = KeywordDot(s.pos(), "is");
    if (!s.Take(k)) return s.Failed<OpExpr>();
    auto v = IsVal(s.pos());
    if (!s.Take(v)) return s.Failed<OpExpr>();
    OpExpr e;
    e.op = FilterOperator::kIs;
    e.is_value = v.value;
    return s.Done(std::move(e));
  }

  // pIsDist = IsDistinctFrom <$> (try (string "isdistinct" *> pDelimiter) *> pSVal)
  Reply<OpExpr> IsDistinctOp(std::size_t p, ValueKind kind) const {
    Seq s(p);
    auto k = KeywordDot(s.pos(), "isdistinct");
    if (!s.Take(k)) return s.Failed<OpExpr>();
    auto v = SingleValue(s.pos(), kind);
    if (!s.Take(v)) return s.Failed<OpExpr>();
    OpExpr e;
    e.op = FilterOperator::kIsDistinct;
    e.value = std::move(v.value);
    return s.Done(std::move(e));
  }

  // pFts = do op <- try "fts" <|> try "plfts" <|> try "phfts" <|> try "wfts"
  //           lang <- optionMaybe $ try (between (char '(') (char ')') pIdentifier)
  //           pDelimiter >> Fts op lang <$> pSVal
  Reply<OpExpr> FtsOp(std::size_t p, ValueKind kind) const {
    static constexpr std::array<Keyword<FilterOperator>, 4> kFts{{
        {"fts", FilterOperator::kFts},
        {"plfts", FilterOperator::kPlfts},
        {"phfts", FilterOperator::kPhfts},
        {"wfts", FilterOperator::kWfts},
    }};
    Seq s(p);
    auto op = Keywords(s.pos(), kFts);
    if (!s.Take(op)) return s.Failed<OpExpr>();
    const std::size_t q = s.pos();
    auto lang = OptionMaybe(Try([&]() -> Reply<std::string> {
                              Seq t(q);
                              auto open = Char(t.pos(), '(');
                              if (!t.Take(open)) return t.Failed<std::string>();
                              auto ident = Identifier(t.pos());
                              if (!t.Take(ident)) return t.Failed<std::string>();
                              auto close = Char(t.pos(), ')');
                              if (!t.Take(close)) return t.Failed<std::string>();
                              return t.Done(std::move(ident.value));
                            }()),
                            q);
    if (!s.Take(lang)) return s.Failed<OpExpr>();
    OpExpr e;
    e.op = op.value;
    e.language = std::move(lang.value);
    return ThenValue(s, std::move(e), kind);
  }

  // pSimpleOp = do { op <- simpleOperator; pDelimiter *> (Op op <$> pSVal) }
  Reply<OpExpr> SimpleOp(std::size_t p, ValueKind kind) const {
    static constexpr std::array<Keyword<FilterOperator>, 9> kSimple{{
        {"neq", FilterOperator::kNeq},
        {"cs", FilterOperator::kCs},
        {"cd", FilterOperator::kCd},
        {"ov", FilterOperator::kOv},
        {"sl", FilterOperator::kSl},
        {"sr", FilterOperator::kSr},
        {"nxr", FilterOperator::kNxr},
        {"nxl", FilterOperator::kNxl},
        {"adj", FilterOperator::kAdj},
    }};
    Seq s(p);
    auto op = Label(Keywords(s.pos(), kSimple), "unknown single value operator");
    if (!s.Take(op)) return s.Failed<OpExpr>();
    OpExpr e;
    e.op = op.value;
    return ThenValue(s, std::move(e), kind);
  }

  // pQuantOp = do op <- quantOperator
  //               quant <- optionMaybe $ try (between (char '(') (char ')')
  //                          (try (string "any" $> QuantAny) <|> string "all" $> QuantAll))
  //               pDelimiter *> (OpQuant op quant <$> pSVal)
  Reply<OpExpr> QuantOp(std::size_t p, ValueKind kind) const {
    static constexpr std::array<Keyword<FilterOperator>, 9> kQuant{{
        {"eq", FilterOperator::kEq},
        {"gte", FilterOperator::kGte},
        {"gt", FilterOperator::kGt},
        {"lte", FilterOperator::kLte},
        {"lt", FilterOperator::kLt},
        {"like", FilterOperator::kLike},
        {"ilike", FilterOperator::kIlike},
        {"match", FilterOperator::kMatch},
        {"imatch", FilterOperator::kImatch},
    }};
    Seq s(p);
    auto op = Label(Keywords(s.pos(), kQuant), "unknown single value operator");
    if (!s.Take(op)) return s.Failed<OpExpr>();
    const std::size_t q = s.pos();
    auto quant = OptionMaybe(Try([&]() -> Reply<Quantifier> {
                               Seq t(q);
                               auto open = Char(t.pos(), '(');
                               if (!t.Take(open)) return t.Failed<Quantifier>();
                               const std::size_t r = t.pos();
                               auto which = Or(As(Try(Str(r, "any")), Quantifier::kAny),
                                               [&] { return As(Str(r, "all"), Quantifier::kAll); });
                               if (!t.Take(which)) return t.Failed<Quantifier>();
                               auto close = Char(t.pos(), ')');
                               if (!t.Take(close)) return t.Failed<Quantifier>();
                               return t.Done(which.value);
                             }()),
                             q);
    if (!s.Take(quant)) return s.Failed<OpExpr>();
    OpExpr e;
    e.op = op.value;
    e.quantifier = quant.value;
    return ThenValue(s, std::move(e), kind);
  }

  // pOpExpr pSVal = do
  //   boolExpr <- try (string "not" *> pDelimiter $> True) <|> pure False
  //   OpExpr boolExpr <$> pOperation
  // pOperation = pIn <|> pIs <|> pIsDist <|> try pFts <|> try pSimpleOp <|> try pQuantOp
  //              <?> "operator (eq, gt, ...)"
  Reply<OpExpr> OpExprRule(std::size_t p, ValueKind kind) const {
    Seq s(p);
    auto negated = Or(As(KeywordDot(p, "not"), true), [&] { return Ok(false, p, false, UnknownAt(p)); });
    if (!s.Take(negated)) return s.Failed<OpExpr>();
    const std::size_t q = s.pos();
    auto op = Label(Or(InOp(q),
                       [&] {
                         return Or(IsOp(q), [&] {
                           return Or(IsDistinctOp(q, kind), [&] {
                             return Or(Try(FtsOp(q, kind)), [&] {
                               return Or(Try(SimpleOp(q, kind)), [&] { return Try(QuantOp(q, kind)); });
                             });
                           });
                         });
                       }),
                    "operator (eq, gt, ...)");
    if (!s.Take(op)) return s.Failed<OpExpr>();
    op.value.negated = negated.value;
    if (op.value.op == FilterOperator::kLike || op.value.op == FilterOperator::kIlike) {
      op.value.value = LikeStarsToPercent(std::move(op.value.value));
    }
    return s.Done(std::move(op.value));
  }

  // ---------------------------------------------------------------------------------------- or= / and=

  // pLogicTree = Stmnt <$> try pLogicFilter
  //              <|> Expr <$> pNot <*> pLogicOp <*> (lexeme (char '(') *> pLogicTree `sepBy1` lexeme (char ',')
  //                                                   <* lexeme (char ')'))
  Reply<LogicTree> LogicTreeRule(std::size_t p, int depth) const {
    return Or(Map(Try(LogicFilter(p)),
                  [](Filter f) {
                    LogicTree t;
                    t.kind = LogicTree::Kind::kFilter;
                    t.filter = std::move(f);
                    return t;
                  }),
              [&] { return LogicExpr(p, depth); });
  }

  // pLogicFilter = Filter <$> pField <* pDelimiter <*> pOpExpr pLogicSingleVal
  Reply<Filter> LogicFilter(std::size_t p) const {
    Seq s(p);
    auto field = FieldRule(s.pos());
    if (!s.Take(field)) return s.Failed<Filter>();
    auto d = Delimiter(s.pos());
    if (!s.Take(d)) return s.Failed<Filter>();
    auto expr = OpExprRule(s.pos(), ValueKind::kLogic);
    if (!s.Take(expr)) return s.Failed<Filter>();
    return s.Done(Filter{std::move(field.value), std::move(expr.value)});
  }

  Reply<LogicTree> LogicExpr(std::size_t p, int depth) const {
    Seq s(p);
    // pNot = try (string "not" *> pDelimiter $> True) <|> pure False <?> "negation operator (not)"
    auto negated = Label(Or(As(KeywordDot(p, "not"), true), [&] { return Ok(false, p, false, UnknownAt(p)); }),
                         "negation operator (not)");
    if (!s.Take(negated)) return s.Failed<LogicTree>();
    // pLogicOp = try (string "and" $> And) <|> string "or" $> Or <?> "logic operator (and, or)"
    const std::size_t q = s.pos();
    auto op =
        Label(Or(As(Try(Str(q, "and")), LogicOperator::kAnd), [&] { return As(Str(q, "or"), LogicOperator::kOr); }),
              "logic operator (and, or)");
    if (!s.Take(op)) return s.Failed<LogicTree>();
    auto open = Lexeme(s.pos(), [this](std::size_t r) { return Char(r, '('); });
    if (!s.Take(open)) return s.Failed<LogicTree>();
    if (depth >= kMaxNesting) {
      auto deep = Input::FailWith(s.pos(), kTooDeep);
      s.Take(deep);
      return s.Failed<LogicTree>();
    }
    auto children = SepBy1<LogicTree>(
        s.pos(), [&](std::size_t r) { return LogicTreeRule(r, depth + 1); },
        [this](std::size_t r) { return Lexeme(r, [this](std::size_t t) { return Char(t, ','); }); });
    if (!s.Take(children)) return s.Failed<LogicTree>();
    auto close = Lexeme(s.pos(), [this](std::size_t r) { return Char(r, ')'); });
    if (!s.Take(close)) return s.Failed<LogicTree>();
    LogicTree tree;
    tree.kind = LogicTree::Kind::kExpr;
    tree.negated = negated.value;
    tree.op = op.value;
    tree.children = std::move(children.value);
    return s.Done(std::move(tree));
  }

  // ---------------------------------------------------------------------------------------- order=

  // pOrdDir = try (pDelimiter *> string "asc" $> OrderAsc) <|> try (pDelimiter *> string "desc" $> OrderDesc)
  template <class V>
  Reply<V> DotKeyword(std::size_t p, std::string_view kw, V v) const {
    Seq s(p);
    auto d = Delimiter(s.pos());
    if (!s.Take(d)) return Try(s.Failed<V>());
    auto k = Str(s.pos(), kw);
    if (!s.Take(k)) return Try(s.Failed<V>());
    return s.Done(v);
  }

  Reply<OrderDirection> OrderDir(std::size_t p) const {
    return Or(DotKeyword(p, "asc", OrderDirection::kAsc), [&] { return DotKeyword(p, "desc", OrderDirection::kDesc); });
  }

  Reply<OrderNulls> Nulls(std::size_t p) const {
    return Or(DotKeyword(p, "nullsfirst", OrderNulls::kFirst),
              [&] { return DotKeyword(p, "nullslast", OrderNulls::kLast); });
  }

  // pEnd = try (void $ lookAhead (char ',')) <|> try eof
  Reply<Unit> OrderEnd(std::size_t p) const {
    return Or(As(Try(LookAhead(Char(p, ','), p)), Unit{}), [&] { return Try(in_.Eof(p)); });
  }

  // nls <- optionMaybe pNulls <* pEnd <|> pEnd $> Nothing
  Reply<std::optional<OrderNulls>> NullsThenEnd(std::size_t p) const {
    auto with_nulls = [&]() -> Reply<std::optional<OrderNulls>> {
      Seq s(p);
      auto n = OptionMaybe(Nulls(s.pos()), s.pos());
      if (!s.Take(n)) return s.Failed<std::optional<OrderNulls>>();
      auto e = OrderEnd(s.pos());
      if (!s.Take(e)) return s.Failed<std::optional<OrderNulls>>();
      return s.Done(n.value);
    };
    return Or(with_nulls(), [&] { return As(OrderEnd(p), std::optional<OrderNulls>{}); });
  }

  // pOrderTerm = do { fld <- pField; dir <- optionMaybe pOrdDir; nls <- ...; return (OrderTerm fld dir nls) }
  Reply<OrderTerm> OrderTermRule(std::size_t p) const {
    Seq s(p);
    auto field = FieldRule(s.pos());
    if (!s.Take(field)) return s.Failed<OrderTerm>();
    return OrderTail(s, std::nullopt, std::move(field.value));
  }

  Reply<OrderTerm> OrderTail(Seq& s, std::optional<std::string> relation, Field field) const {
    auto dir = OptionMaybe(OrderDir(s.pos()), s.pos());
    if (!s.Take(dir)) return s.Failed<OrderTerm>();
    auto nulls = NullsThenEnd(s.pos());
    if (!s.Take(nulls)) return s.Failed<OrderTerm>();
    return s.Done(OrderTerm{std::move(relation), std::move(field), dir.value, nulls.value});
  }

  // pOrderRelationTerm = do { nam <- pFieldName; fld <- between (char '(') (char ')') pField; dir; nls }
  Reply<OrderTerm> OrderRelationTerm(std::size_t p) const {
    Seq s(p);
    auto name = FieldName(s.pos());
    if (!s.Take(name)) return s.Failed<OrderTerm>();
    auto open = Char(s.pos(), '(');
    if (!s.Take(open)) return s.Failed<OrderTerm>();
    auto field = FieldRule(s.pos());
    if (!s.Take(field)) return s.Failed<OrderTerm>();
    auto close = Char(s.pos(), ')');
    if (!s.Take(close)) return s.Failed<OrderTerm>();
    return OrderTail(s, std::move(name.value), std::move(field.value));
  }

  // pOrder = lexeme (try pOrderRelationTerm <|> pOrderTerm) `sepBy1` char ','
  Reply<std::vector<OrderTerm>> Order(std::size_t p) const {
    return SepBy1<OrderTerm>(
        p,
        [this](std::size_t q) {
          return Lexeme(
              q, [this](std::size_t r) { return Or(Try(OrderRelationTerm(r)), [&] { return OrderTermRule(r); }); });
        },
        [this](std::size_t q) { return Char(q, ','); });
  }

  // ---------------------------------------------------------------------------------------- keys, columns

  // pFieldName `sepBy1` pDelimiter
  Reply<std::vector<std::string>> DottedNames(std::size_t p) const {
    return SepBy1<std::string>(
        p, [this](std::size_t q) { return FieldName(q); }, [this](std::size_t q) { return Delimiter(q); });
  }

  // pColumns = pFieldName `sepBy1` lexeme (char ',')
  Reply<std::vector<std::string>> Columns(std::size_t p) const {
    return SepBy1<std::string>(
        p, [this](std::size_t q) { return FieldName(q); },
        [this](std::size_t q) { return Lexeme(q, [this](std::size_t r) { return Char(r, ','); }); });
  }

 private:
  Input in_;
  int select_depth_;
  std::string select_too_deep_;  // FailWith keeps a view of it until the error is rendered
};

//! Runs a rule on the whole value; a failure becomes PostgREST's QPError.
template <class T, class Rule>
ApiResult<T> Run(std::string_view text, std::string_view source_name, Rule&& rule, int select_depth = kMaxNesting) {
  {
    const Grammar g(text, select_depth);
    Reply<T> r = rule(g);
    if (r.ok) return std::move(r.value);
  }
  // It failed: the same parse again, recording Parsec's messages this time, for PostgREST's error text.
  const parsec::ErrorTracking tracking;
  const Grammar g(text, select_depth);
  const Reply<T> r = rule(g);
  parsec::RenderedError e = parsec::Render(text, source_name, r.err);
  return QueryParamError(std::move(e.message), std::move(e.details));
}

std::string Name(std::string_view what, std::string_view text) {
  return "failed to parse " + std::string(what) + " (" + std::string(text) + ")";
}

}  // namespace

std::string LikeStarsToPercent(std::string value) {
  for (char& c : value) {
    if (c == '*') c = '%';
  }
  return value;
}

ApiResult<std::vector<SelectItem>> ParseSelect(std::string_view value, int max_depth) {
  if (max_depth <= 0 || max_depth > kMaxNesting) max_depth = kMaxNesting;
  return Run<std::vector<SelectItem>>(
      value, Name("select parameter", value), [](const Grammar& g) { return g.FieldForest(0, 0); }, max_depth);
}

ApiResult<std::vector<std::string>> ParseColumns(std::string_view value, std::string_view param) {
  return Run<std::vector<std::string>>(value, Name(std::string(param) + " parameter", value),
                                       [](const Grammar& g) { return g.Columns(0); });
}

ApiResult<std::pair<EmbedPath, Field>> ParseTreePath(std::string_view key) {
  // pTreePath = do { p <- pFieldName `sepBy1` pDelimiter; jp <- P.option [] pJsonPath; return (init p, (last p, jp)) }
  return Run<std::pair<EmbedPath, Field>>(key, Name("tree path", key), [](const Grammar& g) {
    Seq s(0);
    auto names = g.DottedNames(s.pos());
    if (!s.Take(names)) return s.Failed<std::pair<EmbedPath, Field>>();
    auto path = Option(g.JsonPathRule(s.pos()), s.pos(), JsonPath{});
    if (!s.Take(path)) return s.Failed<std::pair<EmbedPath, Field>>();
    std::vector<std::string> parts = std::move(names.value);
    Field field{std::move(parts.back()), std::move(path.value)};
    parts.pop_back();
    return s.Done(std::pair<EmbedPath, Field>(std::move(parts), std::move(field)));
  });
}

ApiResult<std::optional<OpExpr>> ParseFilterValue(std::string_view value, bool rpc_read) {
  // parseFlt = if isRpcRead then pOpExpr pSingleVal <|> pure (NoOpExpr v) else pOpExpr pSingleVal
  return Run<std::optional<OpExpr>>(value, Name("filter", value), [rpc_read](const Grammar& g) {
    auto r = OptionMaybe(g.OpExprRule(0, ValueKind::kSingle), 0);
    if (!rpc_read && r.ok && !r.value) return Fail<std::optional<OpExpr>>(false, std::move(r.err));
    return r;
  });
}

ApiResult<std::vector<OrderTerm>> ParseOrder(std::string_view value) {
  return Run<std::vector<OrderTerm>>(value, Name("order", value), [](const Grammar& g) { return g.Order(0); });
}

ApiResult<std::pair<EmbedPath, std::string>> ParseLogicPath(std::string_view key) {
  // pLogicPath: the last name is the operator; "not" anywhere before it negates, and is dropped from the path
  return Run<std::pair<EmbedPath, std::string>>(key, Name("logic path", key), [](const Grammar& g) {
    auto names = g.DottedNames(0);
    return Map(std::move(names), [](std::vector<std::string> parts) {
      std::string op = parts.back();
      parts.pop_back();
      bool negated = false;
      EmbedPath path;
      for (std::string& part : parts) {
        if (part == "not") {
          negated = true;
        } else {
          path.push_back(std::move(part));
        }
      }
      if (op == "not") negated = true;
      return std::pair<EmbedPath, std::string>(std::move(path), negated ? "not." + op : op);
    });
  });
}

ApiResult<LogicTree> ParseLogicTree(std::string_view op, std::string_view value) {
  // The operator is prefixed to the value ("or" <> "(a.eq.1)"), so columns count from the operator.
  const std::string text = std::string(op) + std::string(value);
  return Run<LogicTree>(text, Name("logic tree", value), [](const Grammar& g) { return g.LogicTreeRule(0, 0); });
}

}  // namespace pgwarden::dataapi::grammar
