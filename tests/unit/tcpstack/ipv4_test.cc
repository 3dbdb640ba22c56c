// tests/unit/tcpstack/ipv4_test.cc — IPv4 header checks (RFC 791, RFC 1122 3.2.1).
#include "tcpstack/ipv4.h"

#include <gtest/gtest.h>

#include "tcpstack/ethernet.h"
#include "tests/unit/tcpstack/frames.h"

namespace mx::test {
namespace {

class Ipv4Test : public ::testing::Test {
 protected:
  CaptureNetif netif{kOurMac};
  net::NetStack stack{netif, lab_stack_config()};
  void feed(const Bytes& f, uint32_t flags = 0) { stack.input(view(f, flags), Tick{1}); }
  const net::L2L3Counters& c() { return stack.counters(); }
  Bytes ping() { return echo_request_frame(1, 1, Bytes(16, 0x61)); }
  static constexpr size_t kIp = net::kEthHeaderLen;
};

TEST_F(Ipv4Test, ValidEchoIsAccepted) {
  feed(ping());
  EXPECT_EQ(c().ipv4_rx, 1u);
  EXPECT_EQ(c().icmp_echo_reply_out, 1u);
}

TEST_F(Ipv4Test, EveryTruncationIsDroppedWithoutReply) {
  Bytes f = ping();
  for (size_t len = kIp; len < f.size(); ++len) feed(Bytes(f.begin(), f.begin() + len));
  EXPECT_EQ(c().ipv4_drop_short, 20u);                 // fewer than 20 header bytes
  EXPECT_EQ(c().ipv4_drop_total_len, f.size() - kIp - 20);  // total length beyond the frame
  EXPECT_TRUE(netif.sent.empty());
}

TEST_F(Ipv4Test, BadVersion) {
  Bytes f = ping();
  f[kIp] = 0x65;
  fix_ipv4_checksum(f);
  feed(f);
  EXPECT_EQ(c().ipv4_drop_version, 1u);
}

TEST_F(Ipv4Test, BadIhlBelowFiveOrBeyondFrame) {
  for (uint8_t ihl : {0, 1, 4}) {
    Bytes f = ping();
    f[kIp] = static_cast<uint8_t>(0x40 | ihl);
    feed(f);
  }
  Bytes tiny = eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4, Bytes(24, 0));
  tiny[kIp] = 0x4f;  // 60-byte header in a 24-byte datagram
  feed(tiny);
  EXPECT_EQ(c().ipv4_drop_ihl, 4u);
  EXPECT_TRUE(netif.sent.empty());
}

TEST_F(Ipv4Test, TotalLengthSmallerThanHeaderOrLargerThanFrame) {
  for (uint16_t tl : {0, 19, 0xffff}) {
    Bytes f = ping();
    store_be16(&f[kIp + 2], tl);
    fix_ipv4_checksum(f);
    feed(f);
  }
  EXPECT_EQ(c().ipv4_drop_total_len, 3u);
}

TEST_F(Ipv4Test, LinkPaddingBeyondTotalLengthIsIgnored) {
  Bytes f = echo_request_frame(1, 1, {});  // 42 bytes
  f.resize(60, 0xEE);
  feed(f);
  ASSERT_EQ(netif.sent.size(), 1u);
  EXPECT_EQ(netif.sent[0].size(), 42u);  // the reply does not echo the padding
}

TEST_F(Ipv4Test, BadHeaderChecksum) {
  Bytes f = ping();
  f[kIp + 10] ^= 0x01;
  feed(f);
  EXPECT_EQ(c().ipv4_drop_checksum, 1u);
  EXPECT_TRUE(netif.sent.empty());
}

TEST_F(Ipv4Test, PortVerdictsOnChecksumAreHonoured) {
  Bytes f = ping();
  f[kIp + 10] ^= 0x01;  // wrong, but the port says it checked it and it was good
  feed(f, net::kRxIpCsumGood);
  EXPECT_EQ(c().icmp_echo_reply_out, 1u);
  feed(ping(), net::kRxIpCsumBad);
  EXPECT_EQ(c().ipv4_drop_checksum, 1u);
}

TEST_F(Ipv4Test, FragmentsAreDroppedAndCounted) {
  auto frag = [&](uint16_t field) {
    feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4,
                   ipv4_datagram(kPeerIp, kOurIp, net::kIpProtoIcmp, icmp_message(8, 0, 1, 1, {}), {}, field)));
  };
  frag(0x2000);  // MF
  frag(0x0001);  // offset 8
  frag(0x4000);  // DF only: not a fragment
  EXPECT_EQ(c().ipv4_drop_fragment, 2u);
  EXPECT_EQ(c().icmp_echo_reply_out, 1u);
}

TEST_F(Ipv4Test, WellFormedOptionsAreSkipped) {
  Bytes opts{0x01, 0x01, 0x94, 0x04, 0x00, 0x00, 0x00, 0x00};  // NOP NOP RouterAlert(4) END pad
  feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4,
                 ipv4_datagram(kPeerIp, kOurIp, net::kIpProtoIcmp, icmp_message(8, 0, 1, 1, {}), opts)));
  EXPECT_EQ(c().ipv4_rx_options, 1u);
  ASSERT_EQ(netif.sent.size(), 1u);
  EXPECT_EQ(netif.sent[0][kIp] & 0x0f, 5);  // the reply carries no options
}

TEST_F(Ipv4Test, MalformedOptionsAreDropped) {
  const Bytes bad[] = {
      {0x44, 0x00, 0x00, 0x00},  // option length 0
      {0x44, 0x01, 0x00, 0x00},  // option length 1
      {0x44, 0x08, 0x00, 0x00},  // overruns the header
      {0x01, 0x01, 0x01, 0x44},  // type byte with no room for a length
  };
  for (const Bytes& o : bad)
    feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4,
                   ipv4_datagram(kPeerIp, kOurIp, net::kIpProtoIcmp, icmp_message(8, 0, 1, 1, {}), o)));
  EXPECT_EQ(c().ipv4_drop_bad_options, 4u);
  EXPECT_TRUE(netif.sent.empty());
}

TEST_F(Ipv4Test, SourceRouteOptionsAreRefused) {
  for (uint8_t type : {0x83, 0x89}) {
    Bytes o{type, 0x07, 0x04, 0xC6, 0x12, 0x00, 0x09, 0x00};
    feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4,
                   ipv4_datagram(kPeerIp, kOurIp, net::kIpProtoIcmp, icmp_message(8, 0, 1, 1, {}), o)));
  }
  EXPECT_EQ(c().ipv4_drop_source_route, 2u);
  EXPECT_TRUE(netif.sent.empty());
}

TEST_F(Ipv4Test, UnusableSourcesAreDropped) {
  for (uint32_t src : {0x00000000u, 0x00010203u, 0x7F000001u, 0xE0000001u, 0xFFFFFFFFu, 0xC61200FFu, kOurIp.v}) {
    feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4,
                   ipv4_datagram(Ipv4Addr{src}, kOurIp, net::kIpProtoIcmp, icmp_message(8, 0, 1, 1, {}))));
  }
  EXPECT_EQ(c().ipv4_drop_bad_src, 7u);
  EXPECT_TRUE(netif.sent.empty());
}

TEST_F(Ipv4Test, OtherDestinationsAreDropped) {
  feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4,
                 ipv4_datagram(kPeerIp, Ipv4Addr{0xC6120003}, net::kIpProtoIcmp, icmp_message(8, 0, 1, 1, {}))));
  feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4,
                 ipv4_datagram(kPeerIp, Ipv4Addr{0xE0000001}, net::kIpProtoIcmp, icmp_message(8, 0, 1, 1, {}))));
  EXPECT_EQ(c().ipv4_drop_not_for_us, 2u);
}

TEST_F(Ipv4Test, UnknownProtocolsAreCounted) {
  for (uint8_t p : {net::kIpProtoUdp, uint8_t{47}, uint8_t{255}})
    feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4, ipv4_datagram(kPeerIp, kOurIp, p, Bytes(20, 0))));
  EXPECT_EQ(c().ipv4_drop_unknown_proto, 3u);
  // TCP goes to the TCP layer (this all-zero segment fails its checksum there).
  feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4, ipv4_datagram(kPeerIp, kOurIp, net::kIpProtoTcp, Bytes(20, 0))));
  EXPECT_EQ(c().ipv4_drop_unknown_proto, 3u);
}

TEST(Ipv4Header, WrittenHeaderParsesBack) {
  uint8_t buf[20];
  net::Ipv4Header h;
  h.total_len = 84;
  h.id = 7;
  h.ttl = 64;
  h.proto = net::kIpProtoIcmp;
  h.src = kOurIp;
  h.dst = kPeerIp;
  net::write_ipv4_header(buf, h, false);
  Bytes d(buf, buf + 20);
  d.resize(84);
  net::Ipv4Header back;
  ASSERT_EQ(net::parse_ipv4(d, false, back), net::Ipv4Verdict::kOk);
  EXPECT_EQ(back.src, kOurIp);
  EXPECT_EQ(back.dst, kPeerIp);
  EXPECT_EQ(back.total_len, 84);
  EXPECT_EQ(back.header_len, 20);
}

}  // namespace
}  // namespace mx::test
