// smtp/server.cc — session core: input framing, the body path, decisions, timeouts.
#include "smtp/server.h"

#include <algorithm>

namespace mx::smtp {

ServerSession::ServerSession(const ServerConfig& cfg, ServerHandler& h)
    : cfg_(cfg), h_(h), scanner_(cfg.max_message_size, cfg.bare_newlines) {
  in_.reserve(1024);
  out_.reserve(512);
}

void ServerSession::start(Tick now) {
  start_ns_ = last_ns_ = now_ns_ = now.ns;
  pending_ = Pending::kConnect;
  Decision d = h_.on_connect();
  if (d.kind() != Decision::Kind::kDefer) apply(Pending::kConnect, d);
}

void ServerSession::send(const Reply& r) {
  append_reply(out_, r);
  // 452 (too many recipients, a different policy, storage) asks the client to try the rest
  // later (RFC 5321 4.5.3.1.10): flow control, not a client error.
  if (r.code < 400 || r.code == 421 || r.code == 452 || closing_) return;
  ++errors_;
  if (errors_ >= kHardErrorLimit) close_with(reply(421, "4.7.0", cfg_.hostname + " Error: too many errors"));
  else if (errors_ > kSoftErrorLimit) delay_until_ns_ = now_ns_ + kErrorDelayNs;
}

void ServerSession::refuse(std::string_view what, const Reply& r) {
  h_.on_refused(what, r);
  send(r);
}

void ServerSession::close_with(const Reply& r) {
  if (closing_) return;
  append_reply(out_, r);
  closing_ = true;
  in_.clear();
}

void ServerSession::reset_transaction() {
  txn_ = Transaction{};
  bdat_left_ = 0;
  bdat_last_ = false;
  if (phase_ != Phase::kConnect && phase_ != Phase::kNeedHelo) phase_ = Phase::kReady;
  h_.on_reset();
}

size_t ServerSession::feed(ByteSpan in, Tick now) {
  last_ns_ = now_ns_ = now.ns;
  if (closing_ || starttls_requested_) return in.size();  // ignored after 221/421 or STARTTLS
  size_t used = 0;
  while (true) {
    // Fast path: body bytes straight from the caller's buffer, no copy.
    if (in_.empty() && pending_ == Pending::kNone &&
        (phase_ == Phase::kData || phase_ == Phase::kBdat || phase_ == Phase::kBdatDiscard)) {
      size_t n = body_input(in);
      used += n;
      in = in.subspan(n);
    }
    size_t take = std::min<size_t>(in.size(), kMaxPipelineBytes - std::min<size_t>(in_.size(), kMaxPipelineBytes));
    in_.append(reinterpret_cast<const char*>(in.data()), take);
    used += take;
    in = in.subspan(take);
    size_t before = in_.size();
    process();
    if (closing_ || starttls_requested_) return used + in.size();
    if (in.empty() || pending_ != Pending::kNone || (in_.size() == before && take == 0)) break;
  }
  return used;
}

void ServerSession::process() {
  while (!closing_ && !starttls_requested_ && pending_ == Pending::kNone && !in_.empty()) {
    const bool in_body = phase_ == Phase::kData || phase_ == Phase::kBdat || phase_ == Phase::kBdatDiscard;
    // Commands wait while replies pile up unsent or an error delay runs (body bytes make no
    // replies, so they flow).
    if (!in_body && (output_full() || now_ns_ < delay_until_ns_)) return;
    if (phase_ == Phase::kConnect) {
      // Input before the greeting was sent: a client that does not wait (RFC 5321 3.1).
      h_.on_refused("pregreet", reply(554, "5.5.0", "client spoke before the greeting"));
      close_with(reply(554, "5.5.0", cfg_.hostname + " Error: client spoke before the greeting"));
      return;
    }
    if (phase_ == Phase::kData || phase_ == Phase::kBdat || phase_ == Phase::kBdatDiscard) {
      size_t n = body_input(ByteSpan(reinterpret_cast<const uint8_t*>(in_.data()), in_.size()));
      in_.erase(0, n);
      if (n == 0) return;
      continue;
    }
    size_t lf = in_.find('\n');
    if (lf == std::string::npos) {
      if (in_.size() > kMaxCommandLine) {
        in_.clear();
        if (!discard_line_) refuse("line", reply(500, "5.5.2", "Error: line too long"));
        discard_line_ = true;
      }
      return;
    }
    std::string line = in_.substr(0, lf);
    in_.erase(0, lf + 1);
    if (discard_line_) {
      discard_line_ = false;  // the tail of an overlong line
      continue;
    }
    bool crlf = !line.empty() && line.back() == '\r';
    if (crlf) line.pop_back();
    if (line.size() > kMaxCommandLine) {
      refuse("line", reply(500, "5.5.2", "Error: line too long"));
    } else if (!crlf) {
      refuse("line", reply(500, "5.5.2", "Error: bare <LF> received; lines end with <CR><LF>"));
    } else if (line.find_first_of(std::string_view("\r\0", 2)) != std::string::npos) {
      refuse("line", reply(500, "5.5.2", "Error: invalid character in command"));
    } else {
      execute(line);
    }
  }
}

size_t ServerSession::body_input(ByteSpan in) {
  if (phase_ == Phase::kData) {
    size_t n = scanner_.scan(in, [&](ByteSpan b) { h_.on_data(b); });
    if (scanner_.done()) finish_body();
    return n;
  }
  // BDAT: exactly bdat_left_ bytes belong to the chunk.
  size_t n = static_cast<size_t>(std::min<uint64_t>(bdat_left_, in.size()));
  if (phase_ == Phase::kBdat) scanner_.scan(in.first(n), [&](ByteSpan b) { h_.on_data(b); });
  bdat_left_ -= n;
  if (bdat_left_ == 0) {
    if (phase_ == Phase::kBdatDiscard) {
      phase_ = after_discard_;
    } else if (bdat_last_) {
      finish_body();
    } else {
      phase_ = Phase::kRcpt;
      send(reply(250, "2.0.0", "Ok: chunk received"));
    }
  }
  return n;
}

void ServerSession::finish_body() {
  EndOfData info{scanner_.size(), scanner_.flags(), txn_.bdat};
  phase_ = Phase::kReady;
  const DataFlags& f = info.flags;
  bool bare = (f.bare_lf || f.bare_cr) && cfg_.bare_newlines == BareNewlines::kReject;
  std::optional<Reply> bad;
  if (f.oversize) bad = reply(552, "5.3.4", "Error: message size exceeds fixed maximum message size");
  else if (bare) bad = reply(550, "5.6.0", "Error: bare <CR> or <LF> in message; lines end with <CR><LF>");
  else if (f.nul) bad = reply(550, "5.6.0", "Error: message contains NUL characters");
  else if (f.long_line) bad = reply(550, "5.6.0", "Error: message has a line longer than 998 characters");
  if (bad) {
    refuse(txn_.bdat ? "BDAT" : "DATA", *bad);
    reset_transaction();
    return;
  }
  pending_ = Pending::kEndOfData;
  Decision d = h_.on_end_of_data(info);
  if (d.kind() != Decision::Kind::kDefer) apply(Pending::kEndOfData, d);
}

void ServerSession::resume(const Decision& d, Tick now) {
  if (pending_ == Pending::kNone || d.kind() == Decision::Kind::kDefer) return;
  last_ns_ = now_ns_ = now.ns;
  apply(pending_, d);
  process();
}

void ServerSession::tls_started(const TlsInfo& info) {
  starttls_requested_ = false;
  tls_active_ = true;
  in_.clear();
  helo_.clear();
  esmtp_ = false;
  if (phase_ != Phase::kNeedHelo) reset_transaction();
  phase_ = Phase::kNeedHelo;
  h_.on_tls(info);
}

void ServerSession::process_buffered(Tick now) {
  if (in_.empty() || closing_ || pending_ != Pending::kNone) return;
  now_ns_ = std::max(now_ns_, now.ns);
  process();
}

void ServerSession::tick(Tick now) {
  if (closing_) return;
  now_ns_ = std::max(now_ns_, now.ns);
  if (delay_until_ns_ && now.ns >= delay_until_ns_) {
    delay_until_ns_ = 0;
    process_buffered(now);
  }
  uint64_t idle = (phase_ == Phase::kData || phase_ == Phase::kBdat) ? cfg_.data_timeout_ns : cfg_.command_timeout_ns;
  bool idle_out = pending_ == Pending::kNone && now.ns - last_ns_ >= idle;
  if (idle_out || now.ns - start_ns_ >= cfg_.session_deadline_ns) {
    h_.on_timeout();
    close_with(reply(421, "4.4.2", cfg_.hostname + " Error: timeout exceeded"));
  }
}

}  // namespace mx::smtp
