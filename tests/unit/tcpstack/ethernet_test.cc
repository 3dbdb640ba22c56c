// tests/unit/tcpstack/ethernet_test.cc — Ethernet-level acceptance and dispatch of NetStack.
#include <gtest/gtest.h>

#include "tcpstack/ethernet.h"
#include "tests/unit/tcpstack/frames.h"

namespace mx::test {
namespace {

class EthernetTest : public ::testing::Test {
 protected:
  CaptureNetif netif{kOurMac};
  net::NetStack stack{netif, lab_stack_config()};
  void feed(const Bytes& f) { stack.input(view(f), Tick{1}); }
  const net::L2L3Counters& c() { return stack.counters(); }
};

TEST_F(EthernetTest, EmptyAndShortFramesAreDroppedAndCounted) {
  for (size_t len = 0; len < net::kEthHeaderLen; ++len) feed(Bytes(len, 0xff));
  EXPECT_EQ(c().eth_rx_frames, net::kEthHeaderLen);
  EXPECT_EQ(c().eth_drop_short, net::kEthHeaderLen);
  EXPECT_TRUE(netif.sent.empty());
}

TEST_F(EthernetTest, UnicastToAnotherMacIsDropped) {
  MacAddr other{{0x02, 0, 0, 0, 0, 0x99}};
  feed(eth_frame(other, kPeerMac, net::kEtherTypeIpv4, Bytes(40)));
  EXPECT_EQ(c().eth_drop_not_for_us, 1u);
  EXPECT_EQ(c().ipv4_rx, 0u);
}

TEST_F(EthernetTest, MulticastOrZeroSourceIsDropped) {
  feed(eth_frame(kOurMac, MacAddr::broadcast(), net::kEtherTypeArp, Bytes(28)));
  feed(eth_frame(kOurMac, MacAddr{{0x01, 0, 0x5e, 0, 0, 1}}, net::kEtherTypeArp, Bytes(28)));
  feed(eth_frame(kOurMac, MacAddr{}, net::kEtherTypeArp, Bytes(28)));
  EXPECT_EQ(c().eth_drop_bad_src, 3u);
  EXPECT_EQ(c().arp_rx, 0u);
}

TEST_F(EthernetTest, VlanTaggedAndUnknownTypesAreCounted) {
  feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeVlan, Bytes(46)));
  feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeQinQ, Bytes(46)));
  feed(eth_frame(kOurMac, kPeerMac, 0x88cc /* LLDP */, Bytes(46)));
  feed(eth_frame(kOurMac, kPeerMac, 0x0005 /* 802.3 length field */, Bytes(46)));
  EXPECT_EQ(c().eth_drop_vlan, 2u);
  EXPECT_EQ(c().eth_drop_unknown_type, 2u);
}

TEST_F(EthernetTest, Ipv6IsCountedAsUnhandled) {
  feed(eth_frame(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kPeerMac, net::kEtherTypeIpv6, Bytes(40)));
  EXPECT_EQ(c().ipv6_rx_unhandled, 1u);
}

TEST_F(EthernetTest, HeaderOnlyFramesOfEachTypeDoNotReadPastTheEnd) {
  for (uint16_t t : {net::kEtherTypeArp, net::kEtherTypeIpv4, net::kEtherTypeIpv6}) {
    Bytes f = eth_frame(kOurMac, kPeerMac, t, {});
    feed(f);
  }
  EXPECT_EQ(c().arp_drop_malformed, 1u);
  EXPECT_EQ(c().ipv4_drop_short, 1u);
  EXPECT_TRUE(netif.sent.empty());
}

TEST(MacAddr, ParseAndFormat) {
  auto m = MacAddr::parse("02:aB:cd:EF:00:09");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->to_string(), "02:ab:cd:ef:00:09");
  EXPECT_FALSE(MacAddr::parse("02:ab:cd:ef:00"));
  EXPECT_FALSE(MacAddr::parse("02-ab-cd-ef-00-09"));
  EXPECT_FALSE(MacAddr::parse("02:ab:cd:ef:00:0g"));
  EXPECT_TRUE(MacAddr::broadcast().is_broadcast());
  EXPECT_TRUE(MacAddr::broadcast().is_multicast());
  EXPECT_FALSE(kOurMac.is_multicast());
}

}  // namespace
}  // namespace mx::test
