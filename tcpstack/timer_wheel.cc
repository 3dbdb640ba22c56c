// tcpstack/timer_wheel.cc
#include "tcpstack/timer_wheel.h"

namespace mx::net {

TimerWheel::TimerWheel(uint64_t tick_ns, uint32_t slots, Tick start)
    : tick_ns_(tick_ns ? tick_ns : 1), current_(start.ns / (tick_ns ? tick_ns : 1)) {
  uint64_t n = 1;
  while (n < slots) n <<= 1;
  mask_ = n - 1;
  heads_.resize(n);
  for (TimerNode& h : heads_) h.prev = h.next = &h;
  overdue_.prev = overdue_.next = &overdue_;
}

void TimerWheel::unlink(TimerNode& n) noexcept {
  n.prev->next = n.next;
  n.next->prev = n.prev;
  n.prev = n.next = nullptr;
}

void TimerWheel::link(TimerNode& n) noexcept {
  // A due tick already processed is overdue: it fires on the next advance(), whatever its time.
  TimerNode& head = n.due_tick < current_ ? overdue_ : heads_[n.due_tick & mask_];
  n.next = &head;
  n.prev = head.prev;
  head.prev->next = &n;
  head.prev = &n;
}

void TimerWheel::schedule(TimerNode& n, Tick deadline) noexcept {
  if (n.linked()) {
    unlink(n);
    --size_;
  }
  n.due_tick = (deadline.ns + tick_ns_ - 1) / tick_ns_;  // round up: never early
  link(n);
  ++size_;
}

void TimerWheel::cancel(TimerNode& n) noexcept {
  if (!n.linked()) return;
  unlink(n);
  --size_;
}

}  // namespace mx::net
