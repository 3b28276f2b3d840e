// eventually(): polls a condition until it holds or a timeout passes; the
// host tests' one way to wait for something another process does.
#pragma once

#include <chrono>
#include <thread>

namespace tdpwatch::host_test {

// Calls `done` every `every` until it returns true (true) or `timeout` has
// passed (false, after one last call).  `between` runs instead of sleeping
// when given, e.g. to keep draining a child's output pipe while waiting.
template <class F, class Between>
bool eventually(std::chrono::milliseconds timeout, F done, Between between) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    between();
  }
  return done();
}

template <class F>
bool eventually(std::chrono::milliseconds timeout, F done,
                std::chrono::milliseconds every = std::chrono::milliseconds(200)) {
  return eventually(timeout, done, [every] { std::this_thread::sleep_for(every); });
}

}  // namespace tdpwatch::host_test
