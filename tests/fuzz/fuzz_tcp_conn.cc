// tests/fuzz/fuzz_tcp_conn.cc — arbitrary segments against live TCP state: a listener (echo
// service and a plain listener), a passive connection established by a real handshake, and an
// active connection in SYN-SENT. The input is a script of segments whose fields are taken from
// the fuzz data, with sequence and acknowledgement numbers relative to the connections' own
// (so the fuzzer reaches in-window cases), valid checksums, and time steps that fire timers.
//
// Invariants: no crash or sanitizer report; every frame we send is a well-formed TCP segment
// within the MTU; pools never go negative and are whole again when the stack is destroyed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "tcpstack/ethernet.h"
#include "tcpstack/ipv4.h"
#include "tcpstack/stack.h"
#include "tcpstack/tcp_header.h"
#include "tcpstack/tcp_services.h"

namespace {

using namespace mx;
using namespace mx::net;

const MacAddr kUs{{0x02, 0, 0, 0, 0, 2}}, kPeer{{0x02, 0, 0, 0, 0, 1}};
const Ipv4Addr kUsIp{0xC6120002}, kPeerIp{0xC6120001};

class FuzzNetif final : public Netif {
 public:
  MacAddr mac() const override { return kUs; }
  uint16_t mtu() const override { return 1500; }
  bool tx_alloc(uint32_t len, TxFrame& out) override {
    if (len > sizeof buf_) return false;
    out.data = buf_;
    out.capacity = sizeof buf_;
    out.handle = buf_;
    return true;
  }
  void tx_submit(TxFrame& f) override {
    if (f.len > 1514 || f.len < 14) std::abort();
    if (load_be16(f.data + 12) != kEtherTypeIpv4 || f.data[23] != kIpProtoTcp) return;
    const uint32_t ihl = (f.data[14] & 0x0f) * 4u, total = load_be16(f.data + 16);
    if (14 + total > f.len) std::abort();
    TcpSegment s;
    if (parse_tcp({f.data + 14 + ihl, total - ihl}, kUsIp, kPeerIp, false, s) != TcpVerdict::kOk) std::abort();
    last_seq = s.seq.v;
    last_ack = s.ack.v;
    ++sent;
  }
  // Received frames are held by reference count, like mbufs.
  void rx_hold(void* h) override { ++static_cast<Frame*>(h)->refs; }
  void rx_release(void* h) override {
    auto* f = static_cast<Frame*>(h);
    if (f->refs == 0) std::abort();
    if (--f->refs == 0) delete f;
  }
  struct Frame {
    std::vector<uint8_t> bytes;
    uint32_t refs = 1;
  };
  uint32_t last_seq = 0, last_ack = 0;
  uint64_t sent = 0;

 private:
  uint8_t buf_[2048];
};

struct Reader {
  const uint8_t* p;
  size_t n;
  uint8_t u8() { return n ? (--n, *p++) : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() << 8 | u8()); }
  uint32_t u32() { return static_cast<uint32_t>(u16()) << 16 | u16(); }
};

struct Sink final : TcpListenHandler, TcpHandler {
  TcpLayer* tcp = nullptr;
  void on_acceptable(TcpListener& l) override {
    while (TcpConn* c = tcp->accept(l, this)) (void)c;
  }
  void on_data(TcpConn& c) override {
    // Alternate the three ways of reading, zero copy included.
    RxBuf b;
    if ((c.rcv_nxt.v & 1) && tcp->take(c, b)) {
      tcp->release(b);
      return;
    }
    tcp->consume(c, tcp->readable(c));
  }
  void on_peer_closed(TcpConn& c) override { tcp->close(c); }
  void on_closed(TcpConn&, TcpError) override {}
};

void inject(NetStack& st, FuzzNetif& nif, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
            uint16_t win, const uint8_t* opts, uint32_t olen, const uint8_t* data, uint32_t dlen, bool bad_csum,
            uint64_t now) {
  olen &= ~3u;
  auto* f = new FuzzNetif::Frame;
  std::vector<uint8_t>& b = f->bytes;
  const uint32_t tl = 20 + olen + dlen;
  b.resize(14 + 20 + tl);
  write_eth_header(b.data(), kUs, kPeer, kEtherTypeIpv4);
  Ipv4Header ip;
  ip.total_len = static_cast<uint16_t>(20 + tl);
  ip.ttl = 64;
  ip.proto = kIpProtoTcp;
  ip.src = kPeerIp;
  ip.dst = kUsIp;
  write_ipv4_header(b.data() + 14, ip, false);
  uint8_t* t = b.data() + 34;
  store_be16(t, sport);
  store_be16(t + 2, dport);
  store_be32(t + 4, seq);
  store_be32(t + 8, ack);
  t[12] = static_cast<uint8_t>(((20 + olen) / 4) << 4);
  t[13] = flags;
  store_be16(t + 14, win);
  if (olen) std::memcpy(t + 20, opts, olen);
  if (dlen) std::memcpy(t + 20 + olen, data, dlen);
  store_be16(t + 16, tcp_checksum({t, tl}, kPeerIp, kUsIp));
  if (bad_csum) t[16] ^= 0x40;
  PacketView v{b.data(), static_cast<uint32_t>(b.size()), 0, f};
  st.input(v, Tick{now});
  nif.rx_release(f);  // the port's own reference
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzNetif nif;
  StackConfig cfg;
  cfg.ipv4 = Ipv4Prefix{kUsIp, 24};
  cfg.arp_entries = 16;
  cfg.tcp.max_conns = 32;
  cfg.tcp.rx_segs = 512;
  cfg.tcp.blocks = 256;
  cfg.tcp.syn_backlog = 2;
  cfg.tcp.accept_backlog = 4;
  cfg.tcp.rcv_buf = 16384;
  cfg.tcp.ooo_budget = 16384;
  cfg.tcp.snd_buf = 8192;
  uint64_t now = 1'000'000'000;
  {
    auto st = std::make_unique<NetStack>(nif, cfg, Tick{now});
    st->arp_cache().update(kPeerIp, kPeer, Tick{now});
    Sink sink;
    sink.tcp = &st->tcp();
    TcpServices svc(st->tcp());
    (void)svc.start(kUsIp, kSvcEcho | kSvcChargen);
    (void)st->tcp().listen(kUsIp, 2525, &sink);
    // A real handshake on 2525 so that fuzzed segments meet an established connection.
    const uint8_t syn_opts[] = {2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0};
    inject(*st, nif, 40000, 2525, 1000, 0, kTcpSyn, 65535, syn_opts, sizeof syn_opts, nullptr, 0, false, now);
    const uint32_t our_isn = nif.last_seq;
    const uint8_t ts[] = {1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 0};
    inject(*st, nif, 40000, 2525, 1001, our_isn + 1, kTcpAck, 1024, ts, sizeof ts, nullptr, 0, false, now);
    // And an active open waiting in SYN-SENT.
    TcpConn* active = st->tcp().connect(kPeerIp, 25, &sink, nullptr, nullptr);
    const uint32_t active_isn = nif.last_seq;
    const uint16_t active_port = active ? active->t.local_port : 1;

    Reader r{data, size};
    for (int step = 0; step < 64 && r.n; ++step) {
      const uint8_t kind = r.u8();
      uint16_t sport = 40000, dport = 2525;
      uint32_t base_seq = 1001, base_ack = our_isn + 1;
      switch (kind % 5) {
        case 0: break;                                          // the established connection
        case 1: sport = static_cast<uint16_t>(40001 + kind / 5 % 4); break;  // new handshakes
        case 2: dport = 7; sport = static_cast<uint16_t>(41000 + kind / 5 % 4); break;  // echo
        case 3: sport = 25; dport = active_port; base_seq = 5000; base_ack = active_isn + 1; break;
        case 4: dport = static_cast<uint16_t>(r.u16()); break;  // anything, closed ports included
      }
      const uint32_t seq = base_seq + static_cast<uint32_t>(static_cast<int16_t>(r.u16())) * (kind & 0x80 ? 997u : 1u);
      const uint32_t ack = base_ack + static_cast<uint32_t>(static_cast<int16_t>(r.u16()));
      const uint8_t flags = r.u8();
      const uint16_t win = r.u16();
      uint8_t olen = r.u8() % 41;
      uint8_t opts[40] = {};
      for (uint8_t i = 0; i < olen; ++i) opts[i] = r.u8();
      const uint32_t dlen = std::min<uint32_t>(r.u16() % 1461, static_cast<uint32_t>(r.n));
      const uint8_t* payload = r.p;
      r.p += dlen;
      r.n -= dlen;
      inject(*st, nif, sport, dport, seq, ack, flags, win, opts, olen, payload, dlen, (kind & 0x40) && (flags & 1), now);
      const uint8_t dt = r.u8();
      if (dt & 1) {
        now += static_cast<uint64_t>(dt) * 20 * kNsPerMs;
        st->poll(Tick{now});
      }
    }
    for (int i = 0; i < 20; ++i) {  // let every timer run out
      now += 30 * kNsPerSec;
      st->poll(Tick{now});
    }
    if (st->tcp().blocks_available() > cfg.tcp.blocks || st->tcp().rxsegs_available() > cfg.tcp.rx_segs) std::abort();
  }
  return 0;
}
