// tdpw_core_check: does a BPF object's CO-RE relocate against a given
// kernel's BTF?  Exit 0 when every relocation resolves or sits in code that
// a bpf_core_*_exists() guard made dead; 1 otherwise; 2 on usage errors.
//
//   tdpw_core_check --btf MERGED.btf [--kconfig CONFIG] [--label NAME]
//                   [--fields] [--verbose] OBJECT.bpf.o
//
// libbpf does the relocation for real: open with btf_custom_path = the
// target kernel's BTF (vmlinux + kvm in one file, see btf_merge.cc), every
// program set to load, bpf_object__load().  The relocation stage runs before
// any program reaches the kernel, so what the host kernel then thinks of the
// programs (fentry EPERM, attach targets missing here, verifier) is reported
// as information only.  The verdict comes from (1) libbpf's relocation-stage
// errors and (2) poisoned instructions (no target found) that are reachable
// in the relocated code (bpf_reach.h).  --kconfig gives libbpf the target's
// own config for __kconfig externs (Debian ships it as boot/config-*).
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/utsname.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/kernels/bpf_reach.h"
#include "tests/kernels/btf_fields.h"

namespace {

using tdpw::kernels::analyse_reachability;

struct Options {
  std::string btf, kconfig, label, object;
  bool fields = false, verbose = false;
};

std::vector<std::string> g_log;  // libbpf's messages, one line each
bool g_echo = false;

int capture(enum libbpf_print_level, const char* fmt, va_list args) {
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, args);
  std::string buf(n > 0 ? static_cast<std::size_t>(n) + 1 : 1, '\0');
  std::vsnprintf(buf.data(), buf.size(), fmt, again);
  va_end(again);
  buf.resize(buf.size() - 1);
  std::istringstream lines(buf);  // the verifier log comes as one message
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("libbpf: ")) line.erase(0, 8);
    if (g_echo) std::fprintf(stderr, "libbpf: %s\n", line.c_str());
    g_log.push_back(std::move(line));
  }
  return 0;
}

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};
struct BtfFree {
  void operator()(btf* b) const { btf__free(b); }
};

// One CO-RE relocation as libbpf's log tells it.
struct Relo {
  std::string spec;     // "<byte_off> [12] struct kvm_mmu_page.gfn (0:7 @ offset 40)"
  bool unresolved = false;
  long poisoned_insn = -1;  // insn index libbpf poisoned, in the program's (or subprogram's) own numbering
};
using ReloKey = std::pair<std::string, int>;  // program, relo #

std::map<ReloKey, Relo> parse_relos() {
  static const std::regex line(R"(^prog '([^']+)': relo #([0-9]+): (.*)$)");
  static const std::regex poison(R"(^substituting insn #([0-9]+) w/ invalid insn)");
  std::map<ReloKey, Relo> relos;
  std::smatch m, p;
  for (const auto& l : g_log) {
    if (!std::regex_search(l, m, line)) continue;
    Relo& r = relos[{m[1].str(), std::stoi(m[2].str())}];
    const std::string rest = m[3].str();
    if (r.spec.empty() && !rest.empty() && rest.front() == '<') r.spec = rest;
    if (rest.starts_with("no matching targets found")) r.unresolved = true;
    if (std::regex_search(rest, p, poison)) r.poisoned_insn = std::stol(p[1].str());
  }
  return relos;
}

bool log_has(const char* needle) {
  for (const auto& l : g_log)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& dst) {
      if (i + 1 >= argc) return false;
      dst = argv[++i];
      return true;
    };
    if (a == "--btf") { if (!value(o.btf)) return false; }
    else if (a == "--kconfig") { if (!value(o.kconfig)) return false; }
    else if (a == "--label") { if (!value(o.label)) return false; }
    else if (a == "--fields") o.fields = true;
    else if (a == "--verbose" || a == "-v") o.verbose = true;
    else if (!a.starts_with("-") && o.object.empty()) o.object = a;
    else return false;
  }
  return !o.btf.empty() && !o.object.empty();
}

std::string read_file(const std::string& path, bool& ok) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  ok = static_cast<bool>(in);
  return ss.str();
}

int fail(const Options& o, const std::string& why) {
  std::printf("core_check: %s: FAIL: %s\n", o.label.c_str(), why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_args(argc, argv, o)) {
    std::fprintf(stderr, "usage: %s --btf MERGED.btf [--kconfig CONFIG] [--label NAME] [--fields] [--verbose] OBJECT.bpf.o\n",
                 argv[0]);
    return 2;
  }
  if (o.label.empty()) o.label = o.btf;
  g_echo = o.verbose;
  libbpf_set_print(capture);

  std::unique_ptr<btf, BtfFree> kernel_btf(btf__parse(o.btf.c_str(), nullptr));
  if (!kernel_btf) return fail(o, "cannot parse BTF " + o.btf + ": " + std::strerror(errno));
  std::printf("core_check: %s: object %s, kernel BTF %s (%u types)\n", o.label.c_str(), o.object.c_str(),
              o.btf.c_str(), btf__type_cnt(kernel_btf.get()) - 1);
  if (o.fields) tdpw::kernels::print_era_fields(kernel_btf.get(), stdout);

  std::string kconfig;
  if (!o.kconfig.empty()) {
    bool ok = false;
    kconfig = read_file(o.kconfig, ok);
    if (!ok) return fail(o, "cannot read kconfig " + o.kconfig);
  }
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  opts.btf_custom_path = o.btf.c_str();
  opts.kconfig = kconfig.empty() ? nullptr : kconfig.c_str();
  std::unique_ptr<bpf_object, ObjectCloser> obj(bpf_object__open_file(o.object.c_str(), &opts));
  if (!obj) return fail(o, "cannot open " + o.object + ": " + std::strerror(errno));
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj.get()) bpf_program__set_autoload(prog, true);

  const int load_err = bpf_object__load(obj.get());
  const auto relos = parse_relos();

  // (1) The relocation stage itself.
  if (log_has("failed to perform CO-RE relocations") || log_has("failed to relocate")) {
    for (const auto& l : g_log)
      if (l.find("relo #") != std::string::npos && l.find("fail") != std::string::npos) std::printf("  %s\n", l.c_str());
    return fail(o, "libbpf's CO-RE relocation stage failed (lines above)");
  }
  if (relos.empty()) {
    if (load_err) {
      for (const auto& l : g_log) std::printf("  libbpf: %s\n", l.c_str());
      return fail(o, "libbpf stopped before CO-RE relocation (load error " + std::to_string(load_err) + ", log above)");
    }
    std::printf("core_check: %s: note: the object has no CO-RE relocations\n", o.label.c_str());
  }

  // (2) Unresolved relocations, and whether their poison is reachable.
  std::map<std::pair<std::string, long>, const std::pair<const ReloKey, Relo>*> poison_at;
  std::size_t unresolved = 0;
  for (const auto& kv : relos) {
    if (!kv.second.unresolved) continue;
    ++unresolved;
    if (kv.second.poisoned_insn >= 0) poison_at[{kv.first.first, kv.second.poisoned_insn}] = &kv;
  }
  std::size_t live = 0, dead = 0, programs = 0;
  std::map<std::string, int> dead_specs, false_guards;  // spec -> programs
  bpf_object__for_each_program(prog, obj.get()) {
    ++programs;
    const std::string name = bpf_program__name(prog);
    const bpf_insn* insns = bpf_program__insns(prog);
    const auto r = analyse_reachability({insns, bpf_program__insn_cnt(prog)});
    std::size_t prog_relos = 0;
    for (const auto& kv : relos) prog_relos += kv.first.first == name;
    std::printf("  prog %-28s %5zu insns, %3zu CO-RE relos, %zu poisoned insns (%zu reachable)\n", name.c_str(),
                bpf_program__insn_cnt(prog), prog_relos, r.poisoned.size(), r.live_poisoned.size());
    for (std::size_t pc : r.poisoned) {
      auto it = poison_at.find({name, static_cast<long>(pc)});
      const std::string spec = it != poison_at.end() ? it->second->second.spec
                                                     : "(relocation in a subprogram, or second half of an ld_imm64)";
      if (!r.reachable[pc]) {
        ++dead;
        ++dead_specs[spec];
        continue;
      }
      ++live;
      const std::string relo = it != poison_at.end() ? "relo #" + std::to_string(it->second->first.second) + " " : "";
      std::printf("    insn #%zu REACHABLE, no guard made it dead: %s%s\n", pc, relo.c_str(), spec.c_str());
    }
  }
  // Unresolved relocations that poisoned nothing: bpf_core_field_exists()
  // and co. relocated to 0.
  for (const auto& [key, relo] : relos) {
    if (relo.unresolved && relo.poisoned_insn < 0) ++false_guards[relo.spec];
  }
  std::printf("  guards false in this kernel (relocated to 0):\n");
  for (const auto& [spec, n] : false_guards) std::printf("    %-100s in %d progs\n", spec.c_str(), n);
  std::printf("  unresolved accesses in code those guards made dead:\n");
  for (const auto& [spec, n] : dead_specs) std::printf("    %-100s in %d progs\n", spec.c_str(), n);

  // The host kernel's view: libbpf loads programs in order and stops at the
  // first failure.  A verifier rejection that names a CO-RE relocation should
  // agree with a reachable poison above; anything else concerns this host.
  utsname u{};
  uname(&u);
  std::printf("core_check: %s: host load on %s (information only): %s\n", o.label.c_str(), u.release,
              load_err ? ("failed, " + std::string(std::strerror(-load_err))).c_str() : "ok");
  for (const auto& l : g_log) {
    if (l.find("BPF program load failed") != std::string::npos ||
        l.find("failed to resolve CO-RE relocation") != std::string::npos ||
        l.find("failed to find kernel BTF type ID") != std::string::npos)
      std::printf("  host: %s\n", l.c_str());
  }

  std::printf("core_check: %s: %zu programs, %zu CO-RE relos, %zu unresolved (%zu poisoned dead, %zu poisoned reachable)\n",
              o.label.c_str(), programs, relos.size(), unresolved, dead, live);
  if (live) return fail(o, std::to_string(live) + " unresolved CO-RE relocation(s) in reachable code (above)");
  std::printf("core_check: %s: PASS\n", o.label.c_str());
  return 0;
}
