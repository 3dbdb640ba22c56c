// tcpstack/tcp_services.cc
#include "tcpstack/tcp_services.h"

#include <algorithm>

namespace mx::net {

namespace {
constexpr uint16_t kPortEcho = 7, kPortDiscard = 9, kPortChargen = 19;
constexpr uint32_t kPatternLen = kChargenLine * kChargenPeriod;
constexpr uint32_t kChunk = 4096;

// Phase of a chargen connection within the pattern, kept in TcpConn::user (no allocation).
uint64_t phase(const TcpConn& c) { return reinterpret_cast<uintptr_t>(c.user); }
void set_phase(TcpConn& c, uint64_t p) { c.user = reinterpret_cast<void*>(static_cast<uintptr_t>(p % kPatternLen)); }
}  // namespace

uint8_t chargen_byte(uint64_t offset) noexcept {
  const uint64_t line = offset / kChargenLine, col = offset % kChargenLine;
  if (col == kChargenLine - 2) return '\r';
  if (col == kChargenLine - 1) return '\n';
  return static_cast<uint8_t>(' ' + (line + col) % kChargenPeriod);
}

Expected<bool> TcpServices::start(Ipv4Addr addr, uint32_t mask) {
  discard_.s = echo_.s = chargen_.s = source_.s = this;
  source_.source = true;
  const struct { uint32_t bit; uint16_t port; } svc[] = {
      {kSvcDiscard, kPortDiscard}, {kSvcEcho, kPortEcho}, {kSvcChargen, kPortChargen}};
  for (int i = 0; i < 3; ++i) {
    if (!(mask & svc[i].bit)) continue;
    auto l = tcp_.listen(addr, svc[i].port, this);
    if (!l) return l.error();
    listeners_[i] = *l;
  }
  return true;
}

bool TcpServices::start_source(Ipv4Addr dst, uint16_t port, uint64_t bytes) {
  discard_.s = echo_.s = chargen_.s = source_.s = this;
  source_.source = true;
  source_left_ = bytes;
  TcpError err;
  TcpConn* c = tcp_.connect(dst, port, &source_, nullptr, &err);
  if (!c) st_.source_failed = true;
  return c != nullptr;
}

void TcpServices::on_acceptable(TcpListener& l) {
  TcpHandler* h = &l == listeners_[0] ? static_cast<TcpHandler*>(&discard_)
                  : &l == listeners_[1] ? static_cast<TcpHandler*>(&echo_)
                                        : static_cast<TcpHandler*>(&chargen_);
  while (TcpConn* c = tcp_.accept(l, h, nullptr)) {
    ++st_.accepted;
    if (h == &chargen_) chargen_.pump(*c);
  }
}

void TcpServices::Discard::on_data(TcpConn& c) {
  const uint32_t n = s->tcp_.readable(c);
  s->st_.discard_bytes += n;
  s->tcp_.consume(c, n);
}

void TcpServices::Discard::on_peer_closed(TcpConn& c) { s->tcp_.close(c); }

// Sends back what the peer sent, as fast as the peer takes it: bytes stay in our receive queue
// (closing our window) until they fit in the send buffer.
void TcpServices::Echo::pump(TcpConn& c) {
  TcpLayer& t = s->tcp_;
  for (ByteSpan d = t.peek(c); !d.empty(); d = t.peek(c)) {
    const uint32_t k = t.send(c, d);
    s->st_.echo_bytes += k;
    t.consume(c, k);
    if (k < d.size()) return;
  }
  if (c.has(kCfFinRcvd)) t.close(c);
}

void TcpServices::Echo::on_peer_closed(TcpConn& c) {
  if (s->tcp_.readable(c) == 0) s->tcp_.close(c);  // else pump closes once the rest is sent
}

void TcpServices::Chargen::pump(TcpConn& c) {
  TcpLayer& t = s->tcp_;
  uint8_t buf[kChunk];
  for (;;) {
    uint64_t want = kChunk;
    if (source) want = std::min<uint64_t>(want, s->source_left_);
    if (want == 0) break;
    const uint64_t p = phase(c);
    for (uint32_t i = 0; i < want; ++i) buf[i] = chargen_byte(p + i);
    const uint32_t k = t.send(c, {buf, static_cast<size_t>(want)});
    set_phase(c, p + k);
    if (source) {
      s->source_left_ -= k;
      s->st_.source_bytes += k;
    } else {
      s->st_.chargen_bytes += k;
    }
    if (k < want) return;
  }
  if (source) {
    s->st_.source_done = true;
    t.close(c);
  }
}

void TcpServices::Chargen::on_data(TcpConn& c) { s->tcp_.consume(c, s->tcp_.readable(c)); }  // RFC 864: ignored

void TcpServices::Chargen::on_peer_closed(TcpConn& c) { s->tcp_.close(c); }

void TcpServices::Chargen::on_closed(TcpConn&, TcpError e) {
  if (source && e != TcpError::kNone) s->st_.source_failed = true;
}

}  // namespace mx::net
