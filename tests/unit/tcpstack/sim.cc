// tests/unit/tcpstack/sim.cc
#include "tests/unit/tcpstack/sim.h"

#include <cstring>

namespace mx::test {

bool SimNetif::tx_alloc(uint32_t len, net::TxFrame& out) {
  uint32_t idx;
  if (len > static_cast<uint32_t>(mtu_) + 14u) {  // a stack bug: frames must fit the link
    ++sim_.oversize_frames;
    return false;
  }
  if (len > Sim::kBufSize || !sim_.alloc(idx)) return false;
  out.data = sim_.data(idx);
  out.capacity = Sim::kBufSize;
  out.len = 0;
  out.handle = reinterpret_cast<void*>(static_cast<uintptr_t>(idx) + 1);
  return true;
}

void SimNetif::tx_submit(net::TxFrame& frame) {
  const auto idx = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(frame.handle) - 1);
  sim_.transmit(side_, idx, frame.len, frame.offload);
}

void SimNetif::rx_hold(void* handle) { sim_.ref(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(handle) - 1)); }
void SimNetif::rx_release(void* handle) {
  sim_.unref(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(handle) - 1));
}

Sim::Sim(uint64_t seed, const LinkModel& a_to_b, const LinkModel& b_to_a, const net::TcpConfig& tcp, uint64_t start_ns)
    : now_(start_ns), link_{a_to_b, b_to_a}, rng_{net::ImpairRng(seed * 2 + 1), net::ImpairRng(seed * 2 + 2)} {
  const MacAddr macs[2] = {MacAddr{{0x02, 0, 0, 0, 0, 0x0a}}, MacAddr{{0x02, 0, 0, 0, 0, 0x0b}}};
  const Ipv4Addr ips[2] = {kIpA, kIpB};
  for (int i = 0; i < 2; ++i) {
    netif_[i] = std::make_unique<SimNetif>(*this, i, macs[i]);
    net::StackConfig c;
    c.ipv4 = Ipv4Prefix{ips[i], 24};
    c.arp_entries = 16;
    c.tcp = tcp;
    c.tcp.key0 ^= seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(i);
    c.tcp.key1 ^= seed + 7 * static_cast<uint64_t>(i);
    stack_[i] = std::make_unique<net::NetStack>(*netif_[i], c, Tick{now_});
  }
}

Sim::~Sim() {
  while (!q_.empty()) q_.pop();
  stack_[0].reset();
  stack_[1].reset();
}

void Sim::set_offload(bool on) {
  for (auto& n : netif_) n->caps_ = on ? (net::kTxIpv4Csum | net::kTxTcpCsum) : 0;
}

void Sim::prime_arp() {
  stack_[0]->arp_cache().update(kIpB, netif_[1]->mac(), Tick{now_});
  stack_[1]->arp_cache().update(kIpA, netif_[0]->mac(), Tick{now_});
}

bool Sim::alloc(uint32_t& idx) {
  if (free_.empty()) {
    if (bufs_.size() >= (1u << 20)) return false;  // a runaway would otherwise eat the machine
    bufs_.emplace_back();
    refs_.push_back(0);
    free_.push_back(static_cast<uint32_t>(bufs_.size() - 1));
  }
  idx = free_.back();
  free_.pop_back();
  refs_[idx] = 1;
  return true;
}

void Sim::unref(uint32_t idx) {
  if (--refs_[idx] == 0) free_.push_back(idx);
}

void Sim::enqueue(int to, uint32_t idx, uint32_t len, uint64_t due, uint32_t rx_flags) {
  q_.push(InFlight{due, order_++, idx, len, to, rx_flags});
}

void Sim::transmit(int from, uint32_t idx, uint32_t len, uint32_t offload) {
  uint32_t good = 0;
  if (offload & net::kTxIpv4Csum) good |= net::kRxIpCsumGood;
  if (offload & net::kTxTcpCsum) good |= net::kRxL4CsumGood;
  const int to = 1 - from;
  const LinkModel& m = link_[from];
  SimStats& st = stats_[from];
  ++st.frames;
  uint64_t start = now_;
  if (m.bandwidth_bps) {
    const uint64_t ser = (static_cast<uint64_t>(len) * 8 * 1'000'000'000ull) / m.bandwidth_bps;
    const uint64_t backlog_ns = link_free_at_[from] > now_ ? link_free_at_[from] - now_ : 0;
    if (backlog_ns * m.bandwidth_bps / 8'000'000'000ull > m.queue_bytes) {
      ++st.queue_drops;
      unref(idx);
      return;
    }
    start = std::max(now_, link_free_at_[from]) + ser;
    link_free_at_[from] = start;
  }
  const uint64_t due = start + m.delay_ns;
  switch (net::impair_decide(m.impair, rng_[from])) {
    case net::ImpairAction::kPass:
      enqueue(to, idx, len, due, good);
      return;
    case net::ImpairAction::kDrop:
      ++st.dropped;
      unref(idx);
      return;
    case net::ImpairAction::kDup: {
      ++st.duplicated;
      uint32_t copy;
      if (alloc(copy)) {
        std::memcpy(data(copy), data(idx), len);
        enqueue(to, copy, len, due + 1, good);
      }
      enqueue(to, idx, len, due, good);
      return;
    }
    case net::ImpairAction::kReorder:
      ++st.reordered;
      enqueue(to, idx, len, due + (m.reorder_ns ? m.reorder_ns : 1'000'000) + rng_[from].below(1000), good);
      return;
    case net::ImpairAction::kCorrupt: {
      ++st.corrupted;
      const uint32_t bit = static_cast<uint32_t>(rng_[from].below(static_cast<uint64_t>(len) * 8));
      data(idx)[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      // With offload the receiving NIC would find the damage: flag it as such.
      uint32_t flags = 0;
      if (good & net::kRxIpCsumGood) flags |= bit / 8 < 34 ? net::kRxIpCsumBad : net::kRxIpCsumGood;
      if (good & net::kRxL4CsumGood) flags |= bit / 8 >= 34 ? net::kRxL4CsumBad : net::kRxL4CsumGood;
      enqueue(to, idx, len, due, flags);
      return;
    }
  }
}

void Sim::step(uint64_t end) {
  while (!q_.empty() && q_.top().due <= now_) {
    const InFlight f = q_.top();
    q_.pop();
    net::PacketView v{data(f.idx), f.len, f.rx_flags, reinterpret_cast<void*>(static_cast<uintptr_t>(f.idx) + 1)};
    stack_[f.to]->input(v, Tick{now_});
    unref(f.idx);
  }
  stack_[0]->poll(Tick{now_});
  stack_[1]->poll(Tick{now_});
  if (!q_.empty() && q_.top().due <= now_) return;  // frames sent at this instant: deliver them
  uint64_t next = now_ + 1'000'000;                 // the timer wheel's tick
  if (!q_.empty() && q_.top().due < next) next = q_.top().due;
  now_ = std::min(next, std::max(end, now_ + 1));
}

namespace {
uint64_t stream_word(uint64_t seed, uint64_t w) {
  uint64_t x = (seed ^ w) * 0x9e3779b97f4a7c15ull;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ull;
  return x ^ (x >> 32);
}
}  // namespace

void StreamGen::fill(uint64_t offset, uint8_t* out, uint32_t n) const {
  // Each 8-byte word w of the stream is a hash of (seed, w): random access, deterministic.
  uint32_t i = 0;
  while (i < n && (offset + i) % 8 != 0) {
    const uint64_t pos = offset + i;
    out[i++] = static_cast<uint8_t>(stream_word(seed_, pos / 8) >> (8 * (pos % 8)));
  }
  for (; i + 8 <= n; i += 8) {
    const uint64_t w = stream_word(seed_, (offset + i) / 8);
    std::memcpy(out + i, &w, 8);  // little-endian machines: byte k is bits 8k..8k+7
  }
  for (; i < n; ++i) {
    const uint64_t pos = offset + i;
    out[i] = static_cast<uint8_t>(stream_word(seed_, pos / 8) >> (8 * (pos % 8)));
  }
}

}  // namespace mx::test
