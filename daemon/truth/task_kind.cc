#include "daemon/truth/task_kind.h"

#include <cctype>
#include <cstdlib>
#include <sstream>

#include "daemon/truth/sysfile.h"

namespace tdpwatch::truth {
namespace {

// include/linux/sched.h
constexpr unsigned long kPfKthread = 0x00200000;

}  // namespace

std::optional<TaskKind> read_task_kind(const Paths& paths, int tgid) {
  const std::string dir = paths.procfs + "/" + std::to_string(tgid);
  auto stat = read_file(dir + "/stat");
  if (!stat) return std::nullopt;
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may
  // hold spaces and parentheses, so count fields after the last ')'.
  const std::size_t close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat->substr(close + 1));
  std::string field;
  unsigned long flags = 0;
  for (int i = 0; i < 7 && rest >> field; ++i) {
    if (i == 6) flags = std::strtoul(field.c_str(), nullptr, 10);
  }
  TaskKind k;
  k.kernel_thread = (flags & kPfKthread) != 0;
  k.comm = stat->substr(stat->find('(') + 1, close - stat->find('(') - 1);
  if (auto comm = read_file(dir + "/comm")) {
    k.comm = *comm;
    while (!k.comm.empty() && std::isspace(static_cast<unsigned char>(k.comm.back()))) {
      k.comm.pop_back();
    }
  }
  return k;
}

std::string unattributed_cause(const std::optional<TaskKind>& kind) {
  if (!kind) return "exited";
  if (!kind->kernel_thread) return "process";
  std::string name = kind->comm.substr(0, kind->comm.find('/'));
  // Instance suffixes: kswapd0, kcompactd0, kvm-nx-lpage-recovery-1234.
  while (!name.empty() && (std::isdigit(static_cast<unsigned char>(name.back())) ||
                           name.back() == '-' || name.back() == ':')) {
    name.pop_back();
  }
  return name.empty() ? "kthread" : name;
}

}  // namespace tdpwatch::truth
