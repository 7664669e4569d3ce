//! Internal: the semantics of Haskell's parsec 3.1 (Text.Parsec.Prim/Combinator/Char/Error), which PostgREST's
//! query-string grammar is written in. Re-creating them (instead of writing an ad-hoc parser) keeps three
//! things identical to PostgREST: what is accepted (Parsec stops at the first unparsed character without
//! requiring the end of input, and only backtracks where the grammar says `try`), the error position, and the
//! error text ("unexpected \"x\" expecting ...", built from the messages merged at the furthest position).
//!
//! A parser is a function `Reply<T>(std::size_t pos)` over one UTF-8 input (positions are byte offsets at code
//! point boundaries; Parsec counts code points, which only matters when rendering the column). A reply is
//! consumed-ok, empty-ok, consumed-error or empty-error, and carries the error that alternatives merge.
//! Messages point into static text or name a character of the input by position; they are only recorded when
//! an error is to be rendered (see t_track_errors).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataapi/request/unicode.hpp"

namespace pgwarden::dataapi::parsec {

//! Parsec's Message constructors, in their sort order.
enum class MsgKind : std::uint8_t { kSysUnExpect, kUnExpect, kExpect, kMessage };
//! How the message text is produced: static text as is, Haskell's `show` of static text (the label of `char`
//! and `string`), or `show [c]` / `show c` of the input character at `at`. A SysUnExpect with kText and empty
//! text means "end of input".
enum class MsgForm : std::uint8_t { kText, kShowLiteral, kShowString, kShowChar };

//! One-character views of the ASCII characters, for the labels of `char c`.
inline constexpr auto kAsciiChars = [] {
  std::array<char, 128> a{};
  for (int i = 0; i < 128; ++i) a[i] = static_cast<char>(i);
  return a;
}();
inline std::string_view AsciiChar(char c) { return {kAsciiChars.data() + (static_cast<unsigned char>(c) & 0x7F), 1}; }

struct Message {
  MsgKind kind;
  MsgForm form;
  std::uint32_t at;
  std::string_view text;
};

//! Parsec's ParseError: a position and the messages merged there (no messages = an "unknown" error).
//! Errors are 16-byte handles into an append-only node arena of the current parse (see ErrorTracking):
//! merging two errors adds a concatenation node, a label adds a relabel node, and the message list is only
//! flattened when an error is rendered. Without tracking an error is just a position.
struct Error {
  std::size_t pos = 0;
  std::int32_t node = -1;

  bool Unknown() const { return node < 0; }
};

//! A node: one message, the concatenation of two lists, or Parsec's setExpectErrors (the label, then the
//! child's messages without its Expect ones).
struct Node {
  enum class Kind : std::uint8_t { kLeaf, kConcat, kRelabel };
  Kind kind;
  Message msg;  //!< kLeaf, kRelabel (the label)
  std::int32_t left = -1;
  std::int32_t right = -1;
};

//! Whether errors record their messages. What a parse accepts and the values it builds never depend on the
//! messages (only on consumed/ok), so parses run without them and a failed parse is run again inside an
//! ErrorTracking scope to render its error: the success path builds no error at all.
inline constinit thread_local bool t_track_errors = false;

//! Turns message recording on for the parse running on this thread, in a fresh node arena (parsing never
//! suspends, so one arena per thread is enough; its capacity is reused).
class ErrorTracking {
 public:
  ErrorTracking();
  ~ErrorTracking();
  ErrorTracking(const ErrorTracking&) = delete;
  ErrorTracking& operator=(const ErrorTracking&) = delete;

 private:
  bool outer_;
};

std::int32_t NewNode(const Node& n);
const Node& NodeAt(std::int32_t i);

inline Error UnknownAt(std::size_t pos) { return Error{pos, -1}; }

inline Error ErrorAt(std::size_t pos, const Message& m) {
  if (!t_track_errors) return Error{pos, -1};
  return Error{pos, NewNode(Node{Node::Kind::kLeaf, m})};
}

inline Error ErrorAt(std::size_t pos, const Message& a, const Message& b) {
  if (!t_track_errors) return Error{pos, -1};
  const std::int32_t l = NewNode(Node{Node::Kind::kLeaf, a});
  const std::int32_t r = NewNode(Node{Node::Kind::kLeaf, b});
  return Error{pos, NewNode(Node{Node::Kind::kConcat, Message{}, l, r})};
}

//! mergeError: prefer known errors, then the furthest position; equal positions concatenate.
inline Error Merge(Error a, Error b) {
  if (!t_track_errors) return a.pos >= b.pos ? a : b;
  if (b.Unknown() && !a.Unknown()) return a;
  if (a.Unknown() && !b.Unknown()) return b;
  if (a.pos > b.pos) return a;
  if (b.pos > a.pos) return b;
  if (a.Unknown()) return a;
  return Error{a.pos, NewNode(Node{Node::Kind::kConcat, Message{}, a.node, b.node})};
}

//! setExpectErrors err [label]: every Expect message is replaced by `label` (put first).
inline void SetExpect(Error& e, MsgForm form, std::string_view label) {
  if (!t_track_errors) return;
  e.node = NewNode(Node{Node::Kind::kRelabel, Message{MsgKind::kExpect, form, 0, label}, e.node});
}

//! The messages of an error in Parsec's order.
std::vector<Message> Messages(const Error& e);

struct Unit {};

template <class T>
struct Reply {
  bool ok = false;
  bool consumed = false;
  std::size_t pos = 0;  //!< where the next parser starts (ok replies)
  Error err;            //!< the error (failed replies) or the hint error alternatives merge with (ok replies)
  T value{};
};

template <class T>
Reply<T> Ok(T value, std::size_t pos, bool consumed, Error err) {
  return Reply<T>{true, consumed, pos, std::move(err), std::move(value)};
}

template <class T>
Reply<T> Fail(bool consumed, Error err) {
  return Reply<T>{false, consumed, err.pos, std::move(err), T{}};
}

//! Re-types a failed reply (the value is dropped).
template <class T, class U>
Reply<T> Forward(Reply<U>&& r) {
  return Reply<T>{false, r.consumed, r.pos, std::move(r.err), T{}};
}

//! try p: a consumed error becomes an empty one (the position stays where it failed).
template <class T>
Reply<T> Try(Reply<T> r) {
  if (!r.ok) r.consumed = false;
  return r;
}

//! p <?> label: applies only when p did not consume.
template <class T>
Reply<T> Label(Reply<T> r, std::string_view label, MsgForm form = MsgForm::kText) {
  if (!r.consumed && (!r.ok || !r.err.Unknown())) SetExpect(r.err, form, label);
  return r;
}

//! lookAhead p: on success nothing is consumed and no error is kept.
template <class T>
Reply<T> LookAhead(Reply<T> r, std::size_t start) {
  if (r.ok) return Ok(std::move(r.value), start, false, UnknownAt(start));
  return r;
}

//! p <|> q, where `first` is p's reply and `second()` runs q at the same position.
template <class T, class Q>
Reply<T> Or(Reply<T> first, Q&& second) {
  if (first.ok || first.consumed) return first;
  Reply<T> r = second();
  if (!r.consumed) r.err = Merge(std::move(first.err), std::move(r.err));
  return r;
}

//! A do-block: feeds the replies of the parsers run one after the other through Parsec's bind (>>=).
class Seq {
 public:
  explicit Seq(std::size_t pos) : pos_(pos), err_(UnknownAt(pos)) {}

  std::size_t pos() const { return pos_; }
  bool consumed() const { return consumed_; }

  //! Takes the reply of a parser run at pos(); false when the block fails (then return Failed()).
  template <class T>
  bool Take(Reply<T>& r) {
    if (r.consumed) {
      consumed_ = true;
      err_ = std::move(r.err);
    } else {
      err_ = Merge(std::move(err_), std::move(r.err));
    }
    if (!r.ok) return false;
    pos_ = r.pos;
    return true;
  }

  //! mzero / guard False at the current position.
  template <class T>
  Reply<T> Zero() {
    Reply<Unit> r = Fail<Unit>(false, UnknownAt(pos_));
    Take(r);
    return Failed<T>();
  }

  template <class T>
  Reply<T> Done(T value) {
    return Reply<T>{true, consumed_, pos_, std::move(err_), std::move(value)};
  }

  template <class T>
  Reply<T> Failed() {
    return Reply<T>{false, consumed_, err_.pos, std::move(err_), T{}};
  }

 private:
  std::size_t pos_;
  bool consumed_ = false;
  Error err_;
};

//! many p, handing each value to `sink`. p must consume when it succeeds (Parsec raises an error otherwise;
//! here the loop just stops, which no rule of the grammar relies on).
template <class P, class Sink>
Reply<Unit> Many(std::size_t pos, P&& p, Sink&& sink) {
  bool any = false;
  std::size_t cur = pos;
  while (true) {
    auto r = p(cur);
    if (!r.ok) {
      if (r.consumed) return Fail<Unit>(true, std::move(r.err));
      return Ok(Unit{}, cur, any, std::move(r.err));
    }
    if (!r.consumed) return Ok(Unit{}, cur, any, std::move(r.err));
    sink(std::move(r.value));
    any = true;
    cur = r.pos;
  }
}

//! The input and the character-level primitives (Text.Parsec.Char).
class Input {
 public:
  explicit Input(std::string_view text) : text_(text) {}

  std::string_view text() const { return text_; }
  bool AtEnd(std::size_t pos) const { return pos >= text_.size(); }
  std::string_view Slice(std::size_t from, std::size_t to) const { return text_.substr(from, to - from); }

  //! satisfy pred (no label): SysUnExpect of the character, or of the end of input.
  template <class Pred>
  Reply<char32_t> Satisfy(std::size_t pos, Pred&& pred) const {
    if (AtEnd(pos)) return Fail<char32_t>(false, SysUnexpected(pos));
    const DecodedChar d = DecodeUtf8At(text_, pos);
    if (!pred(d.cp)) return Fail<char32_t>(false, SysUnexpected(pos));
    return Ok(d.cp, pos + d.len, true, UnknownAt(pos + d.len));
  }

  //! char c = satisfy (== c) <?> show [c] (an ASCII c).
  Reply<char32_t> Char(std::size_t pos, char c) const {
    return Label(Satisfy(pos, [c](char32_t x) { return x == static_cast<unsigned char>(c); }), AsciiChar(c),
                 MsgForm::kShowLiteral);
  }

  //! string s (Parsec's `tokens`, labelled show s): fails where it started, consuming if a prefix matched; the
  //! unexpected character is the first mismatching one. `s` must be static text (messages point into it).
  Reply<Unit> String(std::size_t pos, std::string_view s) const {
    std::size_t i = pos;
    for (std::size_t k = 0; k < s.size(); ++k, ++i) {
      if (AtEnd(i) || text_[i] != s[k]) {
        const Message expect{MsgKind::kExpect, MsgForm::kShowLiteral, 0, s};
        const Message unexpected =
            AtEnd(i) ? Message{MsgKind::kSysUnExpect, MsgForm::kText, 0, {}}
                     : Message{MsgKind::kSysUnExpect, MsgForm::kShowString, static_cast<std::uint32_t>(i), {}};
        return Fail<Unit>(k > 0, ErrorAt(pos, expect, unexpected));
      }
    }
    return Ok(Unit{}, i, !s.empty(), UnknownAt(i));
  }

  //! eof = notFollowedBy anyToken <?> "end of input".
  Reply<Unit> Eof(std::size_t pos) const {
    const Message expect{MsgKind::kExpect, MsgForm::kText, 0, "end of input"};
    if (AtEnd(pos)) {
      return Ok(Unit{}, pos, false, ErrorAt(pos, expect, Message{MsgKind::kSysUnExpect, MsgForm::kText, 0, {}}));
    }
    return Fail<Unit>(
        false,
        ErrorAt(pos, expect, Message{MsgKind::kUnExpect, MsgForm::kShowChar, static_cast<std::uint32_t>(pos), {}}));
  }

  //! notFollowedBy p for a one-character parser p: fails after the character p accepted.
  template <class P>
  Reply<Unit> NotFollowedBy(std::size_t pos, P&& p) const {
    auto r = Try(p(pos));
    if (r.ok) {
      return Fail<Unit>(
          false, ErrorAt(r.pos, Message{MsgKind::kUnExpect, MsgForm::kShowChar, static_cast<std::uint32_t>(pos), {}}));
    }
    return Ok(Unit{}, pos, false, Merge(std::move(r.err), UnknownAt(pos)));
  }

  //! parserFail msg (a Message at pos, not consuming).
  static Reply<Unit> FailWith(std::size_t pos, std::string_view msg) {
    return Fail<Unit>(false, ErrorAt(pos, Message{MsgKind::kMessage, MsgForm::kText, 0, msg}));
  }

 private:
  Error SysUnexpected(std::size_t pos) const {
    if (AtEnd(pos)) return ErrorAt(pos, Message{MsgKind::kSysUnExpect, MsgForm::kText, 0, {}});
    return ErrorAt(pos, Message{MsgKind::kSysUnExpect, MsgForm::kShowString, static_cast<std::uint32_t>(pos), {}});
  }

  std::string_view text_;
};

//! PostgREST's QPError text for a failed parse: message = show (errorPos e) with the source name, details =
//! showErrorMessages "or" "unknown parse error" "expecting" "unexpected" "end of input" on one line.
struct RenderedError {
  std::string message;
  std::string details;
};
RenderedError Render(std::string_view input, std::string_view source_name, const Error& e);

//! Haskell's `show` for a String / a Char (quotes, backslash escapes, non-ASCII as decimal \NNNN).
std::string ShowString(std::string_view utf8);
std::string ShowChar(char32_t c);

}  // namespace pgwarden::dataapi::parsec
