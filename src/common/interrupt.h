#pragma once
// SIGINT/SIGTERM during training. The handler only records the signal; the training loop checks
// stop_signal() after each optimizer step, writes its checkpoint and stops with a message saying
// how to resume, so a kill loses at most the step in flight.
#include <signal.h>

#include <cstdint>
#include <string>

namespace rawmed {

// Installs the handlers for its lifetime (the previous ones come back afterwards).
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_{}, old_term_{};
};

// The signal received while a StopSignals was installed, or 0.
int stop_signal();

// "SIGINT", "SIGTERM" or "signal N".
std::string signal_name(int sig);

// Test hook: the n-th call of stop_signal() from now raises SIGTERM first, as a `kill -TERM`
// arriving during that step would (0: off). The environment variable RAWMED_TEST_SIGTERM_AT_CHECK=n
// sets it for every training stage of a process.
void raise_stop_signal_at_check(int64_t n);

}  // namespace rawmed
