// tcpstack/arp.h — ARP (RFC 826) for Ethernet/IPv4 and a bounded neighbour cache.
//
// SECURITY: parses untrusted frames; every field is bounds-checked before use. The cache has a
// fixed capacity chosen at start-up and never allocates afterwards; a flood of senders evicts
// old entries (counted) instead of growing memory.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/net_types.h"
#include "common/strong_id.h"

namespace mx::net {

constexpr uint32_t kArpPacketLen = 28;
constexpr uint16_t kArpHtypeEthernet = 1;
constexpr uint16_t kArpOpRequest = 1;
constexpr uint16_t kArpOpReply = 2;

// Limits of the neighbour cache (named constants; the capacity is also a config value).
constexpr uint32_t kArpCacheDefaultEntries = 1024;
constexpr uint32_t kArpCacheMaxEntries = 1u << 20;
constexpr uint32_t kArpCacheProbe = 8;  // slots examined per lookup/insert
constexpr uint64_t kArpDefaultReachableNs = 300 * kNsPerSec;

struct ArpPacket {
  uint16_t op{0};
  MacAddr sha, tha;
  Ipv4Addr spa, tpa;
};

// Parses the ARP payload (after the Ethernet header). Only Ethernet/IPv4 ARP is accepted.
std::optional<ArpPacket> parse_arp(ByteSpan payload) noexcept;
// Writes a 28-byte ARP packet at p.
void write_arp(uint8_t* p, const ArpPacket& a) noexcept;

struct ArpCacheStats {
  uint64_t inserts = 0, updates = 0, evictions = 0, expiries = 0;
};

class ArpCache {
 public:
  // capacity is rounded up to a power of two (at least kArpCacheProbe).
  ArpCache(uint32_t capacity, uint64_t reachable_ns);

  // The MAC for ip when an entry exists and is younger than the reachable time.
  std::optional<MacAddr> lookup(Ipv4Addr ip, Tick now) const noexcept;
  // Adds or refreshes an entry.
  void update(Ipv4Addr ip, const MacAddr& mac, Tick now) noexcept;
  // True when ip has an entry (of any age): RFC 826's merge rule updates only known senders.
  bool contains(Ipv4Addr ip) const noexcept;
  // Removes entries older than the reachable time; returns how many.
  uint32_t expire(Tick now) noexcept;

  uint32_t capacity() const noexcept { return static_cast<uint32_t>(slots_.size()); }
  uint32_t size() const noexcept { return used_; }
  const ArpCacheStats& stats() const noexcept { return stats_; }

 private:
  struct Slot {
    Ipv4Addr ip;
    MacAddr mac;
    uint64_t updated_ns = 0;
    bool used = false;
  };
  uint32_t home(Ipv4Addr ip) const noexcept;
  const Slot* find(Ipv4Addr ip) const noexcept;

  std::vector<Slot> slots_;
  uint32_t mask_;
  uint32_t used_ = 0;
  uint64_t reachable_ns_;
  ArpCacheStats stats_;
};

}  // namespace mx::net
