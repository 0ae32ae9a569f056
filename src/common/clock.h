#pragma once
// Wall-clock timing shared by every stage (progress, time limits, the seconds in reports).
#include <chrono>

namespace rawmed {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace rawmed
