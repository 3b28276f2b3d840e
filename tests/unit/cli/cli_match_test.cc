// Which VM `tdpwatch snapshot VM` means.
#include <gtest/gtest.h>

#include "cli/vm_match.h"

namespace tdpwatch::cli {
namespace {

const nlohmann::json kVms = nlohmann::json::parse(R"([
  {"vm": "web-01", "pid": 4242, "uuid": "1B4E28BA-2FA1-11D2-883F-0016D3CCA427", "debugfs": "4242-17",
   "key": 18446612686365003776},
  {"vm": "tdpw_test_vmm-5150", "pid": 5150, "uuid": "", "debugfs": "", "key": 4096},
  {"vm": "tdpw_test_vmm-5150#2", "pid": 5150, "uuid": "", "debugfs": "", "key": 8192},
  {"vm": "4096", "pid": 7, "uuid": "", "debugfs": "", "key": 12288}
])");

std::size_t match(const std::string& q) {
  auto m = match_vm(kVms, q);
  EXPECT_TRUE(m) << q << ": " << (m ? "" : m.failure().message);
  return m ? *m : 999;
}

TEST(CliVmMatch, ByNameUuidPidDebugfsAndKey) {
  EXPECT_EQ(match("web-01"), 0u);
  EXPECT_EQ(match("tdpw_test_vmm-5150#2"), 2u);
  EXPECT_EQ(match("1b4e28ba-2fa1-11d2-883f-0016d3cca427"), 0u);  // uuid, any case
  EXPECT_EQ(match("4242"), 0u);                                  // pid
  EXPECT_EQ(match("4242-17"), 0u);                               // debugfs dir
  EXPECT_EQ(match("18446612686365003776"), 0u);                  // key, decimal
  EXPECT_EQ(match("0x2000"), 2u);                                // key, hex
  EXPECT_EQ(match("4096"), 3u);                                  // a name wins over a key
}

TEST(CliVmMatch, PidWithSeveralVmsIsAmbiguous) {
  auto m = match_vm(kVms, "5150");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.failure().code, kExitVmNotFound);
  EXPECT_NE(m.failure().message.find("matches 2 VMs"), std::string::npos) << m.failure().message;
  EXPECT_NE(m.failure().message.find("tdpw_test_vmm-5150#2"), std::string::npos);
}

TEST(CliVmMatch, UnknownVmNamesWhatThereIs) {
  auto m = match_vm(kVms, "nope");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.failure().code, kExitVmNotFound);
  EXPECT_EQ(m.failure().message, "no VM matches 'nope'");
  EXPECT_NE(m.failure().hint.find("web-01 (pid 4242"), std::string::npos) << m.failure().hint;
  auto none = match_vm(nlohmann::json::array(), "x");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.failure().hint, "the daemon tracks no VM right now");
}

}  // namespace
}  // namespace tdpwatch::cli
