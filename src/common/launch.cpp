#include "common/launch.h"

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace rawmed {
namespace {

std::vector<std::string> own_command_line() {
  const std::string text = read_file("/proc/self/cmdline");
  std::vector<std::string> args;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    args.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return args;
}

std::vector<std::string> without_nproc(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc") {
      ++i;
      continue;
    }
    if (args[i].rfind("--nproc=", 0) == 0) continue;
    out.push_back(args[i]);
  }
  return out;
}

// A TCP port nobody listens on now (the kernel's pick; rank 0's store binds it moments later).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("train --nproc: cannot open a socket to find a free port: {}", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t length = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    ::close(fd);
    fail("train --nproc: cannot find a free port: {}", std::strerror(errno));
  }
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::vector<std::string> rank_environment(int rank, int world, int port) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    for (const char* name : {"RANK=", "LOCAL_RANK=", "WORLD_SIZE=", "MASTER_ADDR=", "MASTER_PORT="})
      if (entry.rfind(name, 0) == 0) entry.clear();
    if (!entry.empty()) env.push_back(entry);
  }
  env.push_back("RANK=" + std::to_string(rank));
  env.push_back("LOCAL_RANK=" + std::to_string(rank));
  env.push_back("WORLD_SIZE=" + std::to_string(world));
  env.push_back("MASTER_ADDR=127.0.0.1");
  env.push_back("MASTER_PORT=" + std::to_string(port));
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The ranks, for the handler that passes Ctrl-C / SIGTERM on to them (each rank then stops at a
// step boundary, and rank 0 writes the checkpoint).
std::vector<pid_t> g_children;

void forward_signal(int sig) {
  for (pid_t child : g_children) ::kill(child, sig);
}

}  // namespace

bool is_secondary_rank() {
  const char* rank = std::getenv("RANK");
  return rank && std::string(rank) != "0" && std::string(rank) != "";
}

int world_size_from_environment() {
  const char* text = std::getenv("WORLD_SIZE");
  if (!text || !*text) return 1;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 1) fail("WORLD_SIZE='{}' is not a positive integer", text);
  return static_cast<int>(value);
}

int spawn_ranks(int nproc) {
  if (std::getenv("WORLD_SIZE")) fail("train --nproc: WORLD_SIZE is already set (a launcher started this process); drop --nproc");
  std::vector<std::string> args = without_nproc(own_command_line());
  const int port = free_port();
  std::vector<pid_t> children;
  for (int rank = 0; rank < nproc; ++rank) {
    std::vector<std::string> env = rank_environment(rank, nproc, port);
    std::vector<char*> argv = pointers(args), envp = pointers(env);
    pid_t pid = 0;
    if (int error = ::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data()); error != 0) {
      for (pid_t child : children) ::kill(child, SIGKILL);
      fail("train --nproc: cannot start rank {}: {}", rank, std::strerror(error));
    }
    children.push_back(pid);
  }
  g_children = children;
  struct sigaction forward {};
  forward.sa_handler = forward_signal;
  ::sigemptyset(&forward.sa_mask);
  struct sigaction old_int {}, old_term {};
  ::sigaction(SIGINT, &forward, &old_int);
  ::sigaction(SIGTERM, &forward, &old_term);
  log_info("train: {} ranks started (port {}), pids {}", nproc, port, fmt::join(children, " "));
  int first_failure = 0;
  for (size_t left = children.size(); left > 0; --left) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) {
      ++left;
      continue;
    }
    if (pid < 0) break;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0 && first_failure == 0) {
      first_failure = code;
      for (pid_t child : children)
        if (child != pid) ::kill(child, SIGKILL);
    }
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  g_children.clear();
  return first_failure;
}

}  // namespace rawmed
