#include "common/interrupt.h"

#include <atomic>
#include <csignal>
#include <cstdlib>

namespace rawmed {
namespace {

volatile std::sig_atomic_t received = 0;
std::atomic<int64_t> raise_at_check{0};

// A second signal while the first is being handled stops the process at once (the default action).
extern "C" void record_signal(int sig) {
  if (received != 0) std::signal(sig, SIG_DFL), std::raise(sig);
  received = sig;
}

}  // namespace

StopSignals::StopSignals() {
  received = 0;
  struct sigaction action {};
  action.sa_handler = record_signal;
  action.sa_flags = SA_RESTART;  // reads and writes interrupted by the signal go on
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &old_int_);
  sigaction(SIGTERM, &action, &old_term_);
  // Test hook for whole-process tests of `rawmed run` (tests/nn/generate_e2e_test.cpp).
  if (const char* n = std::getenv("RAWMED_TEST_SIGTERM_AT_CHECK")) raise_stop_signal_at_check(std::atoll(n));
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

int stop_signal() {
  if (raise_at_check.load() > 0 && raise_at_check.fetch_sub(1) == 1) std::raise(SIGTERM);
  return received;
}

std::string signal_name(int sig) {
  if (sig == SIGINT) return "SIGINT";
  if (sig == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(sig);
}

void raise_stop_signal_at_check(int64_t n) { raise_at_check = n; }

}  // namespace rawmed
