// Capability names, the start check's message, and what the steady state
// keeps per kernel (the dropping itself is tested for real in ops_host_test).
#include "daemon/setup/capabilities.h"

#include <linux/capability.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace tdpwatch::setup {
namespace {

constexpr CapMask bit(int c) {
  return CapMask{1} << c;
}

TEST(Capabilities, Names) {
  EXPECT_EQ(cap_names(0), "none");
  EXPECT_EQ(cap_names(bit(CAP_BPF) | bit(CAP_PERFMON)), "cap_perfmon,cap_bpf");
  EXPECT_EQ(cap_names(bit(CAP_CHOWN) | bit(50)), "cap_chown,cap_50");
}

TEST(Capabilities, ProbeCheck) {
  EXPECT_TRUE(check_probe_caps(bit(CAP_BPF) | bit(CAP_PERFMON)));
  EXPECT_TRUE(check_probe_caps(bit(CAP_SYS_ADMIN)));
  const auto s = check_probe_caps(bit(CAP_PERFMON));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("(missing cap_bpf;"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("--no-probes"), std::string::npos);
  EXPECT_NE(check_probe_caps(0).error().message.find("missing cap_perfmon,cap_bpf"),
            std::string::npos);
}

TEST(Capabilities, SteadyStateKeepsCapBpfOnlyWhereMapReadsNeedIt) {
  const auto proc = std::filesystem::temp_directory_path() / "tdpw_caps_test_proc";
  std::filesystem::create_directories(proc / "sys/kernel");
  auto sysctl = [&](const char* v) {
    std::ofstream(proc / "sys/kernel/unprivileged_bpf_disabled") << v << "\n";
  };
  std::string why;
  sysctl("2");
  EXPECT_EQ(steady_state_caps(true, "6.1.0-27-amd64", proc.string(), why), bit(CAP_BPF));
  EXPECT_NE(why.find("unprivileged_bpf_disabled=2"), std::string::npos) << why;
  EXPECT_EQ(steady_state_caps(true, "6.12.9-amd64", proc.string(), why), 0u);
  EXPECT_EQ(steady_state_caps(true, "6.18.44-fc-v669", proc.string(), why), 0u);
  EXPECT_EQ(steady_state_caps(false, "6.1.0-27-amd64", proc.string(), why), 0u);
  sysctl("0");
  EXPECT_EQ(steady_state_caps(true, "6.1.0-27-amd64", proc.string(), why), 0u);
  std::filesystem::remove_all(proc);
}

}  // namespace
}  // namespace tdpwatch::setup
