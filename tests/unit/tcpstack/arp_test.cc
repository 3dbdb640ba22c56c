// tests/unit/tcpstack/arp_test.cc — ARP request/reply (RFC 826) and the bounded cache.
#include <gtest/gtest.h>

#include "common/bytes.h"
#include "tcpstack/arp.h"
#include "tcpstack/ethernet.h"
#include "tests/unit/tcpstack/frames.h"

namespace mx::test {
namespace {

class ArpTest : public ::testing::Test {
 protected:
  CaptureNetif netif{kOurMac};
  net::NetStack stack{netif, lab_stack_config()};
  void feed(const Bytes& f, uint64_t t = 1) { stack.input(view(f), Tick{t}); }
  Bytes request(const MacAddr& sha, Ipv4Addr spa, Ipv4Addr tpa, const MacAddr& dst = MacAddr::broadcast()) {
    return eth_frame(dst, sha, net::kEtherTypeArp, arp_payload(net::kArpOpRequest, sha, spa, MacAddr{}, tpa));
  }
  const net::L2L3Counters& c() { return stack.counters(); }
};

TEST_F(ArpTest, RequestForOurAddressGetsAUnicastReply) {
  feed(request(kPeerMac, kPeerIp, kOurIp));
  ASSERT_EQ(netif.sent.size(), 1u);
  const Bytes& r = netif.sent[0];
  ASSERT_EQ(r.size(), net::kEthHeaderLen + net::kArpPacketLen);
  EXPECT_EQ(MacAddr::from_bytes(&r[0]), kPeerMac);
  EXPECT_EQ(MacAddr::from_bytes(&r[6]), kOurMac);
  EXPECT_EQ(load_be16(&r[12]), net::kEtherTypeArp);
  auto a = net::parse_arp(ByteSpan(r).subspan(net::kEthHeaderLen));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->op, net::kArpOpReply);
  EXPECT_EQ(a->sha, kOurMac);
  EXPECT_EQ(a->spa, kOurIp);
  EXPECT_EQ(a->tha, kPeerMac);
  EXPECT_EQ(a->tpa, kPeerIp);
  EXPECT_EQ(c().arp_request_in, 1u);
  EXPECT_EQ(c().arp_reply_out, 1u);
  // The requester is learnt (RFC 826: the target adds the sender).
  EXPECT_EQ(stack.arp_cache().lookup(kPeerIp, Tick{2}), kPeerMac);
}

TEST_F(ArpTest, UnicastRequestAndPaddedFrameAreAnswered) {
  Bytes f = request(kPeerMac, kPeerIp, kOurIp, kOurMac);
  f.resize(60, 0);  // minimum Ethernet frame with padding
  feed(f);
  EXPECT_EQ(netif.sent.size(), 1u);
}

TEST_F(ArpTest, RequestForAnotherAddressIsNotAnsweredNorLearnt) {
  feed(request(kPeerMac, kPeerIp, Ipv4Addr{0xC6120063}));
  EXPECT_TRUE(netif.sent.empty());
  EXPECT_EQ(c().arp_not_for_us, 1u);
  EXPECT_FALSE(stack.arp_cache().contains(kPeerIp));
}

TEST_F(ArpTest, KnownSenderIsRefreshedByAnyArp) {
  feed(request(kPeerMac, kPeerIp, kOurIp));
  MacAddr moved{{0x02, 0, 0, 0, 0, 0x77}};
  feed(request(moved, kPeerIp, Ipv4Addr{0xC6120063}), 5);
  EXPECT_EQ(stack.arp_cache().lookup(kPeerIp, Tick{6}), moved);
}

TEST_F(ArpTest, ProbeWithZeroSenderIsAnsweredButNotLearnt) {
  feed(request(kPeerMac, Ipv4Addr{0}, kOurIp));
  ASSERT_EQ(netif.sent.size(), 1u);
  EXPECT_EQ(stack.arp_cache().size(), 0u);
}

TEST_F(ArpTest, SenderOutsideOurSubnetIsNotLearnt) {
  feed(request(kPeerMac, Ipv4Addr{0x0A000001}, kOurIp));
  EXPECT_EQ(netif.sent.size(), 1u);
  EXPECT_EQ(stack.arp_cache().size(), 0u);
}

TEST_F(ArpTest, ReplyIsCountedAndLearntOnlyForKnownSenders) {
  feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeArp,
                 arp_payload(net::kArpOpReply, kPeerMac, kPeerIp, kOurMac, kOurIp)));
  EXPECT_EQ(c().arp_reply_in, 1u);
  EXPECT_TRUE(netif.sent.empty());
  EXPECT_TRUE(stack.arp_cache().contains(kPeerIp));  // it was addressed to us
}

TEST_F(ArpTest, MalformedPacketsAreDropped) {
  Bytes good = arp_payload(net::kArpOpRequest, kPeerMac, kPeerIp, MacAddr{}, kOurIp);
  for (size_t len = 0; len < net::kArpPacketLen; ++len)
    feed(eth_frame(MacAddr::broadcast(), kPeerMac, net::kEtherTypeArp, Bytes(good.begin(), good.begin() + len)));
  EXPECT_EQ(c().arp_drop_malformed, net::kArpPacketLen);
  struct Mut { size_t off; uint8_t val; };
  for (Mut m : {Mut{1, 6} /* htype */, Mut{2, 0x86} /* ptype */, Mut{4, 8} /* hlen */, Mut{5, 16} /* plen */}) {
    Bytes b = good;
    b[m.off] = m.val;
    feed(eth_frame(MacAddr::broadcast(), kPeerMac, net::kEtherTypeArp, b));
  }
  EXPECT_EQ(c().arp_drop_malformed, net::kArpPacketLen + 4);
  Bytes bad_op = good;
  bad_op[7] = 3;  // RARP request
  feed(eth_frame(MacAddr::broadcast(), kPeerMac, net::kEtherTypeArp, bad_op));
  EXPECT_EQ(c().arp_drop_bad_op, 1u);
  EXPECT_TRUE(netif.sent.empty());
}

TEST_F(ArpTest, UnusableSendersAreRefused) {
  feed(request(MacAddr{{0x01, 0, 0, 0, 0, 1}}, kPeerIp, kOurIp, MacAddr::broadcast()));  // eth src multicast
  EXPECT_EQ(c().eth_drop_bad_src, 1u);
  auto bad_sha = [&](const MacAddr& sha, Ipv4Addr spa) {
    feed(eth_frame(MacAddr::broadcast(), kPeerMac, net::kEtherTypeArp,
                   arp_payload(net::kArpOpRequest, sha, spa, MacAddr{}, kOurIp)));
  };
  bad_sha(MacAddr::broadcast(), kPeerIp);
  bad_sha(MacAddr{}, kPeerIp);
  bad_sha(kPeerMac, Ipv4Addr{0xE0000001});  // multicast sender IP
  bad_sha(kPeerMac, Ipv4Addr{0xFFFFFFFF});
  bad_sha(kPeerMac, Ipv4Addr{0x7F000001});
  EXPECT_EQ(c().arp_drop_bad_sender, 5u);
  EXPECT_TRUE(netif.sent.empty());
}

TEST_F(ArpTest, ClaimOfOurAddressIsACountedConflictNotAnUpdate) {
  feed(request(kPeerMac, kOurIp, kOurIp));
  EXPECT_EQ(c().arp_conflict, 1u);
  EXPECT_TRUE(netif.sent.empty());
  EXPECT_FALSE(stack.arp_cache().contains(kOurIp));
}

TEST_F(ArpTest, NoBufferMeansCountedDropNotCrash) {
  netif.fail_alloc = true;
  feed(request(kPeerMac, kPeerIp, kOurIp));
  EXPECT_EQ(c().tx_drop_no_buffer, 1u);
  EXPECT_EQ(c().arp_reply_out, 0u);
}

TEST_F(ArpTest, RequestOutIsBroadcast) {
  ASSERT_TRUE(stack.send_arp_request(kPeerIp));
  ASSERT_EQ(netif.sent.size(), 1u);
  EXPECT_TRUE(MacAddr::from_bytes(netif.sent[0].data()).is_broadcast());
  auto a = net::parse_arp(ByteSpan(netif.sent[0]).subspan(net::kEthHeaderLen));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->op, net::kArpOpRequest);
  EXPECT_EQ(a->tpa, kPeerIp);
  EXPECT_EQ(a->spa, kOurIp);
}

TEST(ArpCache, EntriesAgeOut) {
  net::ArpCache cache(16, 10 * kNsPerSec);
  cache.update(kPeerIp, kPeerMac, Tick{0});
  EXPECT_EQ(cache.lookup(kPeerIp, Tick{9 * kNsPerSec}), kPeerMac);
  EXPECT_FALSE(cache.lookup(kPeerIp, Tick{10 * kNsPerSec}));
  EXPECT_EQ(cache.expire(Tick{11 * kNsPerSec}), 1u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.contains(kPeerIp));
}

TEST(ArpCache, FloodStaysBoundedAndEvictsOldest) {
  net::ArpCache cache(64, 3600 * kNsPerSec);
  for (uint32_t i = 0; i < 100000; ++i) cache.update(Ipv4Addr{0x0A000000 + i}, kPeerMac, Tick{i});
  EXPECT_EQ(cache.capacity(), 64u);
  EXPECT_LE(cache.size(), 64u);
  EXPECT_GT(cache.stats().evictions, 0u);
  // The newest entry is always present.
  EXPECT_TRUE(cache.lookup(Ipv4Addr{0x0A000000 + 99999}, Tick{100000}));
}

TEST(ArpCache, CapacityRoundsToPowerOfTwo) {
  EXPECT_EQ(net::ArpCache(100, 1).capacity(), 128u);
  EXPECT_EQ(net::ArpCache(1, 1).capacity(), net::kArpCacheProbe);
}

}  // namespace
}  // namespace mx::test
