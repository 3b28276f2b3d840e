#include "exporter/api_route.h"

#include "exporter/audit_api.h"
#include "exporter/pages_api.h"

namespace tdpwatch::exporter {

QueryValue query_value(std::string_view query, std::string_view name) {
  QueryValue out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    out.found = true;
    out.value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
  }
  return out;
}

QueryBool parse_query_bool(std::string_view v) {
  if (v == "1" || v == "true") return {true, true};
  if (v == "0" || v == "false") return {true, false};
  return {};
}

Route route_request(std::string_view uri, std::string_view query,
                    std::string_view telemetry_path) {
  Route r;
  if (uri == telemetry_path) {
    r.kind = Route::Kind::kMetrics;
  } else if (uri == kVmsApiPath) {
    r.kind = Route::Kind::kVms;
  } else if (const auto key = parse_pages_path(uri)) {
    r.kind = Route::Kind::kPages;
    r.key = *key;
  } else if (const auto audit_key = parse_audit_path(uri)) {
    r.kind = Route::Kind::kAudit;
    r.key = *audit_key;
    const QueryBool fresh = parse_query_bool(query_value(query, "fresh").value);
    r.fresh = fresh.valid && fresh.value;
  } else if (uri == "/") {
    r.kind = Route::Kind::kLanding;
  }
  return r;
}

}  // namespace tdpwatch::exporter
