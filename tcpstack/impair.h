// tcpstack/impair.h — a seeded impairment model for links: loss, duplication, reordering and
// corruption decided per frame. The deterministic simulator (tests) and the data plane's
// impairment layer on a port (benchmarks and lab tests; the kernel here has no netem) share it,
// so a seed reproduces the same decisions.
#pragma once

#include <cstdint>

namespace mx::net {

struct ImpairConfig {
  double drop = 0;     // probability a frame is lost
  double dup = 0;      // ... delivered twice
  double reorder = 0;  // ... held back behind later frames
  double corrupt = 0;  // ... has one bit flipped
  bool any() const { return drop > 0 || dup > 0 || reorder > 0 || corrupt > 0; }
};

// SplitMix64: tiny, fast, and the same sequence on every platform.
class ImpairRng {
 public:
  explicit ImpairRng(uint64_t seed) : s_(seed) {}
  uint64_t next() noexcept {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double unit() noexcept { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  bool chance(double p) noexcept { return p > 0 && unit() < p; }
  uint64_t below(uint64_t n) noexcept { return n ? next() % n : 0; }

 private:
  uint64_t s_;
};

enum class ImpairAction : uint8_t { kPass, kDrop, kDup, kReorder, kCorrupt };

inline ImpairAction impair_decide(const ImpairConfig& c, ImpairRng& r) noexcept {
  if (r.chance(c.drop)) return ImpairAction::kDrop;
  if (r.chance(c.dup)) return ImpairAction::kDup;
  if (r.chance(c.reorder)) return ImpairAction::kReorder;
  if (r.chance(c.corrupt)) return ImpairAction::kCorrupt;
  return ImpairAction::kPass;
}

}  // namespace mx::net
