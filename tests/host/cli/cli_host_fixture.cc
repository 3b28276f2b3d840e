#include "tests/host/cli/cli_host_fixture.h"

#include <unistd.h>

#include <csignal>

#include "tests/host/support/daemon.h"
#include "tests/host/support/requirements.h"

namespace tdpwatch::host_test {

using namespace std::chrono_literals;

std::string CliHost::url;
int CliHost::port = 0;
pid_t CliHost::vm_pid = 0;
std::string CliHost::setup_error;
std::string CliHost::skip_reason;
std::unique_ptr<Process> CliHost::daemon_;
std::unique_ptr<Process> CliHost::vmm_;

RunResult tdpwatch(std::vector<std::string> args, const std::string& url,
                   std::chrono::milliseconds timeout) {
  args.insert(args.begin(), TDPW_TDPWATCH_PATH);
  if (!url.empty()) args.insert(args.end(), {"--daemon", url});
  return run(args, timeout);
}

void CliHost::SetUpTestSuite() {
  if (::geteuid() != 0) {
    setup_error = "needs root (the daemon loads BPF probes)";
    return;
  }
  skip_reason = dev_kvm_missing();
  if (!skip_reason.empty()) return;
  daemon_ = std::make_unique<Process>(Process::spawn(
      {TDPW_TDPWATCHD_PATH, "--web.listen-address", "127.0.0.1:0", "--interval", "1"}));
  port = served_port(*daemon_);
  if (port == 0) {
    setup_error = "tdpwatchd did not start serving: " + daemon_->err();
    return;
  }
  if (!daemon_->wait_for_line(Process::Stream::kErr, "watching;", 30s)) {
    setup_error = "tdpwatchd did not start watching: " + daemon_->err();
    return;
  }
  url = "http://127.0.0.1:" + std::to_string(port);
  vmm_ = std::make_unique<Process>(Process::spawn(
      {TDPW_TEST_VMM_PATH, "--mem-mib", "16", "--touch-pages", "256", "--hold-ms", "-1"}));
  if (!vmm_->wait_for_line(Process::Stream::kOut, "vmm holding", 20s)) {
    setup_error = "tdpw_test_vmm did not start: " + vmm_->err();
    return;
  }
  vm_pid = vmm_->pid();
  // The daemon has seen the VM once its shadow pages are in the API.
  if (!eventually(20s, [] {
        const auto vm = our_vm_in_list();
        return !vm.is_null() && vm["model"]["shadow_pages"].get<int>() > 0;
      })) {
    setup_error = "the daemon never showed the test VM's shadow pages";
  }
}

void CliHost::TearDownTestSuite() {
  if (vmm_) {
    vmm_->signal(SIGTERM);
    (void)vmm_->wait(10s);
  }
  if (daemon_) {
    daemon_->signal(SIGTERM);
    (void)daemon_->wait(10s);
  }
  vmm_.reset();
  daemon_.reset();
}

void CliHost::SetUp() {
  if (!skip_reason.empty()) GTEST_SKIP() << skip_reason;
  ASSERT_TRUE(setup_error.empty()) << setup_error;
}

nlohmann::json CliHost::our_vm_in_list() {
  const RunResult r = tdpwatch({"list", "--output", "json"}, url);
  if (r.status != 0) return nullptr;
  const auto doc = nlohmann::json::parse(r.out, nullptr, false);
  if (doc.is_discarded()) return nullptr;
  for (const auto& vm : doc["vms"]) {
    if (vm["vm"]["pid"] == vm_pid) return vm;
  }
  return nullptr;
}

}  // namespace tdpwatch::host_test
