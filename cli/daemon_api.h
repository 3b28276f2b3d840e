// The daemon's local JSON API as the CLI uses it: GET /api/v1/vms (the
// document exporter/vms_json.h describes) and GET /api/v1/vms/<key>/pages
// (exporter/pages_api.h), parsed with nlohmann::json.  Failures come back as
// exit-coded Failures: unreachable (3) with a hint to start the daemon or
// pass --daemon, an unknown VM key (4), anything else (1).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/failure.h"
#include "cli/http_client.h"

namespace tdpwatch::cli {

// tdpwatchd's documented default (exporter/README.md).
inline constexpr const char* kDefaultDaemonUrl = "http://127.0.0.1:9977";

struct DaemonVm;

class DaemonClient {
 public:
  // A bad URL is a usage error (2).
  static Outcome<DaemonClient> create(const std::string& url);

  Outcome<nlohmann::json> vms() const;
  Outcome<nlohmann::json> pages(std::uint64_t key) const;
  // GET /api/v1/vms/<key>/audit[?fresh=1] (exporter/audit_api.h).
  Outcome<nlohmann::json> audit(std::uint64_t key, bool fresh) const;
  // /api/v1/vms and, in it, the one VM `query` names (cli/vm_match.h).
  Outcome<DaemonVm> find_vm(const std::string& query) const;

  const std::string& url() const { return url_.text; }

 private:
  explicit DaemonClient(Url url) : url_(std::move(url)) {}
  Outcome<nlohmann::json> get_json(const std::string& path,
                                   std::chrono::milliseconds timeout) const;
  Url url_;
};

// One VM as the daemon lists it: the whole /api/v1/vms document, the VM's
// index in its "vms" array, and its key.
struct DaemonVm {
  nlohmann::json doc;
  std::size_t index = 0;
  std::uint64_t key = 0;
};

}  // namespace tdpwatch::cli
