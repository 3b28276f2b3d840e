#include "exporter/web_server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string_view>

#include <CivetServer.h>
#include <spdlog/spdlog.h>

#include "exporter/api_route.h"
#include "exporter/metrics.h"
#include "exporter/audit_api.h"
#include "exporter/pages_api.h"
#include "exporter/vms_json.h"

namespace tdpwatch::exporter {
namespace {

constexpr const char* kApiPath = kVmsApiPath.data();  // a literal: NUL-terminated

void reply(mg_connection* conn, const char* mime, const std::string& body) {
  mg_send_http_ok(conn, mime, static_cast<long long>(body.size()));
  mg_write(conn, body.data(), body.size());
}

void reply_api(mg_connection* conn, const ApiReply& r) {
  if (r.status == 200) {
    reply(conn, "application/json", r.body);
  } else {
    mg_send_http_error(conn, r.status, "%s", r.body.c_str());
  }
}

std::string landing_page(const std::string& telemetry_path) {
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tdpwatchd</title></head>\n"
         "<body><h1>tdpwatchd</h1>\n<p>Per-VM observability of KVM's TDP MMU page "
         "accounting.</p>\n<ul>\n<li><a href=\"" +
         telemetry_path + "\">" + telemetry_path +
         "</a>: metrics (Prometheus text format)</li>\n<li><a href=\"" + kApiPath + "\">" +
         kApiPath +
         "</a>: every VM's state (JSON)</li>\n<li>" + std::string(kApiPath) +
         "/&lt;key&gt;/pages: one VM's tracked pages (JSON)</li>\n<li>" + std::string(kApiPath) +
         "/&lt;key&gt;/audit[?fresh=1]: one VM's tables audited against the kernel's (JSON)"
         "</li>\n</ul>\n</body></html>\n";
}

// Why binding failed: civetweb only says that it did, so try the same bind
// here to get the errno.
int bind_errno(const ListenAddress& a) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(a.port);
  if (::getaddrinfo(a.host.empty() ? nullptr : a.host.c_str(), port.c_str(), &hints, &res) != 0) {
    return EADDRNOTAVAIL;
  }
  int err = 0;
  const int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
  } else {
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as civetweb does
    if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0) err = errno;
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return err;
}

int quiet_log(const mg_connection*, const char* message) {
  spdlog::debug("civetweb: {}", message);
  return 1;  // handled: civetweb prints nothing itself
}

}  // namespace

struct WebServer::Handler final : CivetHandler {
  std::string telemetry_path;
  std::shared_ptr<prometheus::Collectable> metrics;
  std::shared_ptr<const SnapshotStore> store;
  double pages_wait_seconds = 10.0;

  bool handleGet(CivetServer*, mg_connection* conn) override {
    const mg_request_info* req = mg_get_request_info(conn);
    const Route route = route_request(req->local_uri != nullptr ? req->local_uri : "",
                                      req->query_string != nullptr ? req->query_string : "",
                                      telemetry_path);
    switch (route.kind) {
      case Route::Kind::kMetrics:
        reply(conn, "text/plain; version=0.0.4; charset=utf-8", serialize(metrics->Collect()));
        break;
      case Route::Kind::kVms:
        if (const auto snapshot = store->current(); !snapshot) {
          mg_send_http_error(conn, 503, "%s", "no snapshot yet\n");
        } else {
          reply(conn, "application/json", render_vms_json(*snapshot));
        }
        break;
      case Route::Kind::kPages:
        reply_api(conn, serve_pages(*store, route.key, pages_wait_seconds));
        break;
      case Route::Kind::kAudit:
        reply_api(conn, serve_audit(*store, route.key, route.fresh, pages_wait_seconds));
        break;
      case Route::Kind::kLanding:
        reply(conn, "text/html; charset=utf-8", landing_page(telemetry_path));
        break;
      case Route::Kind::kNotFound:
        mg_send_http_error(conn, 404, "%s", "not found\n");
        break;
    }
    return true;
  }
};

Result<ListenAddress> parse_listen_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    return Error{"--web.listen-address " + text + ": expected host:port, [ipv6]:port or :port"};
  }
  ListenAddress a;
  a.host = text.substr(0, colon);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') {
    a.host = a.host.substr(1, a.host.size() - 2);
  }
  const std::string_view port = std::string_view(text).substr(colon + 1);
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), a.port);
  if (ec != std::errc() || end != port.data() + port.size() || a.port < 0 || a.port > 65535) {
    return Error{"--web.listen-address " + text + ": bad port"};
  }
  return a;
}

Result<std::unique_ptr<WebServer>> WebServer::start(
    const WebConfig& config, std::shared_ptr<prometheus::Collectable> metrics,
    std::shared_ptr<const SnapshotStore> store) {
  auto address = parse_listen_address(config.listen_address);
  if (!address) return address.error();
  if (config.telemetry_path.empty() || config.telemetry_path.front() != '/' ||
      config.telemetry_path == "/" || config.telemetry_path == kApiPath) {
    return Error{"--web.telemetry-path " + config.telemetry_path +
                 ": must start with / and differ from / and " + kApiPath};
  }
  // civetweb: "127.0.0.1:9977", "[::1]:9977", or "9977" for every address.
  std::string ports = std::to_string(address->port);
  if (!address->host.empty()) {
    ports = (address->host.find(':') != std::string::npos ? "[" + address->host + "]"
                                                           : address->host) +
            ":" + ports;
  }
  const std::vector<std::string> options{"listening_ports", ports, "num_threads",
                                         std::to_string(config.threads)};
  CivetCallbacks callbacks{};
  callbacks.log_message = quiet_log;

  std::unique_ptr<WebServer> web(new WebServer());
  web->handler_ = std::make_unique<Handler>();
  web->handler_->telemetry_path = config.telemetry_path;
  web->handler_->metrics = std::move(metrics);
  web->handler_->store = std::move(store);
  web->handler_->pages_wait_seconds = config.pages_wait_seconds;
  try {
    web->server_ = std::make_unique<CivetServer>(options, &callbacks);
  } catch (const CivetException&) {
    const int err = bind_errno(*address);
    return err != 0 ? errno_error("cannot listen on " + config.listen_address, err)
                    : Error{"cannot listen on " + config.listen_address};
  }
  web->server_->addHandler("/", web->handler_.get());
  return web;
}

WebServer::~WebServer() {
  server_.reset();
}

std::vector<int> WebServer::ports() const {
  return server_->getListeningPorts();
}

}  // namespace tdpwatch::exporter
