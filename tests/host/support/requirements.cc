#include "tests/host/support/requirements.h"

#include <sys/stat.h>

namespace tdpwatch::host_test {

std::string dev_kvm_missing() {
  struct stat st {};
  if (::stat("/dev/kvm", &st) == 0 && S_ISCHR(st.st_mode)) return "";
  const bool loaded = ::stat("/sys/module/kvm", &st) == 0;
  // The same "not run: " prefix as the shell tests (tests/host/support/lib.sh),
  // which scripts/test.sh lists after ctest's summary.
  return std::string("not run: needs /dev/kvm to run a real VM, and this machine has none (") +
         (loaded ? "KVM is loaded but registered no device" : "KVM is not loaded") +
         "); it runs where /dev/kvm exists, and real VMs run everywhere in the nested bed "
         "(ctest -L nested)";
}

}  // namespace tdpwatch::host_test
