#include "cli/daemon_api.h"

#include "cli/vm_match.h"

namespace tdpwatch::cli {

Outcome<DaemonClient> DaemonClient::create(const std::string& text) {
  auto url = parse_url(text);
  if (!url) return Failure{kExitUsage, url.error().message, ""};
  return DaemonClient(std::move(*url));
}

Outcome<nlohmann::json> DaemonClient::get_json(const std::string& path,
                                               std::chrono::milliseconds timeout) const {
  auto r = http_get(url_, path, timeout);
  if (!r) {
    return Failure{kExitUnreachable, "no tdpwatchd at " + url_.text + ": " + r.error().message,
                   "start it (scripts/run-daemon.sh, or `tdpwatchd` as root), or point "
                   "--daemon at its --web.listen-address"};
  }
  if (r->status == 404) {
    return Failure{kExitVmNotFound, "the daemon at " + url_.text + " has no " + path, ""};
  }
  if (r->status != 200) {
    std::string body = r->body;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    return Failure{
        kExitFailure,
        "the daemon at " + url_.text + " answered " + std::to_string(r->status) + " to GET " +
            path + (body.empty() ? "" : ": " + body),
        r->status == 503 ? "it has not published a snapshot yet; retry in a moment" : ""};
  }
  auto doc = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Failure{kExitFailure, "the daemon at " + url_.text + " sent invalid JSON for " + path,
                   "is --daemon the address of tdpwatchd?"};
  }
  return doc;
}

Outcome<nlohmann::json> DaemonClient::vms() const {
  auto doc = get_json("/api/v1/vms", std::chrono::seconds(10));
  if (doc && !(*doc)["vms"].is_array()) {
    return Failure{kExitFailure, "the daemon at " + url_.text + " sent no \"vms\" list", ""};
  }
  return doc;
}

Outcome<nlohmann::json> DaemonClient::pages(std::uint64_t key) const {
  // The daemon may wait for its next publish (up to its --interval + 5 s).
  return get_json("/api/v1/vms/" + std::to_string(key) + "/pages", std::chrono::seconds(90));
}

Outcome<DaemonVm> DaemonClient::find_vm(const std::string& query) const {
  auto doc = vms();
  if (!doc) return doc.failure();
  auto index = match_vm((*doc)["vms"], query);
  if (!index) return index.failure();
  DaemonVm vm;
  vm.key = (*doc)["vms"][*index].value("key", std::uint64_t{0});
  vm.index = *index;
  vm.doc = std::move(*doc);
  return vm;
}

Outcome<nlohmann::json> DaemonClient::audit(std::uint64_t key, bool fresh) const {
  // A fresh audit waits for the daemon's next quiescent tick (up to its --interval + 5 s).
  return get_json("/api/v1/vms/" + std::to_string(key) + "/audit" + (fresh ? "?fresh=1" : ""),
                  std::chrono::seconds(90));
}

}  // namespace tdpwatch::cli
