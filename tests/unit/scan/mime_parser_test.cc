// tests/unit/scan/mime_parser_test.cc — the parser's bounds (shrunk through MimeLimits), its
// event order, and the split property over many generated messages.
#include "scan/mime_parser.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/scan/mime_test_util.h"

namespace mx::scan::test {
namespace {

// Records what policy would see, and checks that events nest like the parts.
class Recorder : public MimeSink {
 public:
  void on_part_begin(const PartInfo& p) override {
    if (!open.empty()) {
      EXPECT_EQ(p.parent, open.back());
    }
    open.push_back(p.id);
    ++begins;
  }
  void on_part_data(const PartInfo& p, uint32_t reading, ByteSpan d) override {
    EXPECT_FALSE(open.empty());
    EXPECT_EQ(p.id, open.back());
    EXPECT_LT(reading, p.n_readings);
    data[p.id].append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  void on_url(const PartInfo&, uint32_t, std::string_view u, bool) override { urls.emplace_back(u); }
  void on_part_end(const PartInfo& p) override {
    ASSERT_FALSE(open.empty());
    EXPECT_EQ(p.id, open.back());
    open.pop_back();
    ends.push_back(p);
  }
  void on_message_end(const MessageInfo& m) override {
    EXPECT_TRUE(open.empty());
    msg = m;
  }
  std::vector<uint32_t> open;
  std::map<uint32_t, std::string> data;
  std::vector<std::string> urls;
  std::vector<PartInfo> ends;
  MessageInfo msg;
  int begins = 0;
};

void run(Recorder& r, std::string_view msg, const MimeLimits& lim = {}) {
  auto parser = std::make_unique<MimeParser>(r, lim);
  parser->feed(bytes(msg));
  parser->finish();
}

const PartInfo* part(const Recorder& r, uint32_t id) {
  for (const auto& p : r.ends)
    if (p.id == id) return &p;
  return nullptr;
}

TEST(MimeParser, DecodedSizeBoundPerPart) {
  MimeLimits lim;
  lim.max_decoded_part = 10;
  Recorder r;
  run(r, "Content-Type: text/plain\r\n\r\n" + std::string(100, 'x') + "\r\n", lim);
  ASSERT_NE(part(r, 0), nullptr);
  EXPECT_EQ(r.data[0], std::string(10, 'x'));
  EXPECT_EQ(part(r, 0)->readings[0].decoded_size, 102u);  // counting goes on
  EXPECT_TRUE(part(r, 0)->flags & kDecodedLimit);
  EXPECT_TRUE(r.msg.flags & kDecodedLimit);
}

TEST(MimeParser, DecodedSizeBoundPerMessage) {
  MimeLimits lim;
  lim.max_decoded_message = 15;
  Recorder r;
  run(r, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n0123456789\r\n--b\r\n\r\nabcdefghij\r\n--b--\r\n",
      lim);
  EXPECT_EQ(r.data[1], "0123456789");
  EXPECT_EQ(r.data[2], "abcde");
  EXPECT_TRUE(part(r, 2)->flags & kDecodedLimit);
  EXPECT_FALSE(part(r, 1)->flags & kDecodedLimit);
}

TEST(MimeParser, UrlBound) {
  MimeLimits lim;
  lim.max_urls = 2;
  Recorder r;
  run(r, "\r\nhttp://a.example/ http://b.example/ http://c.example/ http://d.example/\r\n", lim);
  EXPECT_EQ(r.urls, (std::vector<std::string>{"http://a.example/", "http://b.example/"}));
  EXPECT_TRUE(r.msg.flags & kUrlLimit);
}

TEST(MimeParser, HeaderBoundsKeepStructureFields) {
  MimeLimits lim;
  lim.max_header_fields = 3;
  Recorder r;
  std::string m;
  for (int i = 0; i < 10; ++i) m += "X-Pad: " + std::to_string(i) + "\r\n";
  m += "Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\nin part\r\n--zz--\r\n";
  run(r, m, lim);
  EXPECT_EQ(part(r, 0)->kind, EntityKind::kMultipart);
  EXPECT_EQ(r.data[1], "in part");
  EXPECT_TRUE(r.msg.flags & kTooManyHeaders);
}

TEST(MimeParser, HeaderByteBound) {
  MimeLimits lim;
  lim.max_header_bytes = 100;
  Recorder r;
  run(r, "X-A: " + std::string(200, 'a') + "\r\nX-B: b\r\nContent-Type: text/html\r\n\r\nbody", lim);
  EXPECT_EQ(part(r, 0)->content_type.view(), "text/html");
  EXPECT_TRUE(r.msg.flags & kTooManyHeaders);
}

TEST(MimeParser, PartBound) {
  MimeLimits lim;
  lim.max_parts = 3;
  Recorder r;
  run(r, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b\r\n\r\nthree\r\n--b--\r\n",
      lim);
  EXPECT_EQ(r.msg.parts, 3u);
  EXPECT_EQ(r.data[2], "two\r\n--b\r\n\r\nthree\r\n--b--\r\n");  // the rest stays in the last part
  EXPECT_TRUE(r.msg.flags & kPartLimit);
}

TEST(MimeParser, DepthBound) {
  MimeLimits lim;
  lim.max_depth = 1;
  Recorder r;
  run(r, "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
         "--b\r\n\r\ndeep\r\n--b--\r\n--a--\r\n", lim);
  const PartInfo* p1 = part(r, 1);
  ASSERT_NE(p1, nullptr);
  EXPECT_EQ(p1->kind, EntityKind::kLeaf);
  EXPECT_TRUE(p1->flags & kDepthLimit);
  EXPECT_EQ(r.data[1], "--b\r\n\r\ndeep\r\n--b--");
}

TEST(MimeParser, ResetReusesTheParser) {
  MimeDumpSink sink;
  MimeParser parser(sink);
  const std::string m = "Subject: x\r\nContent-Type: text/plain\r\n\r\nhello http://x.example/\r\n";
  parser.feed(bytes(m));
  parser.finish();
  const std::string first = sink.text();
  sink.clear();
  parser.reset();
  parser.feed(bytes(m));
  parser.finish();
  EXPECT_EQ(sink.text(), first);
  parser.feed(bytes("ignored after finish"));
  EXPECT_EQ(sink.text(), first);
}

// Random MIME trees with the awkward things in them: random boundaries (some prefixes of
// others), encodings, duplicate headers, long lines, bare LFs, missing close delimiters,
// preambles and epilogues, uuencode, junk.
class Generator {
 public:
  explicit Generator(unsigned seed) : rng_(seed) {}
  std::string message() { return headers() + entity(0); }

 private:
  size_t pick(size_t n) { return rng_() % n; }
  std::string eol() { return pick(10) ? "\r\n" : "\n"; }
  std::string text(size_t max) {
    static const char* words[] = {"hello", "http://x.example/a", "=3D", "=", "caf\xC3\xA9", "\xFF", "www.y.example",
                                  "<a href=\"https://z.example/\">", "--", "begin 644 f.bin", "M86)C", "end", "  ", "\t"};
    std::string s;
    size_t n = pick(max);
    for (size_t i = 0; i < n; ++i) {
      s += words[pick(sizeof(words) / sizeof(words[0]))];
      s += pick(6) ? " " : eol();
    }
    if (!pick(40)) s += std::string(9000 + pick(3000), 'L');
    return s;
  }
  std::string headers() { return "From: a@example.org" + eol() + "Subject: =?utf-8?q?t=C3=A9st?=" + eol(); }
  std::string b64(const std::string& in) {
    static const char* kAlpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < in.size(); i += 3) {
      uint32_t v = 0;
      for (size_t k = 0; k < 3; ++k) v = v << 8 | (i + k < in.size() ? static_cast<uint8_t>(in[i + k]) : 0);
      for (int k = 3; k >= 0; --k) out += kAlpha[(v >> (6 * k)) & 63];
      if (out.size() % 78 == 76) out += "\r\n";
    }
    return out;
  }
  std::string entity(int depth) {
    static const char* bounds[] = {"b", "bb", "b1", "=_Part_1", "simple boundary", ""};
    std::string h;
    if (depth < 4 && pick(3) == 0) {
      std::string b = bounds[pick(6)];
      h += "Content-Type: multipart/mixed; boundary=\"" + b + "\"" + eol();
      if (!pick(8)) h += "Content-Type: multipart/alternative; boundary=\"" + std::string(bounds[pick(6)]) + "\"" + eol();
      h += eol() + text(3);
      int parts = static_cast<int>(pick(4));
      for (int i = 0; i < parts; ++i) h += eol() + "--" + b + eol() + entity(depth + 1);
      if (pick(5)) h += eol() + "--" + b + "--" + eol() + text(3);
      return h;
    }
    if (depth < 4 && !pick(8)) return "Content-Type: message/rfc822" + eol() + eol() + headers() + entity(depth + 1);
    std::string body = text(20);
    switch (pick(4)) {
      case 0:
        h += "Content-Transfer-Encoding: base64" + eol();
        body = b64(body);
        if (!pick(4)) body.insert(pick(body.size() + 1), "*=");
        break;
      case 1:
        h += "Content-Transfer-Encoding: quoted-printable" + eol();
        break;
      default:
        break;
    }
    if (!pick(6)) h += "Content-Transfer-Encoding: 7bit" + eol();
    h += "Content-Type: text/plain; charset=" + std::string(pick(2) ? "utf-8" : "iso-8859-1") +
         "; name*0*=utf-8''a%C3%A9; name*1=\".exe\"" + eol();
    return h + eol() + body;
  }
  std::mt19937 rng_;
};

TEST(MimeParser, GeneratedMessagesAreSplitInvariant) {
  int multipart = 0, nested = 0, long_lines = 0;
  for (unsigned seed = 1; seed <= 300; ++seed) {
    const std::string msg = Generator(seed).message();
    const std::string whole = dump_whole(msg);
    multipart += whole.find("kind=multipart") != std::string::npos;
    nested += whole.find("      part ") != std::string::npos;
    long_lines += whole.find("long-line") != std::string::npos;
    for (unsigned k = 0; k < 12; ++k) {
      auto cuts = random_cuts(msg.size(), seed * 100 + k, 1 + k * 3);
      ASSERT_EQ(dump_split(msg, cuts, {}, k % 2 ? Base64Impl::kScalar : Base64Impl::kAuto), whole)
          << "seed " << seed << " split " << k;
    }
  }
  // The generator does produce the shapes the property is about.
  EXPECT_GT(multipart, 60);
  EXPECT_GT(nested, 10);
  EXPECT_GT(long_lines, 5);
}

}  // namespace
}  // namespace mx::scan::test
