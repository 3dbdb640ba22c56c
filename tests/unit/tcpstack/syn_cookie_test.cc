// tests/unit/tcpstack/syn_cookie_test.cc — SYN cookies: round trip, expiry, binding to the
// connection and the key, and the forgery rate.
#include "tcpstack/syn_cookie.h"

#include <gtest/gtest.h>

#include <random>

namespace mx::net {
namespace {

const FourTuple kT{Ipv4Addr{0xC6120002}, Ipv4Addr{0xC6120001}, 25, 40000};

TEST(SynCookie, RoundTripsEveryMssIndexAcrossTheMinuteWrap) {
  SynCookies s(11, 22);
  for (uint32_t minute : {0u, 7u, 254u, 255u, 256u, 1000u}) {
    for (uint8_t idx = 0; idx < 4; ++idx) {
      SeqNum c = s.make(kT, SeqNum(0xFFFFFFF0u), idx, minute);
      for (uint32_t later = 0; later <= kSynCookieMaxAgeMin; ++later)
        EXPECT_EQ(s.check(kT, SeqNum(0xFFFFFFF0u), c, minute + later), idx) << minute << "+" << later;
      EXPECT_FALSE(s.check(kT, SeqNum(0xFFFFFFF0u), c, minute + kSynCookieMaxAgeMin + 1)) << "expired";
    }
  }
}

TEST(SynCookie, BoundToTheConnectionAndTheKey) {
  SynCookies s(11, 22), other(33, 44);
  SeqNum c = s.make(kT, SeqNum(1000), 3, 5);
  FourTuple port = kT;
  port.remote_port = 40001;
  FourTuple addr = kT;
  addr.remote = Ipv4Addr{0xC6120009};
  EXPECT_FALSE(s.check(port, SeqNum(1000), c, 5));
  EXPECT_FALSE(s.check(addr, SeqNum(1000), c, 5));
  int replayed = 0;  // the same cookie with any other client ISN
  for (uint32_t d = 1; d <= 2000; ++d) replayed += s.check(kT, SeqNum(1000 + d), c, 5).has_value();
  EXPECT_EQ(replayed, 0);
  EXPECT_FALSE(other.check(kT, SeqNum(1000), c, 5));
}

TEST(SynCookie, GuessedCookiesAlmostNeverPass) {
  SynCookies s(11, 22);
  std::mt19937 rng(3);
  int passed = 0;
  for (int i = 0; i < 200000; ++i) passed += s.check(kT, SeqNum(1000), SeqNum(static_cast<uint32_t>(rng())), 5).has_value();
  // 3 of 256 minute values are fresh and 4 of 2^24 low values valid: expected ~0.14 in 200k.
  EXPECT_LE(passed, 3);
}

TEST(SynCookie, MssIndexRoundsDown) {
  EXPECT_EQ(SynCookies::mss_index(100), 0);
  EXPECT_EQ(SynCookies::mss_index(536), 0);
  EXPECT_EQ(SynCookies::mss_index(1300), 1);
  EXPECT_EQ(SynCookies::mss_index(1460), 3);
  EXPECT_EQ(SynCookies::mss_index(9000), 3);
}

}  // namespace
}  // namespace mx::net
