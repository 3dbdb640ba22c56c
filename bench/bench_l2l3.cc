// bench/bench_l2l3.cc — cost of the L2/L3 input path per frame, against baselines measured in
// the same run:
//   BM_Baseline_CopyFrame       memcpy of the same frame into a tx buffer (the floor for any
//                               path that builds a reply frame)
//   BM_EchoRequestToReply       NetStack::input on an ICMP echo request, reply built
//   BM_ArpRequestToReply        NetStack::input on an ARP request for our address
//   BM_DropNotForUs             a unicast frame for another MAC (the cheapest drop)
//   BM_Checksum / BM_Baseline_Checksum16  our RFC 1071 sum vs the textbook 16-bit loop
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "common/bytes.h"
#include "tcpstack/checksum.h"
#include "tcpstack/stack.h"

namespace {

using Bytes = std::vector<uint8_t>;
const mx::MacAddr kOur{{0x02, 0, 0, 0, 0, 2}};
const mx::MacAddr kPeer{{0x02, 0, 0, 0, 0, 1}};

class BenchNetif final : public mx::net::Netif {
 public:
  mx::MacAddr mac() const override { return kOur; }
  uint16_t mtu() const override { return 1500; }
  bool tx_alloc(uint32_t, mx::net::TxFrame& out) override {
    out.data = buf;
    out.capacity = sizeof buf;
    return true;
  }
  void tx_submit(mx::net::TxFrame& f) override { benchmark::DoNotOptimize(f.data[f.len - 1]); }
  void rx_hold(void*) override {}
  void rx_release(void*) override {}
  uint8_t buf[2048];
};

uint16_t sum16(const uint8_t* p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += (p[i] << 8) | p[i + 1];
  if (n & 1) s += p[n - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

Bytes echo_frame(size_t payload) {
  Bytes f(14 + 20 + 8 + payload, 0x61);
  std::memcpy(&f[0], kOur.b.data(), 6);
  std::memcpy(&f[6], kPeer.b.data(), 6);
  mx::store_be16(&f[12], 0x0800);
  uint8_t* ip = &f[14];
  ip[0] = 0x45;
  ip[1] = 0;
  mx::store_be16(ip + 2, static_cast<uint16_t>(28 + payload));
  mx::store_be16(ip + 4, 1);
  mx::store_be16(ip + 6, 0);
  ip[8] = 64;
  ip[9] = 1;
  mx::store_be16(ip + 10, 0);
  mx::store_be32(ip + 12, 0xC6120001);
  mx::store_be32(ip + 16, 0xC6120002);
  mx::store_be16(ip + 10, mx::net::inet_checksum({ip, 20}));
  uint8_t* icmp = ip + 20;
  icmp[0] = 8;
  icmp[1] = 0;
  mx::store_be16(icmp + 2, 0);
  mx::store_be32(icmp + 4, 0x00010001);
  mx::store_be16(icmp + 2, mx::net::inet_checksum({icmp, 8 + payload}));
  return f;
}

Bytes arp_frame() {
  Bytes f(42, 0);
  std::memset(&f[0], 0xff, 6);
  std::memcpy(&f[6], kPeer.b.data(), 6);
  mx::store_be16(&f[12], 0x0806);
  uint8_t* a = &f[14];
  mx::store_be16(a, 1);
  mx::store_be16(a + 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  mx::store_be16(a + 6, 1);
  std::memcpy(a + 8, kPeer.b.data(), 6);
  mx::store_be32(a + 14, 0xC6120001);
  mx::store_be32(a + 24, 0xC6120002);
  return f;
}

mx::net::StackConfig cfg() {
  mx::net::StackConfig c;
  c.ipv4 = mx::Ipv4Prefix{mx::Ipv4Addr{0xC6120002}, 24};
  return c;
}

void BM_Baseline_CopyFrame(benchmark::State& st) {
  Bytes f = echo_frame(static_cast<size_t>(st.range(0)));
  BenchNetif n;
  for (auto _ : st) {
    std::memcpy(n.buf, f.data(), f.size());
    benchmark::DoNotOptimize(n.buf[f.size() - 1]);
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(st.iterations());
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * f.size()));
}
BENCHMARK(BM_Baseline_CopyFrame)->Arg(56)->Arg(1472 - 8);

void BM_EchoRequestToReply(benchmark::State& st) {
  Bytes f = echo_frame(static_cast<size_t>(st.range(0)));
  BenchNetif n;
  mx::net::NetStack s(n, cfg());
  mx::net::PacketView v{f.data(), static_cast<uint32_t>(f.size()), 0};
  for (auto _ : st) s.input(v, mx::Tick{1});
  if (s.counters().icmp_echo_reply_out != static_cast<uint64_t>(st.iterations())) st.SkipWithError("echo path did not reply");
  st.SetItemsProcessed(st.iterations());
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * f.size()));
}
BENCHMARK(BM_EchoRequestToReply)->Arg(56)->Arg(1472 - 8);

void BM_ArpRequestToReply(benchmark::State& st) {
  Bytes f = arp_frame();
  BenchNetif n;
  mx::net::NetStack s(n, cfg());
  mx::net::PacketView v{f.data(), static_cast<uint32_t>(f.size()), 0};
  for (auto _ : st) s.input(v, mx::Tick{1});
  if (s.counters().arp_reply_out != static_cast<uint64_t>(st.iterations())) st.SkipWithError("arp path did not reply");
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_ArpRequestToReply);

void BM_DropNotForUs(benchmark::State& st) {
  Bytes f = echo_frame(56);
  f[5] = 0x99;
  BenchNetif n;
  mx::net::NetStack s(n, cfg());
  mx::net::PacketView v{f.data(), static_cast<uint32_t>(f.size()), 0};
  for (auto _ : st) s.input(v, mx::Tick{1});
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_DropNotForUs);

void BM_Checksum(benchmark::State& st) {
  Bytes d(static_cast<size_t>(st.range(0)), 0x5a);
  for (auto _ : st) benchmark::DoNotOptimize(mx::net::inet_checksum(d));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * d.size()));
}
BENCHMARK(BM_Checksum)->Arg(20)->Arg(1480);

void BM_Baseline_Checksum16(benchmark::State& st) {
  Bytes d(static_cast<size_t>(st.range(0)), 0x5a);
  for (auto _ : st) benchmark::DoNotOptimize(sum16(d.data(), d.size()));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * d.size()));
}
BENCHMARK(BM_Baseline_Checksum16)->Arg(20)->Arg(1480);

}  // namespace

BENCHMARK_MAIN();
