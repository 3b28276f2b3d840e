// libbpf's messages into spdlog: libbpf WARN -> warn, INFO -> info, DEBUG ->
// debug; a verifier log (between libbpf's "-- BEGIN PROG LOAD LOG --" and
// "-- END PROG LOAD LOG --") goes to debug whatever libbpf's level, so that a
// refused program is one warn line plus, at --log.level=debug, the log.
#pragma once

namespace tdpwatch::probes {

// Installs the callback (process-wide: libbpf_set_print).  Idempotent.
void route_libbpf_logs_to_spdlog();

}  // namespace tdpwatch::probes
