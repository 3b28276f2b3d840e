// Host tests of the probes: the real tdpwatchd on this kernel.
//  - `tdpwatchd features` says why fentry/fexit cannot serve here and which
//    tracepoint variant serves get_page/zap_page/spte_changed, and falls
//    back to raw_tp when tp_btf is disabled;
//  - the daemon in tracepoint mode (VM lifecycle from KVM's uevents) sees
//    every VM of several concurrent VMMs created and torn down cleanly, one
//    of them SIGKILLed, and its shadow page count matches SecPageTables.
//
// Root is required (they FAIL without it); the VM test is not run where
// /dev/kvm is absent.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/host/support/proc.h"
#include "tests/host/support/requirements.h"
#include "tests/host/support/subprocess.h"

namespace tdpwatch::host_test {
namespace {

using namespace std::chrono_literals;

const std::string kDaemon = binary("TDPW_TDPWATCHD", TDPW_TDPWATCHD_PATH);
const std::string kVmm = binary("TDPW_TEST_VMM", TDPW_TEST_VMM_PATH);

// The plan row of `hook` in the features table ("  get_page      tp_btf ...").
std::string plan_row(const std::string& table, const std::string& hook) {
  const auto plan = table.find("\nplan:");
  if (plan == std::string::npos) return "";
  const auto at = table.find("\n  " + hook + " ", plan);
  if (at == std::string::npos) return "";
  return table.substr(at + 1, table.find('\n', at + 1) - at - 1);
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// SecPageTables in bytes, after folding the per-CPU vmstat deltas.
long long sec_page_tables() {
  return sec_page_tables_bytes(true).value_or(-1);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<long long> json_number(const std::string& text, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\"" + key + "\": (-?\\d+)"))) return std::nullopt;
  return std::stoll(m[1]);
}

// Model VMs of a status document: tgid -> shadow_pages.
std::map<int, long long> model_vms(const std::string& status) {
  std::map<int, long long> out;
  const std::regex vm(R"(\{"vm": \d+, "tgid": (\d+), "implicit": \w+, (?:"adopted": \w+, )?"shadow_pages": (-?\d+))");
  for (std::sregex_iterator it(status.begin(), status.end(), vm), end; it != end; ++it) {
    out[std::stoi((*it)[1])] = std::stoll((*it)[2]);
  }
  return out;
}

class ProbesHostTest : public ::testing::Test {
 protected:
  void SetUp() override { TDPW_REQUIRE_ROOT(); }
};

TEST_F(ProbesHostTest, FeaturesSaysFentryIsRefusedAndTracepointsServe) {
  const RunResult r = run({kDaemon, "features"}, 30s);
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  std::cout << r.out;
  // fentry/fexit refused by this kernel, with the reason.
  for (const std::string hook : {"vm_create", "vm_destroy", "link_sp"}) {
    EXPECT_EQ(words(plan_row(r.out, hook)).at(1), "none") << plan_row(r.out, hook);
    EXPECT_NE(plan_row(r.out, hook).find("fexit: EPERM at load (fentry/fexit refused"),
              std::string::npos)
        << plan_row(r.out, hook);
  }
  for (const std::string hook : {"nx_track", "nx_untrack", "root_put"}) {
    EXPECT_NE(plan_row(r.out, hook).find("fentry: EPERM"), std::string::npos)
        << plan_row(r.out, hook);
    EXPECT_NE(plan_row(r.out, hook).find("kprobe: kprobes not supported"), std::string::npos)
        << plan_row(r.out, hook);
  }
  for (const std::string hook : {"get_page", "zap_page", "spte_changed"}) {
    const auto w = words(plan_row(r.out, hook));
    ASSERT_GE(w.size(), 2u) << r.out;
    EXPECT_TRUE(w[1] == "tp_btf" || w[1] == "raw_tp") << plan_row(r.out, hook);
  }
  EXPECT_NE(r.out.find("structure_from_spte=true nx_untrack_events=false"), std::string::npos);
  EXPECT_NE(r.out.find("VM lifecycle from uevents"), std::string::npos);

  const RunResult j = run({kDaemon, "features", "--output", "json"}, 30s);
  ASSERT_EQ(j.status, 0) << j.err;
  EXPECT_NE(j.out.find(R"({"hook": "link_sp", "variant": null)"), std::string::npos) << j.out;
  EXPECT_TRUE(j.out.find(R"({"hook": "get_page", "variant": "tp_btf")") != std::string::npos ||
              j.out.find(R"({"hook": "get_page", "variant": "raw_tp")") != std::string::npos)
      << j.out;
}

TEST_F(ProbesHostTest, DisablingTpBtfFallsBackToRawTp) {
  const RunResult r = run({kDaemon, "features", "--disable-variant", "tp_btf"}, 30s);
  ASSERT_EQ(r.status, 0) << r.err;
  for (const std::string hook : {"get_page", "zap_page", "spte_changed"}) {
    const std::string row = plan_row(r.out, hook);
    const auto w = words(row);
    ASSERT_GE(w.size(), 2u) << r.out;
    EXPECT_EQ(w[1], "raw_tp") << row;
    EXPECT_NE(row.find("tp_btf: disabled by --disable-variant"), std::string::npos) << row;
  }
  // Both tracepoint variants disabled: no hook at all, exit 1 with the reason.
  const RunResult none = run({kDaemon, "--print-plan", "--disable-variant", "tp_btf,raw_tp"}, 30s);
  EXPECT_EQ(none.status, 1);
  EXPECT_NE(none.err.find("no hook can attach"), std::string::npos) << none.err;
}

TEST_F(ProbesHostTest, StrictRefusesToDegradeWithOneClearLine) {
  const RunResult r = run({kDaemon, "--once", "--strict"}, 30s);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  // Every hook but the three tracepoints and set_spte_gfn (not needed since 6.9).
  EXPECT_NE(r.err.find("--strict: 11 hook(s) cannot attach"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("set_spte_gfn"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("error"), r.err.rfind("error")) << "one error line:\n" << r.err;
}

struct Vmm {
  Process process;
  int pid = 0;
  int vms = 0;
};

Vmm start_vmm(int vms, int touch_pages) {
  Vmm v{Process::spawn({kVmm, "--mem-mib", "16", "--touch-pages", std::to_string(touch_pages),
                        "--hold-ms", "-1", "--vms", std::to_string(vms)}),
        0, vms};
  v.pid = v.process.pid();
  return v;
}

TEST_F(ProbesHostTest, TracepointModeSeesEveryVmComeAndGoAndMatchesSecPageTables) {
  TDPW_REQUIRE_DEV_KVM();
  const std::string status = "/tmp/tdpw_probes_host_test." + std::to_string(::getpid()) + ".json";
  ::unlink(status.c_str());
  Process daemon = Process::spawn({kDaemon, "--interval", "0.2", "--status-file", status,
                                   "--log.level", "debug", "--web.listen-address", "127.0.0.1:0"});
  ASSERT_TRUE(daemon.wait_for_line(Process::Stream::kErr, "watching;", 20s)) << daemon.err();
  std::this_thread::sleep_for(300ms);
  const long long baseline = sec_page_tables();
  ASSERT_GE(baseline, 0);

  std::vector<Vmm> vmms;
  vmms.push_back(start_vmm(1, 64));
  vmms.push_back(start_vmm(2, 16));
  vmms.push_back(start_vmm(1, 256));
  for (Vmm& v : vmms) {
    ASSERT_TRUE(v.process.wait_for_line(Process::Stream::kOut, "vmm holding", 20s))
        << v.process.err();
  }
  for (Vmm& v : vmms) {
    EXPECT_TRUE(
        daemon.wait_for_line(Process::Stream::kErr, "VM created: pid=" + std::to_string(v.pid), 5s))
        << daemon.err();
  }

  // A quiescent point: two status documents in a row with the same event
  // count, every VMM in the model with shadow pages.
  std::string doc;
  long long last_events = -1;
  bool quiet = false;
  for (auto deadline = std::chrono::steady_clock::now() + 15s;
       !quiet && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(500ms);
    doc = read_file(status);
    const long long events = json_number(doc, "events_processed").value_or(-2);
    const auto vms = model_vms(doc);
    bool all = true;
    for (const Vmm& v : vmms) all = all && vms.count(v.pid) != 0 && vms.at(v.pid) > 0;
    quiet = all && events == last_events;
    last_events = events;
  }
  ASSERT_TRUE(quiet) << "no quiescent point with every VM in the model:\n" << doc;
  const long long model_total = json_number(doc, "shadow_pages_total").value_or(-1);
  const long long sec = sec_page_tables();
  const long long sec_after = sec_page_tables();
  std::cout << "[ measured ] model shadow pages " << model_total
            << " (x4096 = " << model_total * 4096 << "), SecPageTables delta " << sec - baseline
            << " bytes\n"
            << "[ measured ] status: " << doc;
  EXPECT_EQ(sec, sec_after) << "host page tables still moving";
  EXPECT_EQ(model_total * 4096, sec - baseline)
      << "the model's shadow pages are exactly what KVM charged to SecPageTables";
  EXPECT_EQ(json_number(doc, "events_lost"), 0);
  EXPECT_EQ(json_number(doc, "inconsistencies_global"), 0);
  for (const auto& [tgid, pages] : model_vms(doc)) {
    std::smatch m;
    const std::regex inc("\"tgid\": " + std::to_string(tgid) + R"([^\n]*"inconsistencies": (\d+))");
    ASSERT_TRUE(std::regex_search(doc, m, inc));
    EXPECT_EQ(m[1], "0") << "VM tgid " << tgid;
  }

  // Teardown: one VMM SIGKILLed, the others stopped normally.
  vmms[1].process.signal(SIGKILL);
  EXPECT_EQ(vmms[1].process.wait(10s), 128 + SIGKILL);
  for (std::size_t i : {0u, 2u}) {
    vmms[i].process.signal(SIGTERM);
    EXPECT_EQ(vmms[i].process.wait(10s), 0) << vmms[i].process.err();
  }
  for (const Vmm& v : vmms) {
    const auto line = daemon.wait_for_line(Process::Stream::kErr,
                                           "VM destroyed: tgid=" + std::to_string(v.pid), 10s);
    ASSERT_TRUE(line) << daemon.err();
    EXPECT_NE(line->find("clean teardown"), std::string::npos) << *line;
  }
  std::this_thread::sleep_for(500ms);
  const std::string after = read_file(status);
  for (const Vmm& v : vmms) EXPECT_EQ(model_vms(after).count(v.pid), 0u) << after;
  EXPECT_EQ(sec_page_tables(), baseline);

  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(10s), 0) << daemon.err();
  EXPECT_EQ(daemon.err().find(": leak: "), std::string::npos) << daemon.err();
  EXPECT_EQ(daemon.err().find(" warn "), std::string::npos) << daemon.err();
  EXPECT_NE(daemon.err().find("events processed"), std::string::npos);
  ::unlink(status.c_str());
}

}  // namespace
}  // namespace tdpwatch::host_test
