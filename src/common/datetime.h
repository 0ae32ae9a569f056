#pragma once
// Datetimes as whole seconds since 1970-01-01 (proleptic Gregorian, no time zone: MIMIC times are
// shifted local times). Accepts "YYYY-MM-DD", "YYYY-MM-DD HH:MM" and "YYYY-MM-DD HH:MM:SS[.fff]"
// (also with 'T'); fractions of a second are dropped.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rawmed {

inline std::optional<int64_t> parse_datetime(std::string_view s) {
  auto digits = [&](size_t pos, size_t n, int* out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (!digits(0, 4, &y) || s.size() < 10 || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' || !digits(8, 2, &d))
    return std::nullopt;
  if (s.size() > 10) {
    if ((s[10] != ' ' && s[10] != 'T') || !digits(11, 2, &h) || s.size() < 16 || s[13] != ':' || !digits(14, 2, &mi))
      return std::nullopt;
    if (s.size() > 16 && (s[16] != ':' || !digits(17, 2, &se))) return std::nullopt;
    if (s.size() > 19 && s[19] != '.') return std::nullopt;
  }
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;
  int64_t days = sys_days{ymd}.time_since_epoch().count();
  return days * 86400 + h * 3600 + mi * 60 + se;
}

inline std::string format_datetime(int64_t seconds) {
  using namespace std::chrono;
  int64_t days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
  int64_t rest = seconds - days * 86400;
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u %02d:%02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(rest / 3600),
                static_cast<int>(rest % 3600 / 60), static_cast<int>(rest % 60));
  return buffer;
}

}  // namespace rawmed
