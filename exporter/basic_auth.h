// basic_auth_users of --web.config.file: HTTP basic auth with bcrypt hashes,
// checked with libxcrypt's crypt_rn() (Debian's libcrypt, which implements
// $2a$/$2b$/$2y$), cached as exporter-toolkit does (web/handler.go and
// web/cache.go): a bcrypt costs tens of milliseconds by design, and
// Prometheus scrapes with the same credentials every few seconds.
//
//  - The cache maps SHA-256(user, hash, password) to the outcome, bad ones
//    included, at most kCacheEntries (one random entry evicted when full),
//    so a scrape costs a hash, not a bcrypt; no password is kept.
//  - An unknown user is checked against a dummy hash, so the answer takes
//    as long as for a known one (no user enumeration by timing).
//  - bcrypt runs one at a time (a mutex), so a flood of bad passwords
//    costs one core, not all of them.
//
// Thread safety: check() is called from civetweb's worker threads.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tdpwatch::exporter {

class BasicAuth {
 public:
  static constexpr std::size_t kCacheEntries = 100;  // exporter-toolkit's cache size

  explicit BasicAuth(std::map<std::string, std::string> users) : users_(std::move(users)) {}
  bool enabled() const { return !users_.empty(); }
  // The request's Authorization header (nullptr if none): true when it is
  // "Basic base64(user:password)" of a configured user.
  bool check(const char* authorization);
  // Counts for tests: bcrypt computations done, cache hits.
  std::uint64_t bcrypt_runs() const;
  std::uint64_t cache_hits() const;

 private:
  using Key = std::array<unsigned char, 32>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  bool check(std::string_view user, std::string_view password);

  const std::map<std::string, std::string> users_;
  mutable std::mutex cache_mu_;
  std::unordered_map<Key, bool, KeyHash> cache_;
  std::uint64_t cache_hits_ = 0;
  mutable std::mutex bcrypt_mu_;
  std::uint64_t bcrypt_runs_ = 0;
};

// bcrypt through libxcrypt: true when `password` hashes to `hash`.
bool bcrypt_matches(const std::string& hash, const std::string& password);

// Decodes base64 (RFC 4648, with padding); nullopt-like false on bad input.
bool base64_decode(std::string_view in, std::string& out);

}  // namespace tdpwatch::exporter
