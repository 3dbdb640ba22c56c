// scan/mime_dump.cc — the textual structure dump.
#include "scan/mime_dump.h"

#include <cinttypes>
#include <cstdio>

#include "scan/encoded_word.h"

namespace mx::scan {
namespace {

constexpr size_t kDataPrefix = 32;
constexpr size_t kTextPrefix = 48;

uint64_t fnv(uint64_t h, std::string_view s) {
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

std::string hex64(uint64_t v) {
  char b[20];
  std::snprintf(b, sizeof(b), "%016" PRIx64, v);
  return b;
}

void keep_prefix(std::string& p, std::string_view s, size_t max) {
  if (p.size() < max) p.append(s.substr(0, max - p.size()));
}

std::string pad(const PartInfo& p) { return std::string(2 * p.depth, ' '); }

std::string_view chars(ByteSpan b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::string sources(uint8_t s) {
  static const char* const kNames[] = {"type-name", "disp-filename", "rfc2231", "rfc2047", "uuencode"};
  std::string out;
  for (int i = 0; i < 5; ++i)
    if (s & (1 << i)) out += std::string(out.empty() ? "" : ",") + kNames[i];
  return out;
}

bool shown_header(std::string_view n) {
  std::string l;
  for (char c : n) l += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return l == "subject" || l == "from" || l == "to" || l.rfind("content-", 0) == 0;
}

}  // namespace

std::string escape_bytes(std::string_view s, size_t max) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    auto c = static_cast<uint8_t>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      out += b;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string flags_string(uint64_t flags) {
  std::string out;
  for (size_t b = 0; b < kMimeFlagCount; ++b)
    if (flags & (uint64_t{1} << b)) out += std::string(out.empty() ? "" : ",") + std::string(mime_flag_name(b));
  return out.empty() ? "-" : out;
}

void MimeDumpSink::clear() {
  out_.clear();
  open_.clear();
}

MimeDumpSink::Acc& MimeDumpSink::acc(const PartInfo& p, uint32_t reading) {
  const uint64_t key = uint64_t{p.id} << 8 | reading;
  for (auto& [k, a] : open_)
    if (k == key) return a;
  open_.emplace_back(key, Acc{});
  return open_.back().second;
}

void MimeDumpSink::on_part_begin(const PartInfo& p) {
  const std::string in = pad(p);
  out_ += in + "part " + std::to_string(p.id) + " parent=" + std::to_string(p.parent) + " type=" +
          std::string(p.content_type.view()) + " kind=" +
          (p.kind == EntityKind::kLeaf ? "leaf" : p.kind == EntityKind::kMultipart ? "multipart" : "message") + "\n";
  out_ += in + "  headers: " + std::to_string(p.headers.size()) + "\n";
  for (const HeaderField& h : p.headers) {
    if (!shown_header(h.name)) continue;
    out_ += in + "  " + escape_bytes(h.name, 64) + ": \"" + escape_bytes(h.value, 160) + "\"";
    if (h.value.find("=?") != std::string_view::npos) {
      char buf[kMaxHeaderField];
      size_t len = 0;
      if (decode_encoded_words(h.value, iconv_.get(), buf, sizeof(buf), len).decoded)
        out_ += " decoded=\"" + escape_bytes(std::string_view(buf, len), 160) + "\"";
    }
    out_ += "\n";
  }
  std::string types;
  for (uint32_t i = 0; i < p.n_declared_types; ++i) types += (i ? " " : "") + std::string(p.declared_types[i].view());
  std::string encs;
  for (uint32_t i = 0; i < p.n_encodings; ++i) encs += (i ? " " : "") + std::string(encoding_name(p.encodings[i]));
  out_ += in + "  declared: " + (types.empty() ? "-" : types) + " encodings: " + encs +
          " disposition: " + (p.disposition.empty() ? "-" : std::string(p.disposition.view())) + "\n";
  for (uint32_t i = 0; i < p.n_boundaries; ++i)
    out_ += in + "  boundary: \"" + escape_bytes(p.boundaries[i].view(), 300) + "\"\n";
  for (const FilenameCandidate& f : p.filename_candidates())
    out_ += in + "  filename: \"" + escape_bytes(f.name.view(), 300) + "\" [" + sources(f.sources) + "]\n";
}

void MimeDumpSink::on_part_data(const PartInfo& p, uint32_t reading, ByteSpan d) {
  Acc& a = acc(p, reading);
  a.hash = fnv(a.hash, chars(d));
  keep_prefix(a.prefix, chars(d), kDataPrefix);
}

void MimeDumpSink::on_part_text(const PartInfo& p, uint32_t reading, std::string_view t) {
  Acc& a = acc(p, reading);
  a.text_hash = fnv(a.text_hash, t);
  keep_prefix(a.text_prefix, t, kTextPrefix);
}

void MimeDumpSink::on_url(const PartInfo& p, uint32_t reading, std::string_view url, bool truncated) {
  acc(p, reading).lines += pad(p) + "    url \"" + escape_bytes(url, 200) + "\"" + (truncated ? " truncated" : "") + "\n";
}

void MimeDumpSink::on_uu_data(const PartInfo& p, const UuBlock& b, ByteSpan d) {
  Acc& a = acc(p, b.reading);
  a.uu_hash = fnv(a.uu_hash, chars(d));
  keep_prefix(a.uu_prefix, chars(d), kDataPrefix);
}

void MimeDumpSink::on_uu_end(const PartInfo& p, const UuBlock& b) {
  Acc& a = acc(p, b.reading);
  a.lines += pad(p) + "    uu " + std::to_string(b.index) + " name=\"" + escape_bytes(b.name.view(), 200) +
             "\" mode=" + std::to_string(b.mode) + " size=" + std::to_string(b.decoded_size) +
             " true=" + std::string(true_type_name(b.true_type)) + (b.complete ? "" : " incomplete") +
             " hash=" + hex64(a.uu_hash) + " data=\"" + escape_bytes(a.uu_prefix, kDataPrefix) + "\"\n";
  a.uu_hash = kFnvBasis;
  a.uu_prefix.clear();
}

void MimeDumpSink::on_part_end(const PartInfo& p) {
  const std::string in = pad(p);
  for (uint32_t r = 0; r < p.n_readings; ++r) {
    const Reading& rd = p.readings[r];
    Acc& a = acc(p, r);
    if (p.kind == EntityKind::kMultipart && rd.decoded_size == 0 && rd.flags == 0) continue;  // no preamble/epilogue
    out_ += in + (p.kind == EntityKind::kMultipart ? "  preamble+epilogue " : "  reading ") + std::to_string(r) +
            " " + std::string(encoding_name(rd.encoding)) +
            (rd.text ? " charset=" + (rd.charset.empty() ? std::string("-") : std::string(rd.charset.view())) : std::string()) +
            " decoded=" + std::to_string(rd.decoded_size) + " true=" + std::string(true_type_name(rd.true_type)) +
            " hash=" + hex64(a.hash) + " flags=" + flags_string(rd.flags) + "\n";
    out_ += in + "    data=\"" + escape_bytes(a.prefix, kDataPrefix) + "\"\n";
    if (rd.text)
      out_ += in + "    text=" + std::to_string(rd.text_size) + " hash=" + hex64(a.text_hash) + " \"" +
              escape_bytes(a.text_prefix, kTextPrefix) + "\"\n";
    out_ += a.lines;
  }
  std::erase_if(open_, [&](const auto& e) { return (e.first >> 8) == p.id; });
  out_ += in + "end " + std::to_string(p.id) + " raw=" + std::to_string(p.raw_size) + " flags=" + flags_string(p.flags) + "\n";
}

void MimeDumpSink::on_message_end(const MessageInfo& m) {
  out_ += "message parts=" + std::to_string(m.parts) + " raw=" + std::to_string(m.raw_size) +
          " decoded=" + std::to_string(m.decoded_size) + " urls=" + std::to_string(m.urls) +
          " flags=" + flags_string(m.flags) + "\n";
}

}  // namespace mx::scan
