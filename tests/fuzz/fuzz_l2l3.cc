// tests/fuzz/fuzz_l2l3.cc — arbitrary frames into the L2/L3 input path (Ethernet, ARP, IPv4,
// ICMP). Input format: a sequence of [len_hi len_lo frame...] records so that one input can
// build up neighbour-cache state across frames; a short tail is fed as one last frame.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/bytes.h"
#include "tcpstack/stack.h"

namespace {

class FuzzNetif final : public mx::net::Netif {
 public:
  mx::MacAddr mac() const override { return mx::MacAddr{{0x02, 0, 0, 0, 0, 0x02}}; }
  uint16_t mtu() const override { return 1500; }
  bool tx_alloc(uint32_t len, mx::net::TxFrame& out) override {
    if (len > sizeof buf_) return false;
    out.data = buf_;
    out.capacity = sizeof buf_;
    out.handle = buf_;
    return true;
  }
  void rx_hold(void*) override {}
  void rx_release(void*) override {}
  void tx_submit(mx::net::TxFrame& f) override {
    // Every frame we emit must be a sane Ethernet frame that fits one MTU.
    if (f.len < 14 || f.len > 1514 || f.len > f.capacity) std::abort();
  }

 private:
  uint8_t buf_[2048];
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FuzzNetif netif;
  mx::net::StackConfig cfg;
  cfg.ipv4 = mx::Ipv4Prefix{mx::Ipv4Addr{0xC6120002}, 24};
  cfg.arp_entries = 16;
  cfg.arp_reachable_ns = 1000;
  mx::net::NetStack stack(netif, cfg);
  uint64_t t = 0;
  while (size > 0) {
    size_t len = size;
    if (size >= 2) {
      len = mx::load_be16(data);
      data += 2;
      size -= 2;
      if (len > size) len = size;
    }
    // Copy into an exact-size heap buffer so that ASan sees any read past the frame.
    std::vector<uint8_t> frame(data, data + len);
    stack.input(mx::net::PacketView{frame.data(), static_cast<uint32_t>(len), 0}, mx::Tick{t});
    t += 100;
    data += len;
    size -= len;
    if (t % 500 == 0) stack.on_timer(mx::Tick{t});
  }
  if (stack.arp_cache().size() > stack.arp_cache().capacity()) std::abort();
  return 0;
}
