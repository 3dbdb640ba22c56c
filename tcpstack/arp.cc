// tcpstack/arp.cc — ARP packet codec and neighbour cache.
#include "tcpstack/arp.h"

#include <cstring>

#include "common/bytes.h"
#include "tcpstack/ethernet.h"

namespace mx::net {

std::optional<ArpPacket> parse_arp(ByteSpan payload) noexcept {
  // RFC 826 packet: htype(2) ptype(2) hlen(1) plen(1) op(2) sha(6) spa(4) tha(6) tpa(4).
  if (payload.size() < kArpPacketLen) return std::nullopt;
  const uint8_t* p = payload.data();
  if (load_be16(p) != kArpHtypeEthernet || load_be16(p + 2) != kEtherTypeIpv4 || p[4] != 6 ||
      p[5] != 4)
    return std::nullopt;
  ArpPacket a;
  a.op = load_be16(p + 6);
  a.sha = MacAddr::from_bytes(p + 8);
  a.spa = Ipv4Addr::load(p + 14);
  a.tha = MacAddr::from_bytes(p + 18);
  a.tpa = Ipv4Addr::load(p + 24);
  return a;
}

void write_arp(uint8_t* p, const ArpPacket& a) noexcept {
  store_be16(p, kArpHtypeEthernet);
  store_be16(p + 2, kEtherTypeIpv4);
  p[4] = 6;
  p[5] = 4;
  store_be16(p + 6, a.op);
  std::memcpy(p + 8, a.sha.b.data(), 6);
  a.spa.store(p + 14);
  std::memcpy(p + 18, a.tha.b.data(), 6);
  a.tpa.store(p + 24);
}

namespace {
uint32_t round_pow2(uint32_t v) {
  uint32_t p = kArpCacheProbe;
  while (p < v && p < kArpCacheMaxEntries) p <<= 1;
  return p;
}
}  // namespace

ArpCache::ArpCache(uint32_t capacity, uint64_t reachable_ns)
    : slots_(round_pow2(capacity)),
      mask_(static_cast<uint32_t>(slots_.size() - 1)),
      reachable_ns_(reachable_ns) {}

uint32_t ArpCache::home(Ipv4Addr ip) const noexcept {
  // Fibonacci hashing spreads consecutive addresses of one subnet over the table.
  return static_cast<uint32_t>((uint64_t{ip.v} * 0x9E3779B97F4A7C15ull) >> 32) & mask_;
}

const ArpCache::Slot* ArpCache::find(Ipv4Addr ip) const noexcept {
  uint32_t h = home(ip);
  for (uint32_t i = 0; i < kArpCacheProbe; ++i) {
    const Slot& s = slots_[(h + i) & mask_];
    if (s.used && s.ip == ip) return &s;
  }
  return nullptr;
}

std::optional<MacAddr> ArpCache::lookup(Ipv4Addr ip, Tick now) const noexcept {
  const Slot* s = find(ip);
  if (!s || now.ns - s->updated_ns >= reachable_ns_) return std::nullopt;
  return s->mac;
}

bool ArpCache::contains(Ipv4Addr ip) const noexcept { return find(ip) != nullptr; }

void ArpCache::update(Ipv4Addr ip, const MacAddr& mac, Tick now) noexcept {
  uint32_t h = home(ip);
  Slot* free_slot = nullptr;
  Slot* oldest = nullptr;
  for (uint32_t i = 0; i < kArpCacheProbe; ++i) {
    Slot& s = slots_[(h + i) & mask_];
    if (s.used && s.ip == ip) {
      s.mac = mac;
      s.updated_ns = now.ns;
      ++stats_.updates;
      return;
    }
    if (!s.used) {
      if (!free_slot) free_slot = &s;
    } else if (!oldest || s.updated_ns < oldest->updated_ns) {
      oldest = &s;
    }
  }
  Slot* dst = free_slot;
  if (!dst) {
    dst = oldest;
    ++stats_.evictions;
    --used_;
  }
  *dst = Slot{ip, mac, now.ns, true};
  ++used_;
  ++stats_.inserts;
}

uint32_t ArpCache::expire(Tick now) noexcept {
  uint32_t n = 0;
  for (Slot& s : slots_) {
    if (s.used && now.ns - s.updated_ns >= reachable_ns_) {
      s.used = false;
      ++n;
    }
  }
  used_ -= n;
  stats_.expiries += n;
  return n;
}

}  // namespace mx::net
