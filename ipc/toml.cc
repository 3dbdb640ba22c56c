// ipc/toml.cc — strict TOML subset reader (see toml.h for what is accepted).
#include "ipc/toml.h"

#include <charconv>
#include <unordered_map>

#include "common/utf8.h"

namespace mx::cfg {
namespace {

bool is_bare_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& source, size_t max_bytes)
      : s_(text), src_(source), max_(max_bytes) {}

  Expected<TomlDoc> run() {
    if (s_.size() > max_) return fail("file larger than " + std::to_string(max_) + " bytes");
    doc_.tables.push_back(TomlTable{"", false, 1, {}});
    while (true) {
      skip_ws_comments_newlines();
      if (eof()) break;
      bool ok = peek() == '[' ? table_header() : key_value();
      if (!ok) return Error{err_};
    }
    return std::move(doc_);
  }

 private:
  bool eof() const { return pos_ >= s_.size(); }
  char peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }

  Error fail(const std::string& msg) { return Error{src_ + ":" + std::to_string(line_) + ": " + msg}; }
  bool set_err(const std::string& msg) {
    err_ = src_ + ":" + std::to_string(line_) + ": " + msg;
    return false;
  }

  void skip_ws() {
    while (!eof() && (peek() == ' ' || peek() == '\t')) ++pos_;
  }
  void skip_comment() {
    if (peek() == '#')
      while (!eof() && peek() != '\n') ++pos_;
  }
  void skip_ws_comments_newlines() {
    while (!eof()) {
      skip_ws();
      skip_comment();
      if (peek() == '\r' && peek(1) == '\n') ++pos_;
      if (peek() == '\n') {
        ++pos_;
        ++line_;
        continue;
      }
      break;
    }
  }
  // After a statement: only whitespace and a comment until the end of the line.
  bool end_of_line() {
    skip_ws();
    skip_comment();
    if (peek() == '\r' && peek(1) == '\n') ++pos_;
    if (eof()) return true;
    if (peek() != '\n') return set_err(std::string("unexpected '") + peek() + "' after value");
    return true;
  }

  bool bare_key(std::string& out) {
    size_t start = pos_;
    while (!eof() && is_bare_key_char(peek())) ++pos_;
    if (pos_ == start) return set_err("expected a key");
    out.assign(s_.substr(start, pos_ - start));
    return true;
  }

  bool table_header() {
    bool array = peek(1) == '[';
    pos_ += array ? 2 : 1;
    skip_ws();
    std::string name;
    if (!bare_key(name)) return false;
    skip_ws();
    if (peek() == '.') return set_err("dotted table names are not supported");
    if (peek() != ']' || (array && peek(1) != ']')) return set_err("expected ']' after table name");
    pos_ += array ? 2 : 1;
    // Looked up, not searched: a snapshot has a [[user]] table per user, and a scan of every
    // earlier table per header made a million users take half an hour.
    auto [it, fresh] = seen_.try_emplace(name, Seen{line_, array ? 0 : line_});
    if (!fresh) {
      const int first = !array ? it->second.first_line : it->second.plain_line;
      if (first) return set_err("table [" + name + "] defined twice (first on line " + std::to_string(first) + ")");
    }
    doc_.tables.push_back(TomlTable{name, array, line_, {}});
    return end_of_line();
  }

  bool key_value() {
    std::string key;
    if (peek() == '"' || peek() == '\'') return set_err("quoted keys are not supported");
    if (!bare_key(key)) return false;
    skip_ws();
    if (peek() == '.') return set_err("dotted keys are not supported");
    if (peek() != '=') return set_err("expected '=' after key '" + key + "'");
    ++pos_;
    skip_ws();
    TomlTable& t = doc_.tables.back();
    if (t.find(key)) return set_err("key '" + key + "' set twice");
    TomlValue v;
    if (!value(v, 0)) return false;
    t.entries.emplace_back(std::move(key), std::move(v));
    return end_of_line();
  }

  bool value(TomlValue& v, int depth) {
    v.line = line_;
    char c = peek();
    if (c == '"') return basic_string(v);
    if (c == '\'') return literal_string(v);
    if (c == '[') return array(v, depth);
    if (c == '{') return set_err("inline tables are not supported");
    if (s_.substr(pos_, 4) == "true" && !is_bare_key_char(peek(4))) {
      pos_ += 4;
      v.kind = TomlValue::Kind::kBool;
      v.b = true;
      return true;
    }
    if (s_.substr(pos_, 5) == "false" && !is_bare_key_char(peek(5))) {
      pos_ += 5;
      v.kind = TomlValue::Kind::kBool;
      return true;
    }
    if (c == '+' || c == '-' || (c >= '0' && c <= '9')) return integer(v);
    if (eof() || c == '\n' || c == '#') return set_err("missing value");
    return set_err(std::string("invalid value starting with '") + c + "'");
  }

  bool integer(TomlValue& v) {
    std::string digits;
    bool neg = false;
    if (peek() == '+' || peek() == '-') {
      neg = peek() == '-';
      ++pos_;
    }
    char prev = '_';
    while (!eof() && (is_bare_key_char(peek()) || peek() == '.' || peek() == ':')) {
      char c = peek();
      if (c == '_') {
        if (prev == '_') return set_err("misplaced '_' in integer");
      } else if (c >= '0' && c <= '9') {
        digits += c;
      } else {
        return set_err("only decimal integers are supported here");
      }
      prev = c;
      ++pos_;
    }
    if (digits.empty() || prev == '_') return set_err("malformed integer");
    if (digits.size() > 1 && digits[0] == '0') return set_err("leading zeros are not allowed");
    uint64_t u = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u);
    if (ec != std::errc{} || u > static_cast<uint64_t>(INT64_MAX)) return set_err("integer out of range");
    v.kind = TomlValue::Kind::kInt;
    v.i = neg ? -static_cast<int64_t>(u) : static_cast<int64_t>(u);
    return true;
  }

  bool basic_string(TomlValue& v) {
    ++pos_;
    if (peek() == '"' && peek(1) == '"') return set_err("multi-line strings are not supported");
    v.kind = TomlValue::Kind::kString;
    while (true) {
      if (eof() || peek() == '\n') return set_err("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return set_err("control character in string");
      if (c != '\\') {
        v.str += c;
        continue;
      }
      char e = peek();
      ++pos_;
      switch (e) {
        case '"': v.str += '"'; break;
        case '\\': v.str += '\\'; break;
        case 'n': v.str += '\n'; break;
        case 't': v.str += '\t'; break;
        case 'r': v.str += '\r'; break;
        case 'u':
        case 'U': {
          size_t n = e == 'u' ? 4 : 8;
          if (pos_ + n > s_.size()) return set_err("short unicode escape");
          uint32_t cp = 0;
          auto [p, ec] = std::from_chars(s_.data() + pos_, s_.data() + pos_ + n, cp, 16);
          if (ec != std::errc{} || p != s_.data() + pos_ + n || cp > 0x10ffff ||
              (cp >= 0xd800 && cp <= 0xdfff) || cp == 0)
            return set_err("invalid unicode escape");
          append_utf8(v.str, cp);
          pos_ += n;
          break;
        }
        default: return set_err(std::string("invalid escape '\\") + e + "'");
      }
    }
  }

  bool literal_string(TomlValue& v) {
    ++pos_;
    if (peek() == '\'' && peek(1) == '\'') return set_err("multi-line strings are not supported");
    v.kind = TomlValue::Kind::kString;
    while (true) {
      if (eof() || peek() == '\n') return set_err("unterminated string");
      char c = s_[pos_++];
      if (c == '\'') return true;
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return set_err("control character in string");
      v.str += c;
    }
  }

  bool array(TomlValue& v, int depth) {
    if (depth >= kTomlMaxDepth) return set_err("arrays nested too deeply");
    ++pos_;
    v.kind = TomlValue::Kind::kArray;
    while (true) {
      skip_ws_comments_newlines();
      if (eof()) return set_err("unterminated array");
      if (peek() == ']') {
        ++pos_;
        return true;
      }
      TomlValue elem;
      if (!value(elem, depth + 1)) return false;
      v.arr.push_back(std::move(elem));
      skip_ws_comments_newlines();
      if (eof()) return set_err("unterminated array");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return true;
      }
      return set_err("expected ',' or ']' in array");
    }
  }

  std::string_view s_;
  const std::string& src_;
  size_t max_;
  size_t pos_ = 0;
  int line_ = 1;
  std::string err_;
  TomlDoc doc_;
  // Table names met so far: the first header's line, and the first [name]'s (not [[name]]), 0: none.
  struct Seen {
    int first_line;
    int plain_line;
  };
  std::unordered_map<std::string, Seen> seen_;
};

}  // namespace

const TomlValue* TomlTable::find(std::string_view key) const {
  for (const auto& [k, v] : entries)
    if (k == key) return &v;
  return nullptr;
}

Expected<TomlDoc> parse_toml(std::string_view text, const std::string& source, size_t max_bytes) {
  return Parser(text, source, max_bytes).run();
}

const char* kind_name(TomlValue::Kind k) {
  switch (k) {
    case TomlValue::Kind::kString: return "a string";
    case TomlValue::Kind::kInt: return "an integer";
    case TomlValue::Kind::kBool: return "a boolean";
    case TomlValue::Kind::kArray: return "an array";
  }
  return "?";
}

}  // namespace mx::cfg
