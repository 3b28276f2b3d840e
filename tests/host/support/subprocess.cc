#include "tests/host/support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace tdpwatch::host_test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds left_until(Clock::time_point deadline) {
  return std::max(milliseconds(0),
                  std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

}  // namespace

Process Process::failed() {
  Process p(-1, -1, -1);
  p.status_ = 127;  // never ran, as a shell reports it
  return p;
}

Process Process::spawn(const std::vector<std::string>& argv,
                       const std::function<bool()>& before_exec) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return failed();
  const pid_t pid = ::fork();
  if (pid < 0) return failed();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    // The test runner may have signals blocked or ignored; the child starts clean.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (before_exec && !before_exec()) ::_exit(126);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, O_NONBLOCK);
  return Process(pid, out[0], err[0]);
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      out_fd_(std::exchange(other.out_fd_, -1)),
      err_fd_(std::exchange(other.err_fd_, -1)),
      status_(other.status_),
      out_(std::move(other.out_)),
      err_(std::move(other.err_)) {}

Process::~Process() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

bool Process::pump(milliseconds timeout) {
  if (out_fd_ < 0 && err_fd_ < 0) return false;
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  if (::poll(fds, 2, static_cast<int>(timeout.count())) <= 0) return false;
  int* fd_of[2] = {&out_fd_, &err_fd_};
  std::string* buf_of[2] = {&out_, &err_};
  for (int i = 0; i < 2; ++i) {
    if (fds[i].revents == 0) continue;
    char buf[4096];
    const ssize_t n = ::read(*fd_of[i], buf, sizeof buf);
    if (n > 0) {
      buf_of[i]->append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      ::close(*fd_of[i]);
      *fd_of[i] = -1;  // poll() ignores negative fds
    }
  }
  return true;
}

bool Process::reap(bool block) {
  if (status_) return true;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
  if (r != pid_) return false;
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return true;
}

std::optional<std::string> Process::wait_for_line(Stream stream, std::string_view needle,
                                                  milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::string& buf = stream == Stream::kOut ? out_ : err_;
  for (;;) {
    for (std::size_t pos = 0, eol; (eol = buf.find('\n', pos)) != std::string::npos;
         pos = eol + 1) {
      const std::string line = buf.substr(pos, eol - pos);
      if (line.find(needle) != std::string::npos) return line;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    if (!pump(std::min(left_until(deadline), milliseconds(50))) && reap(false)) {
      return std::nullopt;  // exited without printing it
    }
  }
}

void Process::signal(int sig) const {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::optional<int> Process::wait(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!reap(false)) {
    if (Clock::now() >= deadline) return std::nullopt;
    if (!pump(std::min(left_until(deadline), milliseconds(20)))) {
      ::usleep(5000);  // pipes closed, process not reaped yet
    }
  }
  while (pump(milliseconds(0))) {
  }
  return status_;
}

RunResult run(const std::vector<std::string>& argv, milliseconds timeout,
              const std::function<bool()>& before_exec) {
  Process p = Process::spawn(argv, before_exec);
  const auto status = p.wait(timeout);
  return RunResult{status.value_or(-1), p.out(), p.err()};
}

std::string binary(const char* env, const char* built) {
  const char* v = std::getenv(env);
  return v != nullptr && *v != '\0' ? v : built;
}

}  // namespace tdpwatch::host_test
