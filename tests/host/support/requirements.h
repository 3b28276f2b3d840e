// What a host test needs from the machine, checked the same way everywhere.
//
// Root is required (CI runs as root): without it a host test FAILS, naming
// what to do.  /dev/kvm is not on every machine (KVM built in without a usable
// vendor backend, a container): a test that needs a real VM SKIPS there, with
// the reason, and ctest reports it as not run.  The nested bed
// (tests/nested) is where real VMs run on every machine.
#pragma once

#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

namespace tdpwatch::host_test {

// Empty when /dev/kvm is a character device; else why it is not usable here.
std::string dev_kvm_missing();

}  // namespace tdpwatch::host_test

// In SetUp or a test body: fails the test unless it runs as root.
#define TDPW_REQUIRE_ROOT()                                                               \
  do {                                                                                    \
    if (::geteuid() != 0) {                                                               \
      GTEST_FAIL() << "host tests need root (eBPF, debugfs): run them with sudo, or run " \
                      "`ctest -L unit` for the unprivileged tests";                       \
    }                                                                                     \
  } while (0)

// In SetUp or a test body: skips the test, saying why, where /dev/kvm is absent.
#define TDPW_REQUIRE_DEV_KVM()                                                 \
  do {                                                                         \
    if (const std::string tdpw_why = ::tdpwatch::host_test::dev_kvm_missing(); \
        !tdpw_why.empty()) {                                                   \
      GTEST_SKIP() << tdpw_why;                                                \
    }                                                                          \
  } while (0)
