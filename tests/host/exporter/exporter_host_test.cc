// The exporter for real: tdpwatchd on a free loopback port, Debian's
// Prometheus server scraping it every second (temporary config and storage),
// and tdpw_test_vmm holding two VMs for a few seconds.  Through Prometheus's
// HTTP API: the VMs' shadow-page series appear with the model's value (the
// one the daemon's JSON API gives), vanish once the VMs are gone, and the
// leak counter stays 0.
//
// Needs root, /dev/kvm and `prometheus` on PATH; anywhere else it FAILS with
// the reason (never skips).
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>

#include "tests/host/support/daemon.h"
#include "tests/host/support/eventually.h"
#include "tests/host/support/requirements.h"
#include "tests/host/support/subprocess.h"
#include "tests/unit/exporter/http_get.h"

namespace tdpwatch::host_test {
namespace {

using namespace std::chrono_literals;
using test::http_get;

const std::string kDaemon = TDPW_TDPWATCHD_PATH;
const std::string kVmm = TDPW_TEST_VMM_PATH;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

std::optional<std::string> which(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (std::size_t start = 0;;) {
    const auto end = dirs.find(':', start);
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (end == std::string::npos) return std::nullopt;
    start = end + 1;
  }
}

std::string url_encode(const std::string& s) {
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// The values of a Prometheus instant query's vector result, in order.
std::vector<std::string> query(int port, const std::string& promql) {
  const auto r = http_get(port, "/api/v1/query?query=" + url_encode(promql));
  std::vector<std::string> values;
  if (r.status != 200) return values;
  const std::regex value(R"re("value":\[[0-9.e+]+,"([^"]*)"\])re");
  for (std::sregex_iterator it(r.body.begin(), r.body.end(), value), end; it != end; ++it) {
    values.push_back((*it)[1]);
  }
  return values;
}

// Sum of the model's shadow_pages over the VMs of `pid` in the daemon's JSON
// API, and how many there are.
std::pair<long, int> api_shadow_pages(int daemon_port, int pid) {
  const auto r = http_get(daemon_port, "/api/v1/vms");
  const std::regex vm(
      R"re(\{"vm": "[^"]*", "pid": (\d+),[^\n]*\n   "model": \{[^\n]*?"shadow_pages": (-?\d+))re");
  long sum = 0;
  int n = 0;
  for (std::sregex_iterator it(r.body.begin(), r.body.end(), vm), end; it != end; ++it) {
    if (std::stoi((*it)[1]) != pid) continue;
    sum += std::stol((*it)[2]);
    ++n;
  }
  return {sum, n};
}

TEST(ExporterHost, PrometheusScrapesPerVmSeriesThatVanishWithTheVm) {
  TDPW_REQUIRE_ROOT();
  TDPW_REQUIRE_DEV_KVM();
  const auto prometheus = which("prometheus");
  ASSERT_TRUE(prometheus) << "prometheus not found on PATH: install Debian's 'prometheus' "
                             "package (sudo ./scripts/install-deps.sh)";

  // The daemon, on any free port.
  auto started = start_daemon({kDaemon, "--interval", "0.5"});
  ASSERT_TRUE(started);
  Process& daemon = started->process;
  const int daemon_port = started->port;

  // Prometheus, scraping it every second.
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tdpw-prom-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "data");
  std::ofstream(dir / "prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      << "scrape_configs:\n  - job_name: tdpwatch\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:" << daemon_port << "']\n";
  const int prom_port = free_port();
  Process prom = Process::spawn({*prometheus, "--config.file=" + (dir / "prometheus.yml").string(),
                                 "--storage.tsdb.path=" + (dir / "data").string(),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(prom_port),
                                 "--log.level=warn"});
  ASSERT_TRUE(eventually(30s, [&] { return http_get(prom_port, "/-/ready").status == 200; }))
      << prom.err();
  ASSERT_TRUE(eventually(20s, [&] {
    return query(prom_port, "up{job=\"tdpwatch\"}") == std::vector<std::string>{"1"};
  })) << "Prometheus does not scrape tdpwatchd";
  EXPECT_EQ(query(prom_port, "tdpwatch_up"), std::vector<std::string>{"1"});

  // Two VMs for 6 s.
  Process vmm = Process::spawn(
      {kVmm, "--mem-mib", "64", "--touch-pages", "256", "--hold-ms", "6000", "--vms", "2"});
  ASSERT_TRUE(vmm.wait_for_line(Process::Stream::kOut, "vmm holding", 20s)) << vmm.err();
  const std::string pid = std::to_string(vmm.pid());
  const std::string series = "tdpwatch_vm_shadow_pages{pid=\"" + pid + "\"}";

  // The VMs' series in Prometheus, as many as the daemon's JSON API lists for
  // the process (plans keyed by tgid see one VM per process), summing to the
  // model's value there.
  long api_sum = -1;
  int api_vms = 0;
  std::vector<std::string> prom_sum;
  EXPECT_TRUE(eventually(5s,
                         [&] {
                           std::tie(api_sum, api_vms) = api_shadow_pages(daemon_port, vmm.pid());
                           prom_sum = query(prom_port, "sum(" + series + ")");
                           return api_vms > 0 && api_sum > 0 &&
                                  query(prom_port, "count(" + series + ")") ==
                                      std::vector<std::string>{std::to_string(api_vms)} &&
                                  prom_sum == std::vector<std::string>{std::to_string(api_sum)};
                         }))
      << "JSON API: " << api_vms << " VMs, " << api_sum
      << " shadow pages; Prometheus: " << (prom_sum.empty() ? "no series" : prom_sum.front())
      << "\n"
      << http_get(daemon_port, "/api/v1/vms").body;

  // Gone once the VMM exits: from the daemon's /metrics and from Prometheus
  // (a series missing from a scrape is marked stale at once).
  EXPECT_EQ(vmm.wait(30s), 0) << vmm.err();
  EXPECT_TRUE(eventually(10s, [&] {
    return http_get(daemon_port, "/metrics").body.find("pid=\"" + pid + "\"") ==
               std::string::npos &&
           query(prom_port, series).empty();
  })) << http_get(daemon_port, "/metrics").body;
  EXPECT_TRUE(eventually(5s, [&] {
    const auto t = query(prom_port, "tdpwatch_teardowns_total");
    return !t.empty() && std::stol(t.front()) >= api_vms;
  }));
  EXPECT_EQ(query(prom_port, "tdpwatch_leak_warnings_total"), std::vector<std::string>{"0"});
  EXPECT_EQ(query(prom_port, "sum(tdpwatch_leaked_pages_total)"), std::vector<std::string>{"0"});

  prom.signal(SIGTERM);
  EXPECT_TRUE(prom.wait(20s)) << prom.err();
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(20s), 0) << daemon.err();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tdpwatch::host_test
