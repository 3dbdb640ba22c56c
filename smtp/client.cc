// smtp/client.cc — client state machine: greeting, EHLO/HELO, STARTTLS, transaction, body.
#include "smtp/client.h"

#include <algorithm>

namespace mx::smtp {
namespace {

using Outcome = ClientResult::Outcome;

Outcome class_of(const Reply& r) {
  return r.positive() ? Outcome::kDelivered : r.transient() ? Outcome::kTempFail : Outcome::kPermFail;
}

std::string upper(std::string_view s) {
  std::string u(s);
  for (char& c : u)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return u;
}

bool has_8bit(const ByteParts& b) {
  for (const ByteSpan& p : b.parts())
    if (std::any_of(p.begin(), p.end(), [](uint8_t c) { return c >= 0x80; })) return true;
  return false;
}

}  // namespace

ClientSession::ClientSession(const ClientConfig& cfg, std::shared_ptr<const TlsClientContext> tls,
                             const ClientMessage& msg)
    : cfg_(cfg), tls_ctx_(std::move(tls)), msg_(msg) {}

void ClientSession::start(Tick now) { set_deadline(now, kClientGreetingTimeoutNs); }

void ClientSession::send(std::string_view bytes) {
  if (tls_ && tls_->status() == TlsSession::Status::kReady) {
    tls_->write(bytes);
    tls_->drain(out_);
  } else {
    out_.append(bytes);
  }
}

void ClientSession::finish(Outcome o, const Reply& r, const std::string& stage) {
  if (result_.outcome != Outcome::kPending) return;
  result_.outcome = o;
  result_.reply = r;
  result_.stage = stage;
}

void ClientSession::quit() {
  send("QUIT\r\n");
  state_ = State::kQuit;
  expect_.clear();
}

void ClientSession::fail(Outcome o, Reply r, const std::string& stage) {
  finish(o, r, stage);
  quit();
}

size_t ClientSession::feed(ByteSpan wire, Tick now) {
  if (state_ == State::kDone) return wire.size();
  if (tls_) {
    TlsSession::Status before = tls_->status();
    TlsSession::Status st = tls_->input(wire, in_);
    tls_->drain(out_);
    if (st == TlsSession::Status::kFailed) {
      finish(Outcome::kTempFail, reply(451, "4.7.5", "TLS with the downstream server failed: " + tls_->error()), "tls");
      state_ = State::kDone;
      closing_ = true;
      return wire.size();
    }
    if (before == TlsSession::Status::kHandshaking && st == TlsSession::Status::kReady) {
      result_.tls = true;
      result_.tls_info = tls_->info();
      state_ = State::kEhlo;
      send("EHLO " + cfg_.helo_name + "\r\n");
      set_deadline(now, kClientCommandTimeoutNs);
    }
  } else {
    in_.append(reinterpret_cast<const char*>(wire.data()), wire.size());
  }
  parse_replies(now);
  return wire.size();
}

bool ClientSession::parse_replies(Tick now) {
  while (state_ != State::kDone) {
    size_t lf = in_.find('\n');
    if (lf == std::string::npos) {
      if (in_.size() > kMaxReplyLine) break;  // handled below as a protocol error
      return true;
    }
    std::string line = in_.substr(0, lf);
    in_.erase(0, lf + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    bool ok = line.size() >= 3 && line.size() <= kMaxReplyLine && line[0] >= '2' && line[0] <= '5' &&
              std::isdigit(static_cast<unsigned char>(line[1])) && std::isdigit(static_cast<unsigned char>(line[2])) &&
              (line.size() == 3 || line[3] == ' ' || line[3] == '-') &&
              (lines_.empty() || line.compare(0, 3, lines_[0], 0, 3) == 0) && lines_.size() < kMaxReplyLines;
    if (!ok) {
      in_.clear();
      finish(Outcome::kTempFail, reply(451, "4.5.0", "protocol error in the downstream server's reply"), "reply");
      state_ = State::kDone;
      closing_ = true;
      return false;
    }
    lines_.push_back(line);
    if (line.size() > 3 && line[3] == '-') continue;
    Reply r;
    r.code = static_cast<uint16_t>((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
    std::string_view text = lines_[0].size() > 4 ? std::string_view(lines_[0]).substr(4) : std::string_view{};
    size_t sp = text.find(' ');
    std::string_view first = text.substr(0, sp);
    if (first.size() >= 5 && first[0] == line[0] && first[1] == '.') {
      r.enhanced = std::string(first);
      text = sp == std::string_view::npos ? std::string_view{} : text.substr(sp + 1);
    }
    r.text = std::string(text);
    State before = state_;
    on_reply(r, now);
    lines_.clear();
    if (before == State::kStartTls && state_ == State::kHandshake) {
      in_.clear();  // whatever followed the 220 came in clear: never read (RFC 3207 5)
      return true;
    }
  }
  if (in_.size() > kMaxReplyLine) {
    in_.clear();
    finish(Outcome::kTempFail, reply(451, "4.5.0", "downstream reply line too long"), "reply");
    state_ = State::kDone;
    closing_ = true;
  }
  return true;
}

void ClientSession::on_reply(const Reply& r, Tick now) {
  switch (state_) {
    case State::kGreeting:
      if (!r.positive()) return fail(class_of(r), r, "connect");
      state_ = State::kEhlo;
      send("EHLO " + cfg_.helo_name + "\r\n");
      return set_deadline(now, kClientCommandTimeoutNs);
    case State::kEhlo:
      if (r.positive()) return after_ehlo(r, true, now);
      if (r.permanent() && !tls_) {  // RFC 5321 4.1.4: fall back to HELO
        state_ = State::kHelo;
        send("HELO " + cfg_.helo_name + "\r\n");
        return set_deadline(now, kClientCommandTimeoutNs);
      }
      return fail(class_of(r), r, "ehlo");
    case State::kHelo:
      if (r.positive()) return after_ehlo(r, false, now);
      return fail(class_of(r), r, "ehlo");
    case State::kStartTls:
      if (r.code == 220) {
        bool verify = cfg_.tls == TlsPolicy::kRequiredVerify;
        tls_ = std::make_unique<TlsSession>(*tls_ctx_, cfg_.server_name, verify);
        tls_->start_client();
        if (tls_->status() == TlsSession::Status::kFailed) {
          finish(Outcome::kTempFail, reply(451, "4.7.5", "TLS with the downstream server failed: " + tls_->error()), "tls");
          state_ = State::kDone;
          closing_ = true;
          return;
        }
        tls_->drain(out_);
        state_ = State::kHandshake;
        return set_deadline(now, kClientCommandTimeoutNs);
      }
      if (cfg_.tls == TlsPolicy::kRequired || cfg_.tls == TlsPolicy::kRequiredVerify)
        return fail(Outcome::kTempFail, reply(451, "4.7.10", "downstream refused STARTTLS (" + std::to_string(r.code) + " " + r.text + ") and the route requires TLS"), "starttls");
      return begin_transaction(now);
    case State::kTransaction:
      return on_transaction_reply(r, now);
    case State::kDot:
      if (accepted_ == 0 || mail_failed_) {  // we only sent "." to close a DATA nobody wanted
        Reply why = mail_failed_ ? mail_reply_ : result_.rcpt_replies.empty() ? r : result_.rcpt_replies[0];
        return fail(class_of(why), why, mail_failed_ ? "mail" : "rcpt");
      }
      return fail(class_of(r), r, "body");
    case State::kQuit:
      state_ = State::kDone;
      closing_ = true;
      return;
    case State::kHandshake:
    case State::kDone:
      return;
  }
}

void ClientSession::after_ehlo(const Reply&, bool esmtp, Tick now) {
  ext_pipelining_ = ext_8bit_ = ext_starttls_ = ext_chunking_ = ext_utf8_ = ext_dsn_ = ext_size_ = false;
  ext_size_limit_ = 0;
  for (size_t i = 1; esmtp && i < lines_.size(); ++i) {
    std::string kw = upper(lines_[i].size() > 4 ? std::string_view(lines_[i]).substr(4) : std::string_view{});
    std::string_view k(kw);
    std::string_view name = k.substr(0, k.find(' '));
    if (name == "PIPELINING") ext_pipelining_ = true;
    else if (name == "8BITMIME") ext_8bit_ = true;
    else if (name == "STARTTLS") ext_starttls_ = true;
    else if (name == "CHUNKING") ext_chunking_ = true;
    else if (name == "SMTPUTF8") ext_utf8_ = true;
    else if (name == "DSN") ext_dsn_ = true;
    else if (name == "SIZE") {
      ext_size_ = true;
      if (k.size() > 5) ext_size_limit_ = std::strtoull(kw.c_str() + 5, nullptr, 10);
    }
  }
  bool want_tls = cfg_.tls != TlsPolicy::kNone && !tls_;
  bool need_tls = (cfg_.tls == TlsPolicy::kRequired || cfg_.tls == TlsPolicy::kRequiredVerify) && !tls_;
  if (want_tls && ext_starttls_ && tls_ctx_) {
    state_ = State::kStartTls;
    send("STARTTLS\r\n");
    return set_deadline(now, kClientCommandTimeoutNs);
  }
  if (need_tls)
    return fail(Outcome::kTempFail, reply(451, "4.7.10", "the route requires TLS and the downstream server does not offer STARTTLS"), "starttls");
  begin_transaction(now);
}

void ClientSession::begin_transaction(Tick now) {
  const MailParams& p = msg_.params;
  bool eight_bit = p.body == Body::k8BitMime || has_8bit(msg_.body);
  if (p.smtputf8 && !ext_utf8_)
    return fail(Outcome::kPermFail, reply(553, "5.6.7", "the downstream server does not support SMTPUTF8"), "mail");
  if (eight_bit && !ext_8bit_)
    return fail(Outcome::kPermFail, reply(554, "5.6.3", "8-bit message, the downstream server lacks 8BITMIME, and conversion is not supported"), "mail");
  if (ext_size_ && ext_size_limit_ && msg_.body.size() > ext_size_limit_)
    return fail(Outcome::kPermFail, reply(552, "5.3.4", "message larger than the downstream server's SIZE limit"), "mail");
  if (msg_.rcpts.empty()) return fail(Outcome::kPermFail, reply(554, "5.5.1", "no recipients"), "rcpt");
  use_bdat_ = cfg_.use_chunking && ext_chunking_ && !cfg_.verify_only;
  std::string mail = "MAIL FROM:<" + msg_.from + ">";
  if (ext_size_) mail += " SIZE=" + std::to_string(msg_.body.size());
  if (eight_bit) mail += " BODY=8BITMIME";
  if (p.smtputf8) mail += " SMTPUTF8";
  if (ext_dsn_ && p.ret != DsnRet::kUnspecified) mail += p.ret == DsnRet::kFull ? " RET=FULL" : " RET=HDRS";
  if (ext_dsn_ && !p.envid.empty()) mail += " ENVID=" + p.envid;
  state_ = State::kTransaction;
  send(mail + "\r\n");
  expect_.push_back(Expect::kMail);
  if (cfg_.use_pipelining && ext_pipelining_) {
    while (rcpts_sent_ < msg_.rcpts.size()) send_next_rcpt(now);
    if (!use_bdat_ && !cfg_.verify_only) {
      send("DATA\r\n");
      expect_.push_back(Expect::kData);
    }
  }
  set_deadline(now, kClientCommandTimeoutNs);
}

// Sends the next RCPT (with DSN parameters when the server takes them).
void ClientSession::send_next_rcpt(Tick) {
  const ClientRecipient& r = msg_.rcpts[rcpts_sent_++];
  std::string cmd = "RCPT TO:<" + r.address + ">";
  if (ext_dsn_ && r.params.notify) {
    std::string n;
    auto add = [&](uint8_t bit, const char* name) {
      if (r.params.notify & bit) n += (n.empty() ? "" : ",") + std::string(name);
    };
    add(kNotifyNever, "NEVER");
    add(kNotifySuccess, "SUCCESS");
    add(kNotifyFailure, "FAILURE");
    add(kNotifyDelay, "DELAY");
    cmd += " NOTIFY=" + n;
  }
  if (ext_dsn_ && !r.params.orcpt.empty()) cmd += " ORCPT=" + r.params.orcpt;
  send(cmd + "\r\n");
  expect_.push_back(Expect::kRcpt);
}

void ClientSession::on_transaction_reply(const Reply& r, Tick now) {
  if (expect_.empty()) return fail(Outcome::kTempFail, reply(451, "4.5.0", "unexpected reply from the downstream server"), "reply");
  Expect what = expect_.front();
  expect_.pop_front();
  bool pipelined = cfg_.use_pipelining && ext_pipelining_;
  switch (what) {
    case Expect::kMail:
      if (!r.positive()) {
        mail_failed_ = true;
        mail_reply_ = r;
        if (!pipelined) return fail(class_of(r), r, "mail");
        return;
      }
      if (!pipelined) send_next_rcpt(now);
      return set_deadline(now, kClientCommandTimeoutNs);
    case Expect::kRcpt: {
      result_.rcpt_replies.push_back(r);
      if (r.positive()) ++accepted_;
      if (result_.rcpt_replies.size() < msg_.rcpts.size()) {
        if (!pipelined) send_next_rcpt(now);
        return set_deadline(now, kClientCommandTimeoutNs);
      }
      if (cfg_.verify_only) return verified();
      if (pipelined && !use_bdat_) return set_deadline(now, kClientDataInitTimeoutNs);  // DATA is on its way
      if (mail_failed_) return fail(class_of(mail_reply_), mail_reply_, "mail");
      if (accepted_ == 0) {
        auto temp = std::find_if(result_.rcpt_replies.begin(), result_.rcpt_replies.end(), [](const Reply& x) { return x.transient(); });
        const Reply& why = temp != result_.rcpt_replies.end() ? *temp : result_.rcpt_replies[0];
        return fail(class_of(why), why, "rcpt");
      }
      if (use_bdat_) {
        send_bdat(pipelined);
        return set_deadline(now, kClientFinalDotTimeoutNs);
      }
      send("DATA\r\n");
      expect_.push_back(Expect::kData);
      return set_deadline(now, kClientDataInitTimeoutNs);
    }
    case Expect::kData:
      if (r.code == 354) {
        state_ = State::kDot;
        if (accepted_ == 0 || mail_failed_) send(".\r\n");  // RFC 2920 3.1: end the DATA nobody wants
        else send_body_data();
        return set_deadline(now, kClientFinalDotTimeoutNs);
      }
      if (mail_failed_) return fail(class_of(mail_reply_), mail_reply_, "mail");
      if (accepted_ == 0) return fail(class_of(result_.rcpt_replies[0]), result_.rcpt_replies[0], "rcpt");
      return fail(class_of(r), r, "data");
    case Expect::kBdat:
      if (!r.positive()) return fail(class_of(r), r, "body");
      if (!pipelined) send_bdat(false);
      return set_deadline(now, kClientFinalDotTimeoutNs);
    case Expect::kBdatLast:
      return fail(class_of(r), r, "body");
  }
}

// verify_only: every RCPT has its reply; the answer is the first refusal, or the last acceptance.
void ClientSession::verified() {
  if (mail_failed_) return fail(class_of(mail_reply_), mail_reply_, "mail");
  for (const Reply& r : result_.rcpt_replies)
    if (!r.positive()) return fail(class_of(r), r, "rcpt");
  finish(Outcome::kDelivered, result_.rcpt_replies.back(), "rcpt");
  quit();
}

void ClientSession::send_body_data() {
  // RFC 5321 4.5.2: a dot at the start of a line is doubled. A line starts after every LF, so
  // even a bare LF that slipped through cannot turn a dot into an end marker downstream.
  const size_t n = msg_.body.size();
  std::string out;
  out.reserve(n + n / 64 + 5);
  bool line_start = true;
  for (const ByteSpan& part : msg_.body.parts()) {
    const uint8_t* p = part.data();
    size_t run = 0;
    for (size_t i = 0; i < part.size(); ++i) {
      if (line_start && p[i] == '.') {
        out.append(reinterpret_cast<const char*>(p + run), i - run);
        out += '.';
        run = i;
      }
      line_start = p[i] == '\n';
    }
    out.append(reinterpret_cast<const char*>(p + run), part.size() - run);
  }
  if (n && !(n >= 2 && msg_.body.at(n - 2) == '\r' && msg_.body.at(n - 1) == '\n')) out += "\r\n";
  out += ".\r\n";
  send(out);
}

void ClientSession::send_bdat(bool all) {
  const size_t n = msg_.body.size();
  do {
    size_t len = std::min(cfg_.bdat_chunk, n - body_pos_);
    bool last = body_pos_ + len == n;
    send("BDAT " + std::to_string(len) + (last ? " LAST" : "") + "\r\n");
    msg_.body.for_range(body_pos_, len, [&](ByteSpan b) {
      send(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
    });
    body_pos_ += len;
    expect_.push_back(last ? Expect::kBdatLast : Expect::kBdat);
    if (last) return;
  } while (all);
}

void ClientSession::on_closed(Tick) {
  if (state_ != State::kDone && state_ != State::kQuit)
    finish(Outcome::kTempFail, reply(451, "4.4.2", "the downstream server closed the connection"),
           state_ == State::kDot ? "body" : "session");
  state_ = State::kDone;
  closing_ = true;
}

void ClientSession::tick(Tick now) {
  if (state_ == State::kDone || now.ns < deadline_ns_) return;
  finish(Outcome::kTempFail, reply(451, "4.4.2", "timeout waiting for the downstream server"),
         state_ == State::kDot ? "body" : "session");
  state_ = State::kDone;
  closing_ = true;
}

}  // namespace mx::smtp
