// libFuzzer target for tdpwatchd's config-file parser
// (daemon/tdpwatchd/config_file.h, parse_config_text).  Beyond "no crash"
// (ASan/UBSan): an error is one line naming the file and a line number
// inside the text ("FILE:N: ..."); an accepted entry has a non-empty key
// without spaces or '=', a line inside the text, and no key twice.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "daemon/tdpwatchd/config_file.h"
#include "tests/fuzz/fuzz_check.h"

using tdpwatch::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t lines = 1;
  for (const char c : text) lines += c == '\n';
  const auto parsed = tdpwatch::tdpwatchd::parse_config_text(text, "F");
  if (!parsed) {
    const std::string& m = parsed.error().message;
    check(m.starts_with("F:"));
    check(m.find('\n') == std::string::npos);
    const long line = std::strtol(m.c_str() + 2, nullptr, 10);
    check(line >= 1 && static_cast<std::size_t>(line) <= lines);
    return 0;
  }
  std::set<std::string> keys;
  for (const auto& e : *parsed) {
    check(!e.key.empty());
    check(e.key.find_first_of(" \t=\n") == std::string::npos);
    check(e.line >= 1 && static_cast<std::size_t>(e.line) <= lines);
    check(keys.insert(e.key).second);
  }
  return 0;
}
