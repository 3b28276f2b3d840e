// How a subcommand fails: an exit code (exit_codes.h), one line saying what
// happened, and optionally one line saying what to do.  Outcome<T> is a T or
// a Failure, so errors travel as values up to the subcommand, which prints
// them with report() and returns the code.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "cli/exit_codes.h"

namespace tdpwatch::cli {

struct Failure {
  int code = kExitFailure;
  std::string message;
  std::string hint;  // empty: none
};

template <class T>
class [[nodiscard]] Outcome {
 public:
  Outcome(T value) : v_(std::in_place_index<0>, std::move(value)) {}            // NOLINT: implicit
  Outcome(Failure failure) : v_(std::in_place_index<1>, std::move(failure)) {}  // NOLINT
  explicit operator bool() const { return v_.index() == 0; }
  T& operator*() { return std::get<0>(v_); }
  const T& operator*() const { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  const Failure& failure() const { return std::get<1>(v_); }

 private:
  std::variant<T, Failure> v_;
};

// Prints "tdpwatch: <message>" and "hint: <hint>" to stderr; returns the code.
int report(const Failure& failure);

}  // namespace tdpwatch::cli
