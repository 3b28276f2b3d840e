// tdpwatch against a real tdpwatchd with a real VM (tdpw_test_vmm) on this
// host (shadow MMU: the VM's page tables are shadow pages): snapshot and list
// agree with each other, with the daemon's /metrics, with the probes' own
// count and with the kernel's figures (debugfs leaf counts, SecPageTables);
// --pages lists exactly the counted pages; an unknown VM is exit 4; check
// exits 0 with the plan; record + replay shows a VM's whole life.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/host/cli/cli_host_fixture.h"
#include "tests/host/support/proc.h"
#include "tests/unit/exporter/http_get.h"

namespace tdpwatch::host_test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The value of `metric{...pid="<pid>"...}` in a Prometheus text page.
std::optional<double> metric(const std::string& page, const std::string& name, pid_t pid,
                             const std::string& more_labels = "") {
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + "{", 0) != 0) continue;
    if (line.find("pid=\"" + std::to_string(pid) + "\"") == std::string::npos) continue;
    if (!more_labels.empty() && line.find(more_labels) == std::string::npos) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return std::nullopt;
}

std::optional<long> read_number(const std::string& path) {
  std::ifstream in(path);
  long v = 0;
  if (!(in >> v)) return std::nullopt;
  return v;
}

TEST_F(CliHost, SnapshotAndListEqualMetricsAndKernel) {
  // The probes' counters join the snapshot at the daemon's next tick.
  ASSERT_TRUE(eventually(10s, [] { return our_vm_in_list()["probe_counters"].is_object(); }))
      << our_vm_in_list().dump(2);
  const RunResult snap = tdpwatch({"snapshot", std::to_string(vm_pid), "--output", "json"}, url);
  ASSERT_EQ(snap.status, 0) << snap.err;
  const json s = json::parse(snap.out);
  EXPECT_EQ(s["schema"], "tdpwatch.snapshot/v1");
  EXPECT_EQ(s["vm"]["pid"], vm_pid);
  EXPECT_EQ(s["vm"]["comm"], "tdpw_test_vmm");
  const std::int64_t shadow = s["model"]["shadow_pages"];
  EXPECT_GT(shadow, 0);
  EXPECT_EQ(s["model"]["tdp_pages"]["total"], 0) << "this host runs the shadow MMU";
  EXPECT_EQ(s["model"]["page_table_pages"], shadow);

  // list says the same.
  const json listed = our_vm_in_list();
  ASSERT_FALSE(listed.is_null());
  EXPECT_EQ(listed["model"], s["model"]);
  EXPECT_EQ(listed["kernel"], s["kernel"]);

  // /metrics says the same.
  const std::string page = test::http_get(port, "/metrics").body;
  EXPECT_EQ(metric(page, "tdpwatch_vm_shadow_pages", vm_pid), static_cast<double>(shadow)) << page;
  EXPECT_EQ(metric(page, "tdpwatch_vm_page_table_bytes", vm_pid),
            static_cast<double>(shadow * 4096));
  EXPECT_EQ(metric(page, "tdpwatch_vm_leaf_mappings", vm_pid, "size=\"4k\""),
            s["model"]["leaf_mappings"]["4k"].get<double>());

  // The probes' own lossless count of shadow pages agrees with the model.
  ASSERT_TRUE(s["probe_counters"].is_object()) << s.dump(2);
  EXPECT_EQ(s["probe_counters"]["shadow_pages"], shadow);
  EXPECT_EQ(s["probe_counters"]["lost"], 0);

  // The kernel: debugfs's per-VM leaf counts (the VM's own directory).
  const std::string dir = s["vm"]["debugfs"];
  ASSERT_FALSE(dir.empty()) << "the daemon attached no debugfs directory to the VM";
  const auto pages_4k = read_number("/sys/kernel/debug/kvm/" + dir + "/pages_4k");
  ASSERT_TRUE(pages_4k) << "cannot read /sys/kernel/debug/kvm/" << dir << "/pages_4k";
  EXPECT_EQ(s["kernel"]["leaf_mappings"]["4k"], *pages_4k);
  EXPECT_EQ(s["model"]["leaf_mappings"]["4k"], *pages_4k);
  // Drift is the reconciler's: it compares leaf mappings only where the
  // model follows the kernel's leaves (a TDP MMU); a shadow-MMU host's
  // stat.pages[] counts shadow leaves too, so there it shows no leaf drift.
  std::string tdp_mmu;
  std::getline(std::ifstream("/sys/module/kvm/parameters/tdp_mmu"), tdp_mmu);
  if (tdp_mmu == "Y") {
    EXPECT_EQ(s["drift"]["leaf_mappings"]["4k"], 0);
  } else {
    EXPECT_TRUE(s["drift"]["leaf_mappings"]["4k"].is_null()) << s["drift"].dump();
  }

  // The kernel, host-wide: SecPageTables is every VM's page-table pages.
  // Other engineers' VMs may come and go meanwhile (they are counted by this
  // daemon too), so look for one quiet moment in 20 s.
  std::string last;
  const bool agreed = eventually(20s, [&] {
    const RunResult r = tdpwatch({"list", "--output", "json"}, url);
    const json l = json::parse(r.out, nullptr, false);
    if (l.is_discarded()) return false;
    std::int64_t pages = 0;
    for (const json& vm : l["vms"]) pages += vm["model"]["page_table_pages"].get<std::int64_t>();
    const auto meminfo = sec_page_tables_bytes(false);
    last = "list: " + std::to_string(pages) + " pages x 4096, daemon SecPageTables " +
           l["daemon"]["sec_page_tables_bytes"].dump() + ", /proc/meminfo " +
           (meminfo ? std::to_string(*meminfo) : "?");
    return meminfo && l["daemon"]["sec_page_tables_bytes"] == pages * 4096 &&
           *meminfo == pages * 4096;
  });
  EXPECT_TRUE(agreed) << last << " (other VMs starting or stopping on this host cause this?)";

  // The table form carries the same figure.
  const RunResult table = tdpwatch({"snapshot", std::to_string(vm_pid)}, url);
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_TRUE(
      std::regex_search(table.out, std::regex("shadow pages +" + std::to_string(shadow) + " ")))
      << table.out;
}

TEST_F(CliHost, SnapshotPagesListsEveryCountedShadowPage) {
  const RunResult r =
      tdpwatch({"snapshot", std::to_string(vm_pid), "--pages", "--output", "json"}, url);
  ASSERT_EQ(r.status, 0) << r.err;
  const json s = json::parse(r.out);
  ASSERT_TRUE(s["pages"].is_array());
  EXPECT_EQ(static_cast<std::int64_t>(s["pages"].size()),
            s["model"]["shadow_pages"].get<std::int64_t>());
  for (const json& p : s["pages"]) {
    EXPECT_EQ(p["mmu"], "shadow");
    EXPECT_GE(p["level"].get<int>(), 1);
    EXPECT_LE(p["level"].get<int>(), 5);
    EXPECT_NE(p["sp"], 0) << "shadow pages are known by their struct kvm_mmu_page";
    EXPECT_EQ(p["role"].get<std::uint32_t>() & 0xf, p["level"].get<std::uint32_t>());
  }
  const RunResult table = tdpwatch({"snapshot", std::to_string(vm_pid), "--pages"}, url);
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("Tracked pages (" + std::to_string(s["pages"].size()) + "):"),
            std::string::npos)
      << table.out;
}

TEST_F(CliHost, UnknownVmIsExit4) {
  const RunResult r = tdpwatch({"snapshot", "no-such-vm"}, url);
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_EQ(r.err.rfind("tdpwatch: no VM matches 'no-such-vm'\nhint: VMs tracked: ", 0), 0u)
      << r.err;
  EXPECT_NE(r.err.find("pid " + std::to_string(vm_pid)), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST_F(CliHost, CheckExitsZeroAndPrintsThePlan) {
  const RunResult r = tdpwatch({"check"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("host: this host runs the shadow MMU"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("probes (load + attach of a minimal program):"), std::string::npos);
  EXPECT_NE(r.out.find("plan:"), std::string::npos);
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(get_page +tp_btf +kvm_mmu_get_page)")))
      << r.out;
  EXPECT_NE(r.out.find("get_page__tp_btf -> kvm_mmu_get_page"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(detached (\d+) programs)"))) << r.out;
  EXPECT_NE(r.out.find("ok: tdpwatch can run here"), std::string::npos) << r.out;

  // Every variant disabled that this kernel offers: cannot run, exit 1, the reason.
  const RunResult none = tdpwatch({"check", "--disable-variant", "tp_btf,raw_tp"});
  EXPECT_EQ(none.status, 1) << none.out;
  EXPECT_NE(none.err.find("tdpwatch cannot run here: no hook can attach"), std::string::npos)
      << none.err;
}

// The replay document of `file` and the teardown of tgid `pid` in it.
void expect_clean_life_in_recording(const std::string& file, pid_t pid) {
  const RunResult r = tdpwatch({"replay", file, "--output", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const json doc = json::parse(r.out);
  EXPECT_TRUE(doc["complete"].get<bool>());
  EXPECT_TRUE(doc["recording"]["structure_from_spte"].get<bool>()) << "tracepoint-only plan here";
  const json* ours = nullptr;
  for (const json& t : doc["teardowns"]) {
    if (t["tgid"] == pid) ours = &t;
  }
  ASSERT_NE(ours, nullptr) << "no teardown of tgid " << pid << " in " << doc.dump(1);
  EXPECT_TRUE((*ours)["clean"].get<bool>()) << ours->dump(2);
  EXPECT_GT((*ours)["counts_at_teardown"]["counters"]["shadow_created"].get<int>(), 0);
  EXPECT_EQ((*ours)["counts_at_teardown"]["shadow_pages"], 0);
  for (const json& vm : doc["vms"]) EXPECT_NE(vm["tgid"], pid) << "still alive in the replay";

  const RunResult table = tdpwatch({"replay", file});
  ASSERT_EQ(table.status, 0);
  EXPECT_TRUE(
      std::regex_search(table.out, std::regex(" " + std::to_string(pid) + " +\\d+ +clean ")))
      << table.out;
}

// Two recordings of one VM's life: one for --duration, one until SIGINT.
TEST_F(CliHost, RecordThenReplayShowsTheVmCreatedAndTornDownCleanly) {
  const std::string timed = testing::TempDir() + "/cli-host-timed.tdpwrec";
  const std::string until_int = testing::TempDir() + "/cli-host-until-int.tdpwrec";
  Process rec = Process::spawn({TDPW_TDPWATCH_PATH, "record", timed, "--duration", "8"});
  Process rec_int = Process::spawn({TDPW_TDPWATCH_PATH, "record", until_int});
  ASSERT_TRUE(rec.wait_for_line(Process::Stream::kErr, "recording to", 30s)) << rec.err();
  ASSERT_TRUE(rec_int.wait_for_line(Process::Stream::kErr, "until Ctrl-C", 30s)) << rec_int.err();
  Process vmm = Process::spawn(
      {TDPW_TEST_VMM_PATH, "--mem-mib", "16", "--touch-pages", "256", "--hold-ms", "1000"});
  const pid_t pid = vmm.pid();
  ASSERT_EQ(vmm.wait(20s), 0) << vmm.err();
  ASSERT_EQ(rec.wait(30s), 0) << rec.err();
  EXPECT_NE(rec.out().find("recorded "), std::string::npos) << rec.out();
  rec_int.signal(SIGINT);  // after the timed one ended: the VM's teardown is long applied
  ASSERT_EQ(rec_int.wait(30s), 0) << rec_int.err();
  EXPECT_NE(rec_int.out().find("recorded "), std::string::npos) << rec_int.out();

  expect_clean_life_in_recording(timed, pid);
  expect_clean_life_in_recording(until_int, pid);
  std::filesystem::remove(timed);
  std::filesystem::remove(until_int);
}

}  // namespace
}  // namespace tdpwatch::host_test
