// A small blocking HTTP/1.0 GET client for the daemon's local API: no TLS, no
// redirects, no chunked encoding (the daemon answers HTTP/1.0 requests with a
// plain body).  Why not libcurl: the daemon is on loopback and speaks the
// simplest HTTP; this is ~100 lines and one error message per failure.
#pragma once

#include <chrono>
#include <string>

#include "daemon/common/result.h"

namespace tdpwatch::cli {

struct Url {
  std::string host;  // name, IPv4, or IPv6 without brackets
  std::string port;  // "80" when the URL has none
  std::string base;  // path prefix without trailing '/', usually ""
  std::string text;  // the URL as given, for messages
};

// "http://host[:port][/prefix]"; fails on anything else (https included).
Result<Url> parse_url(const std::string& text);

struct HttpResponse {
  int status = 0;
  std::string body;
};

// GET base + path.  An Error means nothing usable came back (DNS, connect,
// timeout, reset, no status line): the daemon is unreachable.
Result<HttpResponse> http_get(const Url& url, const std::string& path,
                              std::chrono::milliseconds timeout);

}  // namespace tdpwatch::cli
