// tests/unit/smtp/transcript.cc
#include "tests/unit/smtp/transcript.h"

#include <optional>
#include <random>
#include <sstream>

#include "smtp/server.h"

namespace mx::smtp::test {
namespace {

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

std::string escape(std::string_view b) {
  std::string o;
  for (unsigned char c : b) {
    if (c == '\r') o += "\\r";
    else if (c == '\n') o += "\\n";
    else if (c == '\\') o += "\\\\";
    else if (c < 32 || c >= 127) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      o += buf;
    } else o += static_cast<char>(c);
  }
  return o;
}

Reply parse_reply(const std::vector<std::string>& w, size_t from) {
  Reply r;
  r.code = static_cast<uint16_t>(std::stoi(w.at(from)));
  size_t i = from + 1;
  if (i < w.size() && w[i].size() >= 5 && w[i][1] == '.') r.enhanced = w[i++];
  for (; i < w.size(); ++i) r.text += (r.text.empty() ? "" : " ") + w[i];
  return r;
}

class Harness final : public ServerHandler {
 public:
  explicit Harness(const Script& script) {
    for (const std::string& c : script.config) {
      size_t eq = c.find('=');
      std::string k = c.substr(0, eq), v = c.substr(eq + 1);
      if (k == "hostname") cfg.hostname = v;
      else if (k == "max_message_size") cfg.max_message_size = std::stoull(v);
      else if (k == "max_recipients") cfg.max_recipients = static_cast<uint32_t>(std::stoul(v));
      else if (k == "bare_newlines") cfg.bare_newlines = v == "normalize" ? BareNewlines::kNormalize : BareNewlines::kReject;
    }
    connect = script.connect;
  }

  ServerConfig cfg{"mx.test"};
  ServerSession* s = nullptr;
  std::string log;
  std::string data;
  std::vector<std::string> connect;
  bool defer_rcpt = false, defer_mail = false, defer_eod = false, defer_helo = false;
  std::optional<Reply> data_refusal;  // !refuse-data CODE ENH TEXT... | !refuse-data off

  void flush() {
    std::string_view out = s->output();
    size_t start = 0;
    while (start < out.size()) {
      size_t e = out.find("\r\n", start);
      if (e == std::string_view::npos) {
        log += "S~ " + escape(out.substr(start)) + "\n";  // an unterminated reply would be a bug
        break;
      }
      log += "S: " + std::string(out.substr(start, e - start)) + "\n";
      start = e + 2;
    }
    s->consume_output(out.size());
  }
  void event(const std::string& e) {
    flush();
    log += "E: " + e + "\n";
  }
  Decision decide(bool defer) { return defer ? Decision::defer() : Decision::accept(); }

  Decision on_connect() override {
    event("connect");
    if (connect.empty()) return Decision::accept();
    if (connect[0] == "defer") return Decision::defer();
    return Decision::with(parse_reply(connect, 0));
  }
  Decision on_helo(std::string_view name, bool esmtp) override {
    event(std::string(esmtp ? "ehlo " : "helo ") + std::string(name));
    return decide(defer_helo);
  }
  Decision on_mail(const Mailbox& m, const MailParams& p) override {
    std::string e = "mail <" + m.address() + ">";
    if (p.size) e += " size=" + std::to_string(*p.size);
    if (p.body == Body::k8BitMime) e += " body=8bitmime";
    if (p.body == Body::k7Bit) e += " body=7bit";
    if (p.smtputf8) e += " smtputf8";
    if (p.ret != DsnRet::kUnspecified) e += p.ret == DsnRet::kFull ? " ret=full" : " ret=hdrs";
    if (!p.envid.empty()) e += " envid=" + p.envid;
    event(e);
    return decide(defer_mail);
  }
  Decision on_rcpt(const Mailbox& m, const RcptParams& p) override {
    std::string e = "rcpt local=" + escape(m.local) + " domain=" + escape(m.domain);
    if (m.source_route) e += " source-route-ignored";
    if (m.quoted_local) e += " quoted";
    if (m.domain_literal) e += " literal";
    if (p.notify) e += " notify=" + std::to_string(p.notify);
    if (!p.orcpt.empty()) e += " orcpt=" + p.orcpt;
    event(e);
    if (m.domain != "example.test") return Decision::with(reply(550, "5.7.1", "relay access denied"));
    if (m.local.rfind("unknown", 0) == 0) return Decision::with(reply(550, "5.1.1", "no such user"));
    return decide(defer_rcpt);
  }
  std::optional<Reply> on_data_begin() override {
    event("data-begin");
    data.clear();
    return data_refusal;
  }
  void on_data(ByteSpan b) override { data.append(reinterpret_cast<const char*>(b.data()), b.size()); }
  Decision on_end_of_data(const EndOfData& e) override {
    event("end-of-data size=" + std::to_string(e.size) + (e.bdat ? " bdat" : "") + " message=\"" + escape(data) + "\"");
    return decide(defer_eod);
  }
  void on_refused(std::string_view what, const Reply& r) override {
    std::string e = "refused " + std::string(what) + " " + std::to_string(r.code);
    if (what == "DATA" || what == "BDAT") e += " message=\"" + escape(data) + "\"";
    event(e);
  }
  void on_reset() override { event("reset"); }
  void on_quit() override { event("quit"); }
  void on_timeout() override { event("timeout"); }
};

}  // namespace

std::string unescape(const std::string& s) {
  std::string o;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      o += s[i];
      continue;
    }
    char e = s[++i];
    if (e == 'r') o += '\r';
    else if (e == 'n') o += '\n';
    else if (e == 't') o += '\t';
    else if (e == '0') o += '\0';
    else if (e == 'x') {
      o += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else o += e;
  }
  return o;
}

Script parse_script(const std::string& text) {
  Script s;
  std::istringstream in(text);
  std::vector<std::string> actions;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::string body = line.size() > 3 ? line.substr(3) : "";
    if (line.rfind("!config ", 0) == 0) {
      for (auto& w : words(line.substr(8))) s.config.push_back(w);
    } else if (line.rfind("!connect ", 0) == 0) {
      s.connect = words(line.substr(9));
    } else if (line[0] == '!') {
      actions.push_back(line);
    } else if (line.rfind("C: ", 0) == 0 || line.rfind("R: ", 0) == 0 || line == "C:") {
      s.segments.push_back(Segment{line[0] == 'C' ? body + "\r\n" : unescape(body), std::move(actions)});
      actions.clear();
    } else if (line.rfind("C| ", 0) == 0 || line.rfind("R| ", 0) == 0) {
      if (s.segments.empty() || !actions.empty()) throw std::runtime_error("continuation without segment: " + line);
      s.segments.back().bytes += line[0] == 'C' ? body + "\r\n" : unescape(body);
    } else {
      throw std::runtime_error("bad script line: " + line);
    }
  }
  s.trailing_actions = actions;
  return s;
}

std::string run_script(const Script& script, unsigned splits) {
  Harness h(script);
  ServerSession session(h.cfg, h);
  h.s = &session;
  uint64_t now = 1'000'000;
  std::mt19937 rng(splits);
  auto act = [&](const std::string& a) {
    auto w = words(a);
    h.flush();
    if (w[0] == "!defer") {
      bool on = w.at(2) == "on";
      (w[1] == "rcpt" ? h.defer_rcpt : w[1] == "mail" ? h.defer_mail : w[1] == "helo" ? h.defer_helo : h.defer_eod) = on;
    } else if (w[0] == "!resume") {
      h.log += "A: " + a.substr(1) + "\n";
      session.resume(w.at(1) == "accept" ? Decision::accept() : Decision::with(parse_reply(w, 1)), Tick{now});
    } else if (w[0] == "!refuse-data") {
      if (w.at(1) == "off") h.data_refusal.reset();
      else h.data_refusal = parse_reply(w, 1);
    } else if (w[0] == "!tick") {
      now += std::stoull(w.at(1)) * kNsPerSec;
      h.log += "A: tick +" + w[1] + "s\n";
      session.tick(Tick{now});
    }
    h.flush();
  };
  session.start(Tick{now});
  h.flush();
  for (const Segment& seg : script.segments) {
    for (const auto& a : seg.actions) act(a);
    if (session.wants_close()) {
      h.log += "C~ (connection closed; " + std::to_string(seg.bytes.size()) + " bytes not sent)\n";
      break;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(seg.bytes.data());
    size_t left = seg.bytes.size();
    while (left) {
      size_t piece = splits == 0 ? left : splits == 1 ? 1 : 1 + rng() % std::min<size_t>(left, 64);
      piece = std::min(piece, left);
      size_t used = session.feed(ByteSpan(p, piece), Tick{now});
      h.flush();
      if (used < piece && !session.awaiting_decision() && !session.delayed())
        throw std::runtime_error("input refused without a pending decision or an error delay");
      if (used < piece) {
        h.log += "C~ (backpressure: " + std::to_string(left - used) + " bytes held by the client)\n";
        break;
      }
      p += used;
      left -= used;
    }
  }
  for (const auto& a : script.trailing_actions) act(a);
  h.flush();
  if (session.wants_close()) h.log += "-- closed\n";
  return h.log;
}

}  // namespace mx::smtp::test
