#include "common/log.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace rawmed {
namespace {
bool quiet_flag = false;

std::string format_seconds(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "?";
  int s = static_cast<int>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}
}  // namespace

void set_quiet(bool quiet) { quiet_flag = quiet; }
bool is_quiet() { return quiet_flag; }

void log_line(const std::string& message) {
  if (quiet_flag) return;
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", std::localtime(&now));
  std::fprintf(stderr, "[%s] %s\n", stamp, message.c_str());
}

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      start_(Clock::now()), last_draw_(start_),
      tty_(::isatty(STDERR_FILENO) != 0) {}

Progress::~Progress() { finish(); }

double Progress::rate() const {
  double seconds = seconds_since(start_);
  return seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
}

void Progress::advance(int64_t n) {
  done_ += n;
  auto now = Clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (tty_ ? 0.1 : 5.0)) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::set_postfix(std::string postfix) { postfix_ = std::move(postfix); }

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final_line) {
  if (quiet_flag) return;
  double elapsed = seconds_since(start_);
  double r = rate();
  std::string count = total_ > 0 ? fmt::format("{}/{}", done_, total_) : fmt::format("{}", done_);
  std::string eta = (total_ > 0 && r > 0) ? format_seconds(static_cast<double>(total_ - done_) / r) : "?";
  std::string tail = fmt::format("{} {} | {:.1f} {}/s | {} elapsed, ETA {}{}{}", count, unit_, r, unit_,
                                 format_seconds(elapsed), final_line ? "0:00" : eta,
                                 postfix_.empty() ? "" : " | ", postfix_);
  if (tty_) {
    std::string bar;
    if (total_ > 0) {
      int width = 24;
      int filled = static_cast<int>(width * std::min<double>(1.0, static_cast<double>(done_) / total_));
      bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
    }
    std::fprintf(stderr, "\r\033[K%s %s%s%s", label_.c_str(), bar.c_str(), tail.c_str(), final_line ? "\n" : "");
    std::fflush(stderr);
  } else {
    log_line(label_ + ": " + tail);
  }
}

}  // namespace rawmed
