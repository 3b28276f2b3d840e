// A real tdpwatchd on a free loopback port and one tdpw_test_vmm VM held
// until the end, shared by the CLI host tests (started once per suite).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/host/support/eventually.h"
#include "tests/host/support/subprocess.h"

namespace tdpwatch::host_test {

// Runs the tdpwatch binary with `args` (plus --daemon when url is not empty).
RunResult tdpwatch(std::vector<std::string> args, const std::string& url = "",
                   std::chrono::milliseconds timeout = std::chrono::seconds(60));

class CliHost : public testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  // Not empty when this machine cannot run the suite (no /dev/kvm): skipped.
  static std::string skip_reason;
  // Empty when the suite could not start (the reason is in setup_error).
  static std::string url;
  static int port;
  static pid_t vm_pid;
  static std::string setup_error;

  // `tdpwatch list --output json`'s element for our VM, or null.
  static nlohmann::json our_vm_in_list();

 private:
  static std::unique_ptr<Process> daemon_;
  static std::unique_ptr<Process> vmm_;
};

}  // namespace tdpwatch::host_test
