// One line on why a program load failed (daemon/probes/libbpf_log.h), from
// libbpf's messages as libbpf 1.1 (Debian 12) prints them.
#include "daemon/probes/libbpf_log.h"

#include <gtest/gtest.h>

namespace tdpwatch::probes {
namespace {

constexpr int kWarn = 2;

TEST(LibbpfLog, AnUnresolvedCoreRelocationIsTheReason) {
  forget_load_failure();
  record_libbpf_message(
      kWarn,
      "libbpf: prog 'vm_create__fexit': relo #33: <byte_off> [62] struct kvm.arch.n_used_mmu_pages "
      "(0:24:0 @ offset 2624)\n");
  record_libbpf_message(kWarn,
                        "libbpf: prog 'vm_create__fexit': relo #33: failed to resolve CO-RE "
                        "relocation <byte_off> [62] struct kvm.arch.n_used_mmu_pages\n");
  record_libbpf_message(kWarn,
                        "libbpf: prog 'vm_create__fexit': -- BEGIN PROG LOAD LOG --\n0: (79) r1 = "
                        "*(u64 *)(r1 +0)\n355: (85) call unknown#195896080\ninvalid func "
                        "unknown#195896080\nprocessed 356 insns (limit 1000000)\n-- END PROG LOAD "
                        "LOG --\n");
  record_libbpf_message(kWarn,
                        "libbpf: prog 'vm_create__fexit': failed to load: -22\n");
  EXPECT_EQ(load_failure_reason(),
            "program vm_create__fexit: relo #33: failed to resolve CO-RE relocation <byte_off> "
            "[62] struct kvm.arch.n_used_mmu_pages");
}

TEST(LibbpfLog, OtherwiseTheVerifiersLastWords) {
  forget_load_failure();
  record_libbpf_message(kWarn,
                        "libbpf: prog 'nx_track__fentry': BPF program load failed: Permission "
                        "denied\n");
  record_libbpf_message(kWarn,
                        "libbpf: prog 'nx_track__fentry': -- BEGIN PROG LOAD LOG --\n0: (b7) r0 = "
                        "0\n12: (61) r2 = *(u32 *)(r1 +8)\nR1 invalid mem access 'scalar'\n"
                        "verification time 41 usec\nstack depth 0\nprocessed 13 insns (limit "
                        "1000000) max_states_per_insn 0\n-- END PROG LOAD LOG --\n");
  EXPECT_EQ(load_failure_reason(),
            "program nx_track__fentry: verifier: R1 invalid mem access 'scalar'");
  forget_load_failure();
  EXPECT_EQ(load_failure_reason(), "");
}

}  // namespace
}  // namespace tdpwatch::probes
