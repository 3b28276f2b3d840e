#include "daemon/probes/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <algorithm>
#include <cstdio>
#include <string>

#include <spdlog/spdlog.h>

namespace tdpwatch::probes {
namespace {

bool g_in_verifier_log = false;  // libbpf prints from the loading thread only
// Why the last load failed, one line: libbpf's own error lines (a CO-RE
// relocation it could not resolve, "BPF program load failed: ...") and the
// verifier's last words (its log ends with the rejected instruction's
// reason, then "processed N insns ...").
std::string g_program;
std::string g_libbpf_reason;
std::string g_verifier_reason;

bool verifier_statistics(const std::string& line) {
  return line.rfind("processed ", 0) == 0 || line.rfind("verification time", 0) == 0 ||
         line.rfind("stack depth", 0) == 0 || line.find("-- END PROG LOAD LOG --") != std::string::npos ||
         line.find("-- BEGIN PROG LOAD LOG --") != std::string::npos;
}

// The last line of a verifier log that says something (not its statistics).
std::string last_verifier_words(const std::string& log) {
  std::string last, line;
  for (std::size_t pos = 0; pos <= log.size();) {
    std::size_t nl = log.find('\n', pos);
    if (nl == std::string::npos) nl = log.size();
    line = log.substr(pos, nl - pos);
    pos = nl + 1;
    if (const std::size_t m = line.find("-- BEGIN PROG LOAD LOG --"); m != std::string::npos) {
      line = line.substr(m + std::string("-- BEGIN PROG LOAD LOG --").size());
    }
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (!line.empty() && !verifier_statistics(line)) last = line;
  }
  return last;
}

void note_failure(const std::string& msg, bool verifier) {
  // libbpf: "prog 'NAME': BPF program load failed: Invalid argument",
  // "prog 'NAME': relo #3: ... failed to resolve CO-RE relocation <byte_off>
  // [62] struct kvm.arch.n_used_mmu_pages ...", "prog 'NAME': -- BEGIN PROG
  // LOAD LOG --\n...\n-- END PROG LOAD LOG --" (one message).
  const std::string head = "libbpf: prog '";
  if (msg.rfind(head, 0) != 0) {
    if (verifier && !g_program.empty()) {
      if (std::string w = last_verifier_words(msg); !w.empty()) g_verifier_reason = w;
    }
    return;
  }
  const std::size_t end = msg.find('\'', head.size());
  if (end == std::string::npos) return;
  const std::string prog = msg.substr(head.size(), end - head.size());
  const std::string rest = msg.substr(std::min(msg.size(), end + 3));
  if (prog != g_program) {
    g_program = prog;
    g_libbpf_reason.clear();
    g_verifier_reason.clear();
  }
  if (verifier) {
    if (std::string w = last_verifier_words(rest); !w.empty()) g_verifier_reason = w;
  } else if (rest.find("failed to resolve CO-RE relocation") != std::string::npos ||
             (g_libbpf_reason.empty() && rest.find("failed") != std::string::npos)) {
    g_libbpf_reason = rest;
  }
}

int print(libbpf_print_level level, const char* format, va_list args) {
  // A verifier log comes as one message and can be megabytes; its reason is
  // at the end, so size the buffer to the message.
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n < 0) return 0;
  std::string msg(static_cast<std::size_t>(n) + 1, '\0');
  std::vsnprintf(msg.data(), msg.size(), format, args);
  msg.resize(static_cast<std::size_t>(n));
  record_libbpf_message(level == LIBBPF_WARN ? 2 : level == LIBBPF_INFO ? 1 : 0, std::move(msg));
  return n;
}

}  // namespace

void record_libbpf_message(int level, std::string msg) {
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
  if (msg.find("-- BEGIN PROG LOAD LOG --") != std::string::npos) g_in_verifier_log = true;
  const bool verifier = g_in_verifier_log;
  if (msg.find("-- END PROG LOAD LOG --") != std::string::npos) g_in_verifier_log = false;
  if (level == 2 || verifier) note_failure(msg, verifier);
  if (msg.rfind("libbpf: ", 0) == 0) msg.erase(0, 8);  // libbpf's own prefix: once is enough
  if (verifier) {
    spdlog::debug("libbpf: {}", msg);
  } else if (level == 2) {
    spdlog::warn("libbpf: {}", msg);
  } else if (level == 1) {
    spdlog::info("libbpf: {}", msg);
  } else {
    spdlog::debug("libbpf: {}", msg);
  }
}

void route_libbpf_logs_to_spdlog() {
  libbpf_set_print(print);
}

void forget_load_failure() {
  g_program.clear();
  g_libbpf_reason.clear();
  g_verifier_reason.clear();
}

std::string load_failure_reason() {
  if (g_program.empty()) return "";
  // An unresolved CO-RE relocation says more than the verifier's "invalid
  // func unknown#195896080" on the poisoned instruction.
  const bool core = g_libbpf_reason.find("CO-RE") != std::string::npos;
  std::string why = core                          ? g_libbpf_reason
                    : !g_verifier_reason.empty() ? "verifier: " + g_verifier_reason
                                                 : g_libbpf_reason;
  if (why.empty()) return "";
  return "program " + g_program + ": " + why;
}

}  // namespace tdpwatch::probes
