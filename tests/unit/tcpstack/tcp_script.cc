// tests/unit/tcpstack/tcp_script.cc
#include "tests/unit/tcpstack/tcp_script.h"

#include "tcpstack/ethernet.h"
#include "tcpstack/ipv4.h"

namespace mx::test {

Bytes opt_mss(uint16_t mss) { return {2, 4, static_cast<uint8_t>(mss >> 8), static_cast<uint8_t>(mss)}; }
Bytes opt_ws(uint8_t shift) { return {1, 3, 3, shift}; }
Bytes opt_sack_perm() { return {1, 1, 4, 2}; }
Bytes opt_ts(uint32_t val, uint32_t ecr) {
  Bytes b{1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0};
  store_be32(b.data() + 4, val);
  store_be32(b.data() + 8, ecr);
  return b;
}
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes b;
  for (const Bytes& p : parts) b.insert(b.end(), p.begin(), p.end());
  return b;
}

void TcpScript::start() {
  cfg.tcp.syn_backlog = 8;
  cfg.tcp.rcv_buf = 65535;  // no window scaling needed: windows stay readable in tests
  cfg.tcp.msl_ns = 1 * kNsPerSec;
  cfg.tcp.isn_fixed = 5000;
  st = std::make_unique<net::NetStack>(netif, cfg, Tick{now});
  st->arp_cache().update(kPeerIp, kPeerMac, Tick{now});
  app.tcp = &st->tcp();
}

void TcpScript::inject(const Seg& s) {
  Bytes opts = s.opts;
  while (opts.size() % 4) opts.push_back(0);  // end-of-list padding
  Bytes t(20 + opts.size());
  store_be16(t.data(), s.sport);
  store_be16(t.data() + 2, s.dport);
  store_be32(t.data() + 4, s.seq);
  store_be32(t.data() + 8, s.ack);
  t[12] = static_cast<uint8_t>((t.size() / 4) << 4);
  t[13] = s.flags;
  store_be16(t.data() + 14, s.win);
  store_be16(t.data() + 18, s.urgent);
  std::copy(opts.begin(), opts.end(), t.begin() + 20);
  t.insert(t.end(), s.data.begin(), s.data.end());
  store_be16(t.data() + 16, net::tcp_checksum({t.data(), t.size()}, kPeerIp, kOurIp));
  const Bytes frame = eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4, ipv4_datagram(kPeerIp, kOurIp, net::kIpProtoTcp, t));
  st->input(view(frame), Tick{now});
}

std::vector<Out> TcpScript::out() {
  std::vector<Out> v;
  for (const Bytes& f : netif.sent) {
    if (f.size() < 34 || load_be16(f.data() + 12) != net::kEtherTypeIpv4 || f[23] != net::kIpProtoTcp) continue;
    const uint32_t ihl = (f[14] & 0x0f) * 4u;
    const uint32_t total = load_be16(f.data() + 16);
    EXPECT_LE(f.size(), 1514u);
    ByteSpan seg{f.data() + 14 + ihl, total - ihl};
    Out o;
    EXPECT_EQ(net::parse_tcp(seg, kOurIp, kPeerIp, false, o.s), net::TcpVerdict::kOk) << "we sent a malformed segment";
    o.payload.assign(o.s.payload.begin(), o.s.payload.end());
    v.push_back(o);
  }
  netif.sent.clear();
  return v;
}

void TcpScript::advance(uint64_t ns) {
  now += ns;
  st->poll(Tick{now});
}

uint32_t TcpScript::establish(const Bytes& syn_opts, uint16_t sport) {
  if (!listener) {
    auto l = st->tcp().listen(kOurIp, 2525, &app);
    EXPECT_TRUE(l);
    listener = *l;
  }
  inject(Seg{sport, 2525, 1000, 0, net::kTcpSyn, 65535, syn_opts, {}});
  auto o = out();
  EXPECT_EQ(o.size(), 1u);
  if (o.empty()) return 0;
  EXPECT_EQ(o[0].s.flags, net::kTcpSyn | net::kTcpAck);
  EXPECT_EQ(o[0].s.ack.v, 1001u);
  const uint32_t iss = o[0].s.seq.v;
  Bytes ack_opts;
  if (o[0].s.opt.has_timestamps) ack_opts = opt_ts(101, o[0].s.opt.ts_val);
  inject(Seg{sport, 2525, 1001, iss + 1, net::kTcpAck, 65535, ack_opts, {}});
  return iss;
}

}  // namespace mx::test
