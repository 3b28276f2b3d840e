// libbpf's messages into spdlog: libbpf WARN -> warn, INFO -> info, DEBUG ->
// debug; a verifier log (between libbpf's "-- BEGIN PROG LOAD LOG --" and
// "-- END PROG LOAD LOG --") goes to debug whatever libbpf's level, so that a
// refused program is one warn line plus, at --log.level=debug, the log.
#pragma once

#include <string>

namespace tdpwatch::probes {

// Installs the callback (process-wide: libbpf_set_print).  Idempotent.
void route_libbpf_logs_to_spdlog();

// One line on why the last program load failed, from libbpf's messages
// since forget_load_failure(): "program vm_create__fexit: relo #33: ...
// failed to resolve CO-RE relocation <byte_off> [62] struct
// kvm.arch.n_used_mmu_pages ..." or "program X: verifier: R1 invalid mem
// access 'scalar'"; empty when libbpf said nothing usable.
void forget_load_failure();
// One formatted libbpf message (level 0 debug, 1 info, 2 warn), as the
// callback hands it on; public for the tests.
void record_libbpf_message(int level, std::string msg);
std::string load_failure_reason();

}  // namespace tdpwatch::probes
