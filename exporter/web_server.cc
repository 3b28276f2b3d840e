#include "exporter/web_server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <mutex>
#include <string_view>

#include <CivetServer.h>
#include <spdlog/spdlog.h>

#include "exporter/api_route.h"
#include "exporter/audit_api.h"
#include "exporter/basic_auth.h"
#include "exporter/families.h"
#include "exporter/metrics.h"
#include "exporter/pages_api.h"
#include "exporter/tls_context.h"
#include "exporter/vms_json.h"
#include "exporter/web_config.h"

namespace tdpwatch::exporter {
namespace {

constexpr const char* kApiPath = kVmsApiPath.data();  // a literal: NUL-terminated

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

// What a reload may change without a restart: the parsed file, its basic
// auth, its TLS context.
struct Security {
  WebSecurityConfig config;
  std::shared_ptr<BasicAuth> auth;
  SslCtx tls;
};

Result<std::shared_ptr<const Security>> load_security(const std::string& file) {
  auto sec = std::make_shared<Security>();
  if (!file.empty()) {
    auto config = load_web_config(file);
    if (!config) return config.error();
    sec->config = std::move(*config);
    if (sec->config.tls) {
      auto ctx = make_tls_context(*sec->config.tls);
      if (!ctx) return Error{"--web.config.file " + file + ": " + ctx.error().message};
      sec->tls = std::move(*ctx);
    }
  }
  sec->auth = std::make_shared<BasicAuth>(sec->config.basic_auth_users);
  return std::shared_ptr<const Security>(std::move(sec));
}

// (mtime, size, inode) of the config file and the files it names: a
// certificate renewed in place is a change too.
std::string fingerprint(const std::string& file, const Security* sec) {
  std::string out;
  auto add = [&out](const std::string& f) {
    struct stat st {};
    if (f.empty()) return;
    if (::stat(f.c_str(), &st) != 0) {
      out += f + ":missing;";
      return;
    }
    out += f + ":" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) +
           ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_ino) + ";";
  };
  add(file);
  if (sec != nullptr && sec->config.tls) {
    add(sec->config.tls->cert_file);
    add(sec->config.tls->key_file);
    add(sec->config.tls->client_ca_file);
  }
  return out;
}

}  // namespace

struct WebServer::Handler final : CivetHandler {
  std::string telemetry_path;
  std::shared_ptr<prometheus::Collectable> metrics;
  std::shared_ptr<const SnapshotStore> store;
  double pages_wait_seconds = 10.0;
  int max_requests = 0;
  std::string config_file;
  std::unique_ptr<TlsSwitch> tls;  // set when serving TLS

  std::atomic<int> in_flight{0};
  std::atomic<std::uint64_t> rejected_max_requests{0};
  std::atomic<std::uint64_t> rejected_unauthorized{0};

  mutable std::mutex mu;  // guards the fields below
  std::shared_ptr<const Security> security;
  std::string fingerprint;
  bool last_reload_ok = true;
  double last_reload_success_time = 0;
  std::uint64_t reload_failures = 0;

  std::shared_ptr<const Security> current() const {
    std::lock_guard lock(mu);
    return security;
  }

  // One reply with the configured headers (and `extra`, e.g.
  // WWW-Authenticate): every reply of ours goes through here.
  void send(mg_connection* conn, const Security& sec, int status, const char* mime,
            const std::string& body, const char* extra_name = nullptr,
            const char* extra_value = nullptr) {
    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", mime, -1);
    mg_response_header_add(conn, "Content-Length", std::to_string(body.size()).c_str(), -1);
    mg_response_header_add(conn, "Cache-Control", "no-cache, no-store, must-revalidate", -1);
    for (const auto& [name, value] : sec.config.headers) {
      mg_response_header_add(conn, name.c_str(), value.c_str(), -1);
    }
    if (extra_name != nullptr) mg_response_header_add(conn, extra_name, extra_value, -1);
    mg_response_header_send(conn);
    mg_write(conn, body.data(), body.size());
  }
  void send_text(mg_connection* conn, const Security& sec, int status, const std::string& text) {
    send(conn, sec, status, "text/plain; charset=utf-8", text);
  }

  void append_own_metrics(Families& out) const {
    counter(out, "tdpwatch_web_requests_rejected_total",
            "HTTP requests refused before being served: over --web.max-requests (503) or "
            "without valid basic auth credentials (401)")
        .add({{"reason", "max_requests"}}, num(rejected_max_requests.load()))
        .add({{"reason", "unauthorized"}}, num(rejected_unauthorized.load()));
    if (config_file.empty()) return;
    std::lock_guard lock(mu);
    gauge(out, "tdpwatch_web_config_last_reload_successful",
          "Whether the last reading of --web.config.file succeeded (0: a bad file was kept out; "
          "the previous one still applies)")
        .add(last_reload_ok ? 1 : 0);
    gauge(out, "tdpwatch_web_config_last_reload_success_timestamp_seconds",
          "When --web.config.file was last read successfully (Unix time)")
        .add(last_reload_success_time);
  }

  bool handleGet(CivetServer*, mg_connection* conn) override {
    const auto sec = current();
    // node_exporter's --web.max-requests: refuse at once rather than queue.
    struct InFlight {
      std::atomic<int>& n;
      ~InFlight() { n.fetch_sub(1); }
    } counted{in_flight};
    if (const int n = in_flight.fetch_add(1) + 1; max_requests > 0 && n > max_requests) {
      rejected_max_requests.fetch_add(1);
      send_text(conn, *sec, 503, "too many requests in flight (--web.max-requests)\n");
      return true;
    }
    if (sec->auth->enabled() && !sec->auth->check(mg_get_header(conn, "Authorization"))) {
      rejected_unauthorized.fetch_add(1);
      send(conn, *sec, 401, "text/plain; charset=utf-8", "Unauthorized\n", "WWW-Authenticate",
           "Basic realm=\"tdpwatchd\"");
      return true;
    }
    const mg_request_info* req = mg_get_request_info(conn);
    const Route route = route_request(req->local_uri != nullptr ? req->local_uri : "",
                                      req->query_string != nullptr ? req->query_string : "",
                                      telemetry_path);
    const auto api = [&](const ApiReply& r) {
      if (r.status == 200) {
        send(conn, *sec, 200, "application/json", r.body);
      } else {
        send_text(conn, *sec, r.status, r.body);
      }
    };
    switch (route.kind) {
      case Route::Kind::kMetrics: {
        Families families = metrics->Collect();
        append_own_metrics(families);
        send(conn, *sec, 200, "text/plain; version=0.0.4; charset=utf-8", serialize(families));
        break;
      }
      case Route::Kind::kVms:
        if (const auto snapshot = store->current(); !snapshot) {
          send_text(conn, *sec, 503, "no snapshot yet\n");
        } else {
          send(conn, *sec, 200, "application/json", render_vms_json(*snapshot));
        }
        break;
      case Route::Kind::kPages:
        api(serve_pages(*store, route.key, pages_wait_seconds));
        break;
      case Route::Kind::kAudit:
        api(serve_audit(*store, route.key, route.fresh, pages_wait_seconds));
        break;
      case Route::Kind::kLanding:
        send(conn, *sec, 200, "text/html; charset=utf-8", landing_page(telemetry_path));
        break;
      case Route::Kind::kNotFound:
        send_text(conn, *sec, 404, "not found\n");
        break;
    }
    return true;
  }
};

namespace {

// civetweb's external_ssl_ctx: hands it our context (and, called again when
// civetweb stops, tells it not to free it: 1 means "the application owns it").
int external_ssl_ctx(void** ssl_ctx, void* user_data) {
  const auto* server = static_cast<const CivetServer*>(user_data);
  const auto* handler = static_cast<const WebServer::Handler*>(server->getUserContext());
  if (handler == nullptr || !handler->tls) return -1;
  *ssl_ctx = handler->tls->base();
  return 1;
}

}  // namespace

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
  auto security = load_security(config.config_file);
  if (!security) return security.error();
  const bool tls = (*security)->tls != nullptr;
  if (tls) {
    if (auto lib = tls_library_available(); !lib) return lib.error();
    // With external_ssl_ctx civetweb loads only libcrypto itself; libssl's
    // functions (SSL_new...) are loaded by mg_init_library's TLS feature.
    // Once per process (the library counts its users); its return value
    // says 0 even when it loaded them (1.15), so it is not checked here:
    // tls_library_available() did.
    static const unsigned tls_loaded [[maybe_unused]] = mg_init_library(MG_FEATURES_TLS);
  }
  // civetweb: "127.0.0.1:9977", "[::1]:9977", or "9977" for every address;
  // an "s" suffix serves TLS.
  std::string ports = std::to_string(address->port);
  if (!address->host.empty()) {
    ports = (address->host.find(':') != std::string::npos ? "[" + address->host + "]"
                                                           : address->host) +
            ":" + ports;
  }
  if (tls) ports += "s";
  // Workers: civetweb 1.15 gives each connection a thread of its own until
  // it closes, even an idle or trickling one (cut after
  // --web.request-timeout), and queues the rest.  With a few dozen workers
  // 1,000 idle connections starve a scrape for minutes
  // (tests/host/web/hostile_clients_test.py); a worker is a thread that
  // sleeps in poll() (~10 KiB resident, its stack reserved, not touched),
  // so there are kWorkers, and --web.max-requests bounds the work done.
  constexpr int kWorkers = 1024;
  const int threads = std::max(kWorkers, config.max_requests + 8);
  const std::vector<std::string> options{
      "listening_ports", ports,
      "num_threads", std::to_string(threads),
      "request_timeout_ms",
      std::to_string(static_cast<long long>(std::llround(config.request_timeout_seconds * 1000))),
      "max_request_size", std::to_string(config.max_header_bytes),
      "listen_backlog", "1024",
      "connection_queue", "1024",
      "linger_timeout_ms", "1000",
      "enable_keep_alive", "yes",
      "keep_alive_timeout_ms", "30000"};
  CivetCallbacks callbacks{};
  callbacks.log_message = quiet_log;
  if (tls) callbacks.external_ssl_ctx = external_ssl_ctx;

  std::unique_ptr<WebServer> web(new WebServer());
  web->handler_ = std::make_unique<Handler>();
  Handler& h = *web->handler_;
  h.telemetry_path = config.telemetry_path;
  h.metrics = std::move(metrics);
  h.store = std::move(store);
  h.pages_wait_seconds = config.pages_wait_seconds;
  h.max_requests = config.max_requests;
  h.config_file = config.config_file;
  h.fingerprint = fingerprint(config.config_file, security->get());
  h.last_reload_success_time =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (tls) h.tls = std::make_unique<TlsSwitch>((*security)->tls);
  h.security = std::move(*security);
  try {
    web->server_ = std::make_unique<CivetServer>(options, &callbacks, web->handler_.get());
  } catch (const CivetException&) {
    const int err = bind_errno(*address);
    return err != 0 ? errno_error("cannot listen on " + config.listen_address, err)
                    : Error{"cannot listen on " + config.listen_address +
                            (tls ? " with TLS (civetweb could not set TLS up; run with "
                                   "--log.level debug for its reason)"
                                 : "")};
  }
  web->server_->addHandler("/", web->handler_.get());
  if (!config.config_file.empty()) {
    spdlog::info("--web.config.file {}: {}, basic auth {} ({} users), {} extra headers",
                 config.config_file, tls ? "TLS" : "plain HTTP",
                 h.security->auth->enabled() ? "on" : "off",
                 h.security->config.basic_auth_users.size(), h.security->config.headers.size());
    web->watcher_ = std::jthread([w = web.get()](std::stop_token stop) {
      while (!stop.stop_requested()) {
        // Checked every second: a certificate renewed by a timer is picked
        // up at the next connection after that.
        for (int i = 0; i < 10 && !stop.stop_requested(); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        if (!stop.stop_requested()) w->watch_config();
      }
    });
  }
  return web;
}

void WebServer::watch_config() {
  Handler& h = *handler_;
  const auto sec = h.current();
  const std::string now = fingerprint(h.config_file, sec.get());
  {
    std::lock_guard lock(h.mu);
    if (now == h.fingerprint) return;
  }
  reload("changed on disk");
}

bool WebServer::reload(const std::string& why) {
  Handler& h = *handler_;
  if (h.config_file.empty()) return false;
  // The files as they are before reading them: a file replaced while being
  // read (a key renewed before its certificate) is seen as a change again
  // at the next check, so the reading is retried.
  const std::string before = fingerprint(h.config_file, h.current().get());
  auto fresh = load_security(h.config_file);
  std::lock_guard lock(h.mu);
  h.fingerprint = before;
  if (!fresh) {
    h.last_reload_ok = false;
    ++h.reload_failures;
    spdlog::error("{}: web config not reloaded, keeping the running one: {}", why,
                  fresh.error().message);
    return false;
  }
  if (((*fresh)->tls != nullptr) != (h.tls != nullptr)) {
    h.last_reload_ok = false;
    spdlog::warn("{}: --web.config.file {} turns TLS {}: that needs a restart; still serving "
                 "with the old web config",
                 why, h.config_file, (*fresh)->tls ? "on" : "off");
    return false;
  }
  if (h.tls) h.tls->set((*fresh)->tls);
  h.security = std::move(*fresh);
  h.last_reload_ok = true;
  h.last_reload_success_time =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  spdlog::info("{}: web config {} reloaded: basic auth {} ({} users), {} extra headers{}", why,
               h.config_file, h.security->auth->enabled() ? "on" : "off",
               h.security->config.basic_auth_users.size(), h.security->config.headers.size(),
               h.tls ? ", TLS certificates re-read" : "");
  return true;
}

WebServer::~WebServer() {
  watcher_ = std::jthread();
  server_.reset();
}

std::vector<int> WebServer::ports() const {
  return server_->getListeningPorts();
}

bool WebServer::tls() const {
  return handler_->tls != nullptr;
}

}  // namespace tdpwatch::exporter
