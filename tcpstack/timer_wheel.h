// tcpstack/timer_wheel.h — a hashed timing wheel for per-lcore protocol timers (retransmission,
// delayed ACK, persist, keepalive, TIME-WAIT). Timers are intrusive nodes embedded in the
// objects that own them: scheduling and cancelling are O(1) and never allocate.
//
// Precision: a timer fires on the first advance() whose `now` is at or after its deadline
// rounded up to a whole tick; never early. One advance() visits at most every slot once, so a
// long pause costs one sweep, not one step per missed tick.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/strong_id.h"

namespace mx::net {

struct TimerNode {
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
  uint64_t due_tick = 0;  // absolute tick at which it fires
  bool linked() const { return prev != nullptr; }
};

class TimerWheel {
 public:
  // slots is rounded up to a power of two.
  TimerWheel(uint64_t tick_ns, uint32_t slots, Tick start);
  TimerWheel(const TimerWheel&) = delete;  // the list sentinels point at themselves
  TimerWheel& operator=(const TimerWheel&) = delete;

  // (Re)schedules n to fire at `deadline` (a deadline in the past fires on the next advance).
  void schedule(TimerNode& n, Tick deadline) noexcept;
  void cancel(TimerNode& n) noexcept;
  size_t size() const noexcept { return size_; }

  // Fires every timer due at `now`: fire(TimerNode&) is called with the node already unlinked,
  // so it may schedule it again (or others).
  template <typename F>
  void advance(Tick now, F&& fire);

 private:
  static void unlink(TimerNode& n) noexcept;
  void link(TimerNode& n) noexcept;

  uint64_t tick_ns_;
  uint64_t mask_;
  uint64_t current_;  // every tick before this one has been processed
  size_t size_ = 0;
  std::vector<TimerNode> heads_;  // sentinel per slot (circular list)
  TimerNode overdue_;              // scheduled with a tick already processed: due at once
};

template <typename F>
void TimerWheel::advance(Tick now, F&& fire) {
  const uint64_t target = now.ns / tick_ns_;
  if (target + 1 < current_) return;  // the clock does not go backwards
  // Sweep: move every due node onto a local list (no callbacks run while lists are walked).
  TimerNode expired;
  expired.prev = expired.next = &expired;
  auto collect = [&](TimerNode& head) {
    for (TimerNode* n = head.next; n != &head;) {
      TimerNode* next = n->next;
      if (n->due_tick <= target) {
        unlink(*n);
        n->next = &expired;
        n->prev = expired.prev;
        expired.prev->next = n;
        expired.prev = n;
      }
      n = next;
    }
  };
  collect(overdue_);
  if (target >= current_) {
    const uint64_t slots = mask_ + 1;
    const uint64_t last = target - current_ >= slots ? current_ + slots - 1 : target;
    for (uint64_t t = current_; t <= last; ++t) collect(heads_[t & mask_]);
    current_ = target + 1;
  }
  // Fire: a callback may schedule (a due tick <= target lands in the next advance) or cancel
  // any node, including one still waiting on the expired list.
  while (expired.next != &expired) {
    TimerNode* n = expired.next;
    unlink(*n);
    --size_;
    fire(*n);
  }
}

}  // namespace mx::net
