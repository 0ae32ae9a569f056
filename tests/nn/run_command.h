#pragma once
// Runs a shell command for the end-to-end tests: its stdout and stderr together, and the status.
#include <cstdio>
#include <string>

namespace rawmed {

inline std::string run_command(const std::string& command, int* status) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  *status = ::pclose(pipe);
  return output;
}

}  // namespace rawmed
