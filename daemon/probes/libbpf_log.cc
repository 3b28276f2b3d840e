#include "daemon/probes/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <string>

#include <spdlog/spdlog.h>

namespace tdpwatch::probes {
namespace {

bool g_in_verifier_log = false;  // libbpf prints from the loading thread only

int print(libbpf_print_level level, const char* format, va_list args) {
  char buf[4096];
  const int n = std::vsnprintf(buf, sizeof buf, format, args);
  if (n < 0) return 0;
  std::string msg(buf);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
  if (msg.find("-- BEGIN PROG LOAD LOG --") != std::string::npos) g_in_verifier_log = true;
  const bool verifier = g_in_verifier_log;
  if (msg.find("-- END PROG LOAD LOG --") != std::string::npos) g_in_verifier_log = false;
  if (verifier) {
    spdlog::debug("libbpf: {}", msg);
  } else if (level == LIBBPF_WARN) {
    spdlog::warn("libbpf: {}", msg);
  } else if (level == LIBBPF_INFO) {
    spdlog::info("libbpf: {}", msg);
  } else {
    spdlog::debug("libbpf: {}", msg);
  }
  return n;
}

}  // namespace

void route_libbpf_logs_to_spdlog() {
  libbpf_set_print(print);
}

}  // namespace tdpwatch::probes
