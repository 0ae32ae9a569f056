#pragma once
// Logging and progress. On a terminal a progress bar with rate and ETA is redrawn in place;
// otherwise (CI, pipes, files) plain log lines are printed at most every few seconds.
#include "common/clock.h"

#include <fmt/format.h>

#include <cstdint>
#include <string>

namespace rawmed {

void log_line(const std::string& message);

template <typename... Args>
void log_info(fmt::format_string<Args...> format, Args&&... args) {
  log_line(fmt::format(format, std::forward<Args>(args)...));
}

// Silences log_info and progress output (tests, --quiet).
void set_quiet(bool quiet);
bool is_quiet();

class Progress {
 public:
  // `total` may be 0 when unknown (then no ETA is shown). `unit` names what is counted.
  Progress(std::string label, int64_t total, std::string unit);
  ~Progress();
  void advance(int64_t n = 1);
  void set_postfix(std::string postfix);  // e.g. "loss 1.234"
  void finish();
  double rate() const;  // units per second so far

 private:
  void draw(bool final_line);
  std::string label_, unit_, postfix_;
  int64_t total_, done_ = 0;
  Clock::time_point start_, last_draw_;
  bool tty_, finished_ = false;
};

}  // namespace rawmed
