// libFuzzer target for --web.config.file's parser (exporter/web_config.h,
// parse_web_config): yaml-cpp throws on bad YAML, and the parser must turn
// every throw into an error value.  Beyond "no crash" (ASan/UBSan): an error
// is one line; an accepted config has a cert and a key together, every path
// made absolute against the base directory, versions in TLS 1.0..1.3 with
// max >= min, only the five security headers, and bcrypt-shaped hashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "exporter/web_config.h"
#include "tests/fuzz/fuzz_check.h"

using tdpwatch::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto c = tdpwatch::exporter::parse_web_config(text, "/base");
  if (!c) {
    check(c.error().message.find('\n') == std::string::npos);
    return 0;
  }
  if (c->tls) {
    const auto& t = *c->tls;
    check(!t.cert_file.empty() && !t.key_file.empty());
    for (const std::string* f : {&t.cert_file, &t.key_file, &t.client_ca_file}) {
      check(f->empty() || f->front() == '/');
    }
    check(t.min_version >= 0x0301 && t.min_version <= 0x0304);
    check(t.max_version == 0 || (t.max_version >= t.min_version && t.max_version <= 0x0304));
  }
  for (const auto& [name, value] : c->headers) {
    check(name == "Strict-Transport-Security" || name == "X-Content-Type-Options" ||
          name == "X-Frame-Options" || name == "X-XSS-Protection" ||
          name == "Content-Security-Policy");
    check(value.find_first_of("\r\n") == std::string::npos);
  }
  for (const auto& [user, hash] : c->basic_auth_users) {
    check(hash.size() == 60 && hash[0] == '$' && user.find(':') == std::string::npos);
  }
  return 0;
}
