#pragma once
// One exception type for every user-facing failure. The message must name the file, line and
// field (or config key) that caused it; the CLI prints it and exits non-zero.
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace rawmed {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace rawmed
