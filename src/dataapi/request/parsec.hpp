//! Internal: the semantics of Haskell's parsec 3.1 (Text.Parsec.Prim/Combinator/Char/Error), which PostgREST's
//! query-string grammar is written in. Re-creating them (instead of writing an ad-hoc parser) keeps three
//! things identical to PostgREST: what is accepted (Parsec stops at the first unparsed character without
//! requiring the end of input, and only backtracks where the grammar says `try`), the error position, and the
//! error text ("unexpected \"x\" expecting ...", built from the messages merged at the furthest position).
//!
//! A parser is a function `Reply<T>(std::size_t pos)` over one UTF-8 input (positions are byte offsets at code
//! point boundaries; Parsec counts code points, which only matters when rendering the column). A reply is
//! consumed-ok, empty-ok, consumed-error or empty-error, and carries the error that alternatives merge.
//! Nothing here allocates on the success path except the values; messages point into static text or name
//! a character of the input by position.
#pragma once

#include "dataapi/request/unicode.hpp"

#include <boost/container/small_vector.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

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

//! Parsec's ParseError: a position and the messages merged there. No messages = "unknown" error.
struct Error {
  std::size_t pos = 0;
  boost::container::small_vector<Message, 6> msgs;

  bool Unknown() const { return msgs.empty(); }
};

inline Error UnknownAt(std::size_t pos) { return Error{pos, {}}; }

//! mergeError: prefer known errors, then the furthest position; equal positions concatenate.
inline Error Merge(Error a, Error b) {
  if (b.Unknown() && !a.Unknown()) return a;
  if (a.Unknown() && !b.Unknown()) return b;
  if (a.pos > b.pos) return a;
  if (b.pos > a.pos) return b;
  a.msgs.insert(a.msgs.end(), b.msgs.begin(), b.msgs.end());
  return a;
}

//! setExpectErrors err [label]: every Expect message is replaced by `label` (put first).
inline void SetExpect(Error& e, MsgForm form, std::string_view label) {
  boost::container::small_vector<Message, 6> out;
  out.push_back(Message{MsgKind::kExpect, form, 0, label});
  for (const Message& m : e.msgs) {
    if (m.kind != MsgKind::kExpect) out.push_back(m);
  }
  e.msgs = std::move(out);
}

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
        Error e{pos, {}};
        e.msgs.push_back(Message{MsgKind::kExpect, MsgForm::kShowLiteral, 0, s});
        if (AtEnd(i)) {
          e.msgs.push_back(Message{MsgKind::kSysUnExpect, MsgForm::kText, 0, {}});
        } else {
          e.msgs.push_back(Message{MsgKind::kSysUnExpect, MsgForm::kShowString, static_cast<std::uint32_t>(i), {}});
        }
        return Fail<Unit>(k > 0, std::move(e));
      }
    }
    return Ok(Unit{}, i, !s.empty(), UnknownAt(i));
  }

  //! eof = notFollowedBy anyToken <?> "end of input".
  Reply<Unit> Eof(std::size_t pos) const {
    Error e{pos, {}};
    e.msgs.push_back(Message{MsgKind::kExpect, MsgForm::kText, 0, "end of input"});
    if (AtEnd(pos)) {
      e.msgs.push_back(Message{MsgKind::kSysUnExpect, MsgForm::kText, 0, {}});
      return Ok(Unit{}, pos, false, std::move(e));
    }
    e.msgs.push_back(Message{MsgKind::kUnExpect, MsgForm::kShowChar, static_cast<std::uint32_t>(pos), {}});
    return Fail<Unit>(false, std::move(e));
  }

  //! notFollowedBy p for a one-character parser p: fails after the character p accepted.
  template <class P>
  Reply<Unit> NotFollowedBy(std::size_t pos, P&& p) const {
    auto r = Try(p(pos));
    if (r.ok) {
      Error e{r.pos, {}};
      e.msgs.push_back(Message{MsgKind::kUnExpect, MsgForm::kShowChar, static_cast<std::uint32_t>(pos), {}});
      return Fail<Unit>(false, std::move(e));
    }
    return Ok(Unit{}, pos, false, Merge(std::move(r.err), UnknownAt(pos)));
  }

  //! parserFail msg (a Message at pos, not consuming).
  static Reply<Unit> FailWith(std::size_t pos, std::string_view msg) {
    Error e{pos, {}};
    e.msgs.push_back(Message{MsgKind::kMessage, MsgForm::kText, 0, msg});
    return Fail<Unit>(false, std::move(e));
  }

 private:
  Error SysUnexpected(std::size_t pos) const {
    Error e{pos, {}};
    if (AtEnd(pos)) {
      e.msgs.push_back(Message{MsgKind::kSysUnExpect, MsgForm::kText, 0, {}});
    } else {
      e.msgs.push_back(Message{MsgKind::kSysUnExpect, MsgForm::kShowString, static_cast<std::uint32_t>(pos), {}});
    }
    return e;
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
