// tests/unit/common/net_types_test.cc
#include "common/net_types.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

TEST(Ipv4Addr, ParsesDottedQuads) {
  EXPECT_EQ(Ipv4Addr::parse("198.18.0.2")->v, 0xC6120002u);
  EXPECT_EQ(Ipv4Addr::parse("0.0.0.0")->v, 0u);
  EXPECT_EQ(Ipv4Addr::parse("255.255.255.255")->v, 0xFFFFFFFFu);
  EXPECT_EQ(Ipv4Addr{0xC6120002}.to_string(), "198.18.0.2");
}

TEST(Ipv4Addr, RejectsEverythingElse) {
  for (const char* s : {"", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "01.2.3.4", "1..3.4", "1.2.3.4 ",
                        " 1.2.3.4", "1.2.3.4/24", "a.b.c.d", "1.2.3.4\n", "0x1.2.3.4", "1.2.3.1000"})
    EXPECT_FALSE(Ipv4Addr::parse(s)) << s;
}

TEST(Ipv4Prefix, ParsesAndMatches) {
  auto p = Ipv4Prefix::parse("198.18.0.2/24");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->len, 24);
  EXPECT_TRUE(p->contains(*Ipv4Addr::parse("198.18.0.200")));
  EXPECT_FALSE(p->contains(*Ipv4Addr::parse("198.18.1.1")));
  EXPECT_EQ(p->directed_broadcast().to_string(), "198.18.0.255");
  EXPECT_EQ(Ipv4Prefix::parse("0.0.0.0/0")->mask(), 0u);
  for (const char* s : {"198.18.0.2", "198.18.0.2/33", "198.18.0.2/", "198.18.0.2/024", "198.18.0.2/-1", "/24"})
    EXPECT_FALSE(Ipv4Prefix::parse(s)) << s;
}

TEST(Ipv6Addr, ParsesRfc4291Forms) {
  auto a = Ipv6Addr::parse("2001:db8::2");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->b[0], 0x20);
  EXPECT_EQ(a->b[1], 0x01);
  EXPECT_EQ(a->b[15], 0x02);
  EXPECT_EQ(a->to_string(), "2001:db8::2");
  EXPECT_EQ(Ipv6Addr::parse("::")->to_string(), "::");
  EXPECT_EQ(Ipv6Addr::parse("::1")->to_string(), "::1");
  EXPECT_EQ(Ipv6Addr::parse("1:2:3:4:5:6:7:8")->to_string(), "1:2:3:4:5:6:7:8");
  EXPECT_EQ(Ipv6Addr::parse("::ffff:198.18.0.2")->to_string(), "::ffff:c612:2");
  EXPECT_EQ(Ipv6Addr::parse("2001:DB8:0:0:1:0:0:1")->to_string(), "2001:db8::1:0:0:1");
  EXPECT_EQ(Ipv6Addr::parse("fe80::")->to_string(), "fe80::");
}

TEST(Ipv6Addr, RejectsMalformed) {
  for (const char* s : {"", ":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::1",
                        "1:2:3:4:5:6:7::8", "::1.2.3", "1.2.3.4::", "2001:db8::2/64"})
    EXPECT_FALSE(Ipv6Addr::parse(s)) << s;
}

TEST(Ipv6Prefix, Parses) {
  auto p = Ipv6Prefix::parse("2001:db8::2/64");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->len, 64);
  EXPECT_FALSE(Ipv6Prefix::parse("2001:db8::2/129"));
  EXPECT_FALSE(Ipv6Prefix::parse("2001:db8::2"));
}

}  // namespace
}  // namespace mx
