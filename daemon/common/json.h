// Tiny JSON writing helpers (the daemon writes its few JSON documents by hand).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace tdpwatch::json {

inline std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

inline const char* boolean(bool b) {
  return b ? "true" : "false";
}

}  // namespace tdpwatch::json
