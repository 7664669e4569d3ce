#include "dataapi/request/parsec.hpp"

#include <algorithm>
#include <vector>

namespace pgwarden::dataapi::parsec {
namespace {

constexpr std::string_view kAsciiNames[] = {"NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS",  "HT",  "LF",
                                            "VT",  "FF",  "CR",  "SO",  "SI",  "DLE", "DC1", "DC2", "DC3", "DC4", "NAK",
                                            "SYN", "ETB", "CAN", "EM",  "SUB", "ESC", "FS",  "GS",  "RS",  "US",  "SP"};

//! showLitChar, plus the `\&` that protects a numeric escape from a following digit (and "\SO" from 'H').
void AppendLitChar(std::string& out, char32_t c, char32_t next, bool has_next) {
  if (c > 0x7F) {
    out += '\\';
    out += std::to_string(static_cast<std::uint32_t>(c));
    if (has_next && next >= '0' && next <= '9') out += "\\&";
    return;
  }
  switch (c) {
    case 0x7F:
      out += "\\DEL";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\a':
      out += "\\a";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\v':
      out += "\\v";
      return;
    default:
      break;
  }
  if (c >= ' ') {
    out += static_cast<char>(c);
    return;
  }
  out += '\\';
  out += kAsciiNames[c];
  if (c == 0x0E && has_next && next == 'H') out += "\\&";
}

std::string MessageText(std::string_view input, const Message& m) {
  switch (m.form) {
    case MsgForm::kText:
      return std::string(m.text);
    case MsgForm::kShowLiteral:
      return ShowString(m.text);
    case MsgForm::kShowString: {
      const DecodedChar d = DecodeUtf8At(input, m.at);
      std::string one;
      AppendUtf8(one, d.cp);
      return ShowString(one);
    }
    case MsgForm::kShowChar:
      return ShowChar(DecodeUtf8At(input, m.at).cp);
  }
  return {};
}

//! clean = nub . filter (not . null)
std::vector<std::string> Clean(std::vector<std::string> items) {
  std::vector<std::string> out;
  for (auto& s : items) {
    if (s.empty() || std::find(out.begin(), out.end(), s) != out.end()) continue;
    out.push_back(std::move(s));
  }
  return out;
}

std::string CommasOr(const std::vector<std::string>& ms) {
  if (ms.empty()) return {};
  if (ms.size() == 1) return ms[0];
  std::string out;
  for (std::size_t i = 0; i + 1 < ms.size(); ++i) {
    if (i) out += ", ";
    out += ms[i];
  }
  return out + " or " + ms.back();
}

std::string ShowMany(std::string_view pre, std::vector<std::string> msgs) {
  const std::vector<std::string> ms = Clean(std::move(msgs));
  if (ms.empty()) return {};
  if (pre.empty()) return CommasOr(ms);
  return std::string(pre) + " " + CommasOr(ms);
}

std::string ShowErrorMessages(std::string_view input, const Error& e) {
  std::vector<Message> msgs = Messages(e);
  if (msgs.empty()) return "unknown parse error";
  // errorMessages sorts by constructor only (a stable sort), and Message equality ignores the text.
  std::stable_sort(msgs.begin(), msgs.end(), [](const Message& a, const Message& b) { return a.kind < b.kind; });
  std::vector<std::string> sys, unexpected, expect, other;
  for (const Message& m : msgs) {
    std::string text = MessageText(input, m);
    switch (m.kind) {
      case MsgKind::kSysUnExpect:
        sys.push_back(std::move(text));
        break;
      case MsgKind::kUnExpect:
        unexpected.push_back(std::move(text));
        break;
      case MsgKind::kExpect:
        expect.push_back(std::move(text));
        break;
      case MsgKind::kMessage:
        other.push_back(std::move(text));
        break;
    }
  }
  std::string show_sys;
  if (unexpected.empty() && !sys.empty()) {
    show_sys = sys.front().empty() ? "unexpected end of input" : "unexpected " + sys.front();
  }
  const std::vector<std::string> parts =
      Clean({show_sys, ShowMany("unexpected", unexpected), ShowMany("expecting", expect), ShowMany("", other)});
  std::string out;
  for (const std::string& p : parts) out += "\n" + p;
  return out;
}

thread_local std::vector<Node> t_nodes;

}  // namespace

ErrorTracking::ErrorTracking() : outer_(!t_track_errors) {
  // A nested scope (not used today) keeps the outer parse's nodes.
  if (outer_) {
    t_nodes.clear();
    t_track_errors = true;
  }
}

ErrorTracking::~ErrorTracking() {
  if (outer_) t_track_errors = false;
}

std::int32_t NewNode(const Node& n) {
  t_nodes.push_back(n);
  return static_cast<std::int32_t>(t_nodes.size() - 1);
}

const Node& NodeAt(std::int32_t i) { return t_nodes[static_cast<std::size_t>(i)]; }

std::vector<Message> Messages(const Error& e) {
  // In-order walk with an explicit stack (merges can nest deeply). A relabel emits its label, then its child's
  // messages minus the Expect ones; the filter applies to everything below it.
  struct Item {
    std::int32_t node;
    bool drop_expect;
  };
  std::vector<Message> out;
  std::vector<Item> stack;
  if (!e.Unknown()) stack.push_back(Item{e.node, false});
  while (!stack.empty()) {
    const Item it = stack.back();
    stack.pop_back();
    if (it.node < 0) continue;
    const Node& n = NodeAt(it.node);
    switch (n.kind) {
      case Node::Kind::kLeaf:
        if (!(it.drop_expect && n.msg.kind == MsgKind::kExpect)) out.push_back(n.msg);
        break;
      case Node::Kind::kConcat:
        stack.push_back(Item{n.right, it.drop_expect});
        stack.push_back(Item{n.left, it.drop_expect});
        break;
      case Node::Kind::kRelabel:
        if (!it.drop_expect) out.push_back(n.msg);
        stack.push_back(Item{n.left, true});
        break;
    }
  }
  return out;
}

std::string ShowString(std::string_view utf8) {
  std::string out = "\"";
  std::size_t i = 0;
  while (i < utf8.size()) {
    const DecodedChar d = DecodeUtf8At(utf8, i);
    i += d.len;
    const bool has_next = i < utf8.size();
    const char32_t next = has_next ? DecodeUtf8At(utf8, i).cp : 0;
    if (d.cp == '"') {
      out += "\\\"";
    } else {
      AppendLitChar(out, d.cp, next, has_next);
    }
  }
  return out + "\"";
}

std::string ShowChar(char32_t c) {
  if (c == '\'') return "'\\''";
  std::string out = "'";
  AppendLitChar(out, c, 0, false);
  return out + "'";
}

RenderedError Render(std::string_view input, std::string_view source_name, const Error& e) {
  // Parsec's SourcePos: lines and columns count characters from 1; a tab moves to the next multiple of 8 + 1.
  std::size_t line = 1;
  std::size_t column = 1;
  std::size_t i = 0;
  while (i < e.pos && i < input.size()) {
    const DecodedChar d = DecodeUtf8At(input, i);
    i += d.len;
    if (d.cp == '\n') {
      ++line;
      column = 1;
    } else if (d.cp == '\t') {
      column = column + 8 - ((column - 1) % 8);
    } else {
      ++column;
    }
  }
  RenderedError out;
  out.message =
      "\"" + std::string(source_name) + "\" (line " + std::to_string(line) + ", column " + std::to_string(column) + ")";
  // details = T.strip (T.replace "\n" " " ...)
  std::string details = ShowErrorMessages(input, e);
  std::replace(details.begin(), details.end(), '\n', ' ');
  // (Only ASCII blanks can end up at either end: every message starts and ends with ASCII text.)
  const auto blank = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  std::size_t b = 0;
  std::size_t end = details.size();
  while (b < end && blank(details[b])) ++b;
  while (end > b && blank(details[end - 1])) --end;
  out.details = details.substr(b, end - b);
  return out;
}

}  // namespace pgwarden::dataapi::parsec
