// Which endpoint a request is for: the one place that reads the request's
// path and query string (exporter/web_server.cc dispatches on it).  Pure,
// no I/O, so that tests and tests/fuzz/api_route_fuzz.cc can call it.
//
// `local_uri` is civetweb's, already %-decoded and without the query; no
// normalisation of "..", "//" or a trailing "/" is done on purpose: a path is
// served only when it is exactly one of the endpoints, so a traversal
// attempt is simply not found.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tdpwatch::exporter {

inline constexpr std::string_view kVmsApiPath = "/api/v1/vms";
inline constexpr std::string_view kPagesPathPrefix = "/api/v1/vms/";
inline constexpr std::string_view kPagesPathSuffix = "/pages";
inline constexpr std::string_view kAuditPathSuffix = "/audit";

// The VM key of a "/api/v1/vms/<key><suffix>" path: <key> decimal digits
// only (no sign, no 0x, no spaces) that fit a u64; nullopt for any other path.
std::optional<std::uint64_t> parse_vm_path(std::string_view uri, std::string_view suffix);
// ".../vms/<key>/pages" (pages_api.h) and ".../vms/<key>/audit" (audit_api.h).
std::optional<std::uint64_t> parse_pages_path(std::string_view uri);
std::optional<std::uint64_t> parse_audit_path(std::string_view uri);

struct Route {
  enum class Kind { kMetrics, kVms, kPages, kAudit, kLanding, kNotFound };
  Kind kind = Kind::kNotFound;
  std::uint64_t key = 0;  // kPages, kAudit: the VM key of the path
  bool fresh = false;     // kAudit: ?fresh=1 (or true)
};

Route route_request(std::string_view local_uri, std::string_view query_string,
                    std::string_view telemetry_path);

// The value of `name` in an application/x-www-form-urlencoded query string
// ("a=1&fresh=1"): the last occurrence wins; `found` false when absent.  No
// %-decoding: the API's parameters are plain words.
struct QueryValue {
  bool found = false;
  std::string_view value;
};
QueryValue query_value(std::string_view query_string, std::string_view name);

// "1"/"true" -> true, "0"/"false" -> false, anything else is not `valid`.
struct QueryBool {
  bool valid = false;
  bool value = false;
};
QueryBool parse_query_bool(std::string_view value);

}  // namespace tdpwatch::exporter
