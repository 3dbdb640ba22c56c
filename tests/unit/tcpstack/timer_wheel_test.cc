// tests/unit/tcpstack/timer_wheel_test.cc — the timer wheel against a reference model: random
// schedules, reschedules and cancels; every timer fires exactly once, never before its
// deadline, and at the first advance at or after its deadline rounded up to a tick.
#include "tcpstack/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <map>
#include <random>
#include <vector>

namespace mx::net {
namespace {

constexpr uint64_t kTick = 1000;

struct Owned {
  TimerNode node;
  int id = 0;
};

TEST(TimerWheel, MatchesAReferenceModel) {
  std::mt19937_64 rng(9);
  for (uint32_t slots : {8u, 64u, 1024u}) {
    TimerWheel w(kTick, slots, Tick{0});
    std::vector<Owned> timers(300);
    std::map<int, uint64_t> pending;  // id -> deadline (reference)
    for (int i = 0; i < 300; ++i) timers[static_cast<size_t>(i)].id = i;
    uint64_t now = 0;
    for (int step = 0; step < 20000; ++step) {
      Owned& t = timers[rng() % timers.size()];
      switch (rng() % 4) {
        case 0:
        case 1: {  // schedule or reschedule, up to ~3 wheel turns ahead (sometimes in the past)
          uint64_t d = now + rng() % (kTick * slots * 3);
          if (rng() % 10 == 0 && now > 5000) d = now - 5000;
          w.schedule(t.node, Tick{d});
          pending[t.id] = d;
          break;
        }
        case 2:
          w.cancel(t.node);
          pending.erase(t.id);
          break;
        default: {  // advance by a random amount, sometimes by many wheel turns
          now += rng() % 8 == 0 ? rng() % (kTick * slots * 5) : rng() % (kTick * 4);
          std::vector<int> fired;
          w.advance(Tick{now}, [&](TimerNode& n) {
            Owned* o = reinterpret_cast<Owned*>(reinterpret_cast<char*>(&n) - offsetof(Owned, node));
            fired.push_back(o->id);
          });
          std::vector<int> expect;
          for (auto it = pending.begin(); it != pending.end();) {
            uint64_t due_tick = (it->second + kTick - 1) / kTick;
            if (due_tick <= now / kTick) {
              expect.push_back(it->first);
              it = pending.erase(it);
            } else {
              ++it;
            }
          }
          std::sort(fired.begin(), fired.end());
          ASSERT_EQ(fired, expect) << "slots " << slots << " step " << step;
        }
      }
      ASSERT_EQ(w.size(), pending.size());
    }
  }
}

TEST(TimerWheel, CallbacksMayRescheduleAndCancel) {
  TimerWheel w(kTick, 16, Tick{0});
  Owned a, b;
  int a_fired = 0, b_fired = 0;
  w.schedule(a.node, Tick{5 * kTick});
  w.schedule(b.node, Tick{5 * kTick});
  w.advance(Tick{5 * kTick}, [&](TimerNode& n) {
    if (&n == &a.node) {
      ++a_fired;
      w.cancel(b.node);                     // b was due in the same advance: now it is not
      w.schedule(a.node, Tick{5 * kTick});  // "now" again: fires on the next advance, not this one
    } else {
      ++b_fired;
    }
  });
  EXPECT_EQ(a_fired + b_fired, 1);
  if (a_fired) {
    EXPECT_EQ(b_fired, 0);
    w.advance(Tick{6 * kTick}, [&](TimerNode&) { ++a_fired; });
    EXPECT_EQ(a_fired, 2);
  }
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, NeverEarly) {
  TimerWheel w(kTick, 8, Tick{0});
  Owned t;
  w.schedule(t.node, Tick{2 * kTick + 1});  // rounds up to tick 3
  int fired = 0;
  w.advance(Tick{3 * kTick - 1}, [&](TimerNode&) { ++fired; });
  EXPECT_EQ(fired, 0);
  w.advance(Tick{3 * kTick}, [&](TimerNode&) { ++fired; });
  EXPECT_EQ(fired, 1);
}

}  // namespace
}  // namespace mx::net
