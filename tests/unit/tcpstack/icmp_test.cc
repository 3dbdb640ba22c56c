// tests/unit/tcpstack/icmp_test.cc — ICMP echo (RFC 792, RFC 1122 3.2.2.6).
#include "tcpstack/icmp.h"

#include <gtest/gtest.h>

#include "tcpstack/checksum.h"
#include "tcpstack/ethernet.h"
#include "tcpstack/ipv4.h"
#include "tests/unit/tcpstack/frames.h"

namespace mx::test {
namespace {

class IcmpTest : public ::testing::Test {
 protected:
  CaptureNetif netif{kOurMac};
  net::NetStack stack{netif, lab_stack_config()};
  void feed(const Bytes& f) { stack.input(view(f), Tick{1}); }
  const net::L2L3Counters& c() { return stack.counters(); }
  static constexpr size_t kIp = net::kEthHeaderLen;
  static constexpr size_t kIcmp = kIp + 20;
};

TEST_F(IcmpTest, EchoReplyMirrorsIdSeqAndPayload) {
  Bytes data;
  for (int i = 0; i < 56; ++i) data.push_back(static_cast<uint8_t>(i));
  feed(echo_request_frame(0xBEEF, 42, data));
  ASSERT_EQ(netif.sent.size(), 1u);
  const Bytes& r = netif.sent[0];
  ASSERT_EQ(r.size(), kIcmp + 8 + data.size());
  EXPECT_EQ(MacAddr::from_bytes(&r[0]), kPeerMac);
  EXPECT_EQ(MacAddr::from_bytes(&r[6]), kOurMac);
  net::Ipv4Header ip;
  ASSERT_EQ(net::parse_ipv4(ByteSpan(r).subspan(kIp), false, ip), net::Ipv4Verdict::kOk);
  EXPECT_EQ(ip.src, kOurIp);
  EXPECT_EQ(ip.dst, kPeerIp);
  EXPECT_EQ(ip.proto, net::kIpProtoIcmp);
  EXPECT_EQ(ip.ttl, net::kIpv4DefaultTtl);
  EXPECT_EQ(r[kIcmp], net::kIcmpEchoReply);
  EXPECT_EQ(r[kIcmp + 1], 0);
  EXPECT_EQ(load_be16(&r[kIcmp + 4]), 0xBEEF);
  EXPECT_EQ(load_be16(&r[kIcmp + 6]), 42);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), r.begin() + kIcmp + 8));
  EXPECT_EQ(net::inet_checksum(ByteSpan(r).subspan(kIcmp)), 0);  // valid ICMP checksum
  EXPECT_EQ(c().icmp_echo_request_in, 1u);
  EXPECT_EQ(c().icmp_echo_reply_out, 1u);
}

TEST_F(IcmpTest, OddLengthPayloadChecksums) {
  feed(echo_request_frame(1, 2, Bytes(33, 0xff)));
  ASSERT_EQ(netif.sent.size(), 1u);
  EXPECT_EQ(net::inet_checksum(ByteSpan(netif.sent[0]).subspan(kIcmp)), 0);
}

TEST_F(IcmpTest, LargestEchoThatFitsTheMtu) {
  feed(echo_request_frame(1, 2, Bytes(1500 - 28, 0x5a)));
  ASSERT_EQ(netif.sent.size(), 1u);
  EXPECT_EQ(netif.sent[0].size(), 1514u);
}

TEST_F(IcmpTest, BadChecksumIsDropped) {
  Bytes f = echo_request_frame(1, 2, Bytes(8, 1));
  f[kIcmp + 2] ^= 0xff;
  feed(f);
  EXPECT_EQ(c().icmp_drop_checksum, 1u);
  EXPECT_TRUE(netif.sent.empty());
}

TEST_F(IcmpTest, TruncatedMessagesAreDropped) {
  for (size_t n = 0; n < net::kIcmpHeaderLen; ++n)
    feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4, ipv4_datagram(kPeerIp, kOurIp, net::kIpProtoIcmp, Bytes(n, 8))));
  EXPECT_EQ(c().icmp_drop_short, net::kIcmpHeaderLen);
  EXPECT_TRUE(netif.sent.empty());
}

TEST_F(IcmpTest, OtherTypesAndCodesAreNotAnswered) {
  for (auto [type, code] : {std::pair{0, 0}, {3, 3}, {11, 0}, {13, 0}, {8, 1}})
    feed(eth_frame(kOurMac, kPeerMac, net::kEtherTypeIpv4,
                   ipv4_datagram(kPeerIp, kOurIp, net::kIpProtoIcmp,
                                 icmp_message(static_cast<uint8_t>(type), static_cast<uint8_t>(code), 1, 1, {}))));
  EXPECT_EQ(c().icmp_other_in, 4u);
  EXPECT_EQ(c().icmp_unreachable_in, 1u);  // handed to TCP, which finds no connection it quotes
  EXPECT_TRUE(netif.sent.empty());
}

TEST_F(IcmpTest, BroadcastEchoIsIgnored) {
  for (uint32_t dst : {0xFFFFFFFFu, 0xC61200FFu})
    feed(eth_frame(MacAddr::broadcast(), kPeerMac, net::kEtherTypeIpv4,
                   ipv4_datagram(kPeerIp, Ipv4Addr{dst}, net::kIpProtoIcmp, icmp_message(8, 0, 1, 1, {}))));
  EXPECT_EQ(c().icmp_drop_broadcast_echo, 2u);
  EXPECT_TRUE(netif.sent.empty());
}

TEST_F(IcmpTest, ManyEchoesGetDistinctIpIds) {
  for (uint16_t i = 0; i < 3; ++i) feed(echo_request_frame(1, i, {}));
  ASSERT_EQ(netif.sent.size(), 3u);
  EXPECT_NE(load_be16(&netif.sent[0][kIp + 4]), load_be16(&netif.sent[1][kIp + 4]));
}

}  // namespace
}  // namespace mx::test
