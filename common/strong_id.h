// common/strong_id.h — strong integer types so that a core id, a port id or a sequence
// number cannot be passed where another is expected.
#pragma once

#include <compare>
#include <cstdint>

namespace mx {

template <typename Tag, typename Rep>
struct StrongId {
  Rep value{};
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : value(v) {}
  constexpr auto operator<=>(const StrongId&) const = default;
};

struct LcoreTag;
struct PortTag;
struct QueueTag;
using LcoreId = StrongId<LcoreTag, uint32_t>;
using PortId = StrongId<PortTag, uint16_t>;
using QueueId = StrongId<QueueTag, uint16_t>;

// Monotonic time in nanoseconds, passed in by the caller (the data plane reads the TSC; tests
// drive a virtual clock). Protocol code never reads a clock itself.
struct Tick {
  uint64_t ns{0};
  constexpr auto operator<=>(const Tick&) const = default;
};
constexpr uint64_t kNsPerMs = 1'000'000;
constexpr uint64_t kNsPerSec = 1'000'000'000;

}  // namespace mx
