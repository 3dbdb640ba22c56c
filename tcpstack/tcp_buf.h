// tcpstack/tcp_buf.h — the memory TCP works with, all allocated once per lcore at start-up:
// a pool of byte blocks (send buffers, copies of small received segments), a pool of segment
// descriptors (received data held in place), and RxBuf, the zero-copy unit handed to the
// application.
//
// Received payload stays in the packet buffer it arrived in: the stack asks the Netif to hold
// that buffer (a reference count) and releases it when the application has consumed or released
// the bytes. Segments smaller than kTcpCopyBelow are copied into blocks instead, so a peer that
// sends one-byte segments cannot pin one packet buffer per byte.
#pragma once

#include <cstdint>
#include <vector>

#include "tcpstack/seq.h"

namespace mx::net {

constexpr uint32_t kTcpBlockSize = 2048;
constexpr uint32_t kTcpNoBlock = UINT32_MAX;
constexpr uint32_t kTcpCopyBelow = 256;  // payloads below this are copied, not held

// A run of received bytes. Exactly one of `handle` (a held packet buffer) and `block` (a pool
// block) owns the memory; TcpLayer::release() gives it back.
struct RxBuf {
  const uint8_t* data = nullptr;
  uint32_t len = 0;
  uint32_t block = kTcpNoBlock;
  void* handle = nullptr;
};

// A queued piece of received data (in order, or out of order awaiting reassembly).
struct RxSeg {
  RxSeg* next = nullptr;
  SeqNum seq;
  RxBuf buf;
};

// Fixed-size byte blocks with a free stack and per-block links for chains.
class BlockPool {
 public:
  explicit BlockPool(uint32_t blocks);
  uint32_t alloc() noexcept;  // kTcpNoBlock when empty
  void free(uint32_t b) noexcept;
  uint8_t* data(uint32_t b) noexcept { return mem_.data() + static_cast<size_t>(b) * kTcpBlockSize; }
  uint32_t& next(uint32_t b) noexcept { return next_[b]; }
  uint32_t available() const noexcept { return static_cast<uint32_t>(free_.size()); }
  uint32_t capacity() const noexcept { return static_cast<uint32_t>(next_.size()); }

 private:
  std::vector<uint8_t> mem_;
  std::vector<uint32_t> next_;
  std::vector<uint32_t> free_;
};

// Objects of type T from a fixed array with an intrusive free list (T needs a `next` pointer).
template <typename T>
class ObjPool {
 public:
  explicit ObjPool(uint32_t n) : objs_(n) {
    cap_ = n;
    for (uint32_t i = 0; i < n; ++i) objs_[i].next = i + 1 < n ? &objs_[i + 1] : nullptr;
    free_ = n ? &objs_[0] : nullptr;
    avail_ = n;
  }
  T* alloc() noexcept {
    T* t = free_;
    if (!t) return nullptr;
    free_ = t->next;
    t->next = nullptr;
    --avail_;
    return t;
  }
  void free(T* t) noexcept {
    t->next = free_;
    free_ = t;
    ++avail_;
  }
  uint32_t available() const noexcept { return avail_; }
  uint32_t capacity() const noexcept { return cap_; }

 private:
  std::vector<T> objs_;
  uint32_t cap_ = 0;
  T* free_ = nullptr;
  uint32_t avail_ = 0;
};

}  // namespace mx::net
