#include "exporter/api_route.h"

#include <charconv>

namespace tdpwatch::exporter {

std::optional<std::uint64_t> parse_vm_path(std::string_view uri, std::string_view suffix) {
  if (!uri.starts_with(kPagesPathPrefix) || !uri.ends_with(suffix) ||
      uri.size() < kPagesPathPrefix.size() + suffix.size()) {
    return std::nullopt;
  }
  const std::string_view digits =
      uri.substr(kPagesPathPrefix.size(), uri.size() - kPagesPathPrefix.size() - suffix.size());
  std::uint64_t key = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), key);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return key;
}

std::optional<std::uint64_t> parse_pages_path(std::string_view uri) {
  return parse_vm_path(uri, kPagesPathSuffix);
}

std::optional<std::uint64_t> parse_audit_path(std::string_view uri) {
  return parse_vm_path(uri, kAuditPathSuffix);
}

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
