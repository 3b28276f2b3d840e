// libFuzzer target for the HTTP API's request routing (exporter/api_route.h):
// the bytes are "<path>?<query>" (split at the first '?', as civetweb
// splits local_uri from query_string).  Beyond "no crash" (ASan/UBSan):
//  - a path routed to pages/audit is exactly the endpoint path built from
//    the routed key's decimal digits (leading zeros aside): nothing else,
//    in particular no "..", is ever served;
//  - a route with a key is one of the two keyed endpoints, and only audit
//    can be fresh;
//  - fresh is true only when the query's last "fresh" is 1 or true.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "exporter/api_route.h"
#include "tests/fuzz/fuzz_check.h"

using tdpwatch::exporter::Route;

namespace {

using tdpwatch::fuzz::check;

std::string strip_zeros(std::string_view digits) {
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  return std::string(digits);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto q = in.find('?');
  const std::string_view uri = in.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : in.substr(q + 1);
  const Route r = tdpwatch::exporter::route_request(uri, query, "/metrics");
  using K = Route::Kind;
  switch (r.kind) {
    case K::kMetrics: check(uri == "/metrics"); break;
    case K::kVms: check(uri == "/api/v1/vms"); break;
    case K::kLanding: check(uri == "/"); break;
    case K::kPages:
    case K::kAudit: {
      const std::string_view suffix = r.kind == K::kPages ? "/pages" : "/audit";
      const std::string_view prefix = "/api/v1/vms/";
      check(uri.starts_with(prefix) && uri.ends_with(suffix));
      const std::string_view digits =
          uri.substr(prefix.size(), uri.size() - prefix.size() - suffix.size());
      check(!digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos);
      check(strip_zeros(digits) == std::to_string(r.key));
      break;
    }
    case K::kNotFound: check(r.key == 0); break;
  }
  check(!r.fresh || r.kind == K::kAudit);
  if (r.kind == K::kAudit) {
    const auto v = tdpwatch::exporter::query_value(query, "fresh");
    check(r.fresh == (v.found && (v.value == "1" || v.value == "true")));
  }
  return 0;
}
