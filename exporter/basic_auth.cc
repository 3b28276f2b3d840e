#include "exporter/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>
#include <random>

namespace tdpwatch::exporter {
namespace {

// exporter-toolkit web/handler.go: the hash unknown users are checked against.
constexpr const char* kDummyHash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

}  // namespace

bool base64_decode(std::string_view in, std::string& out) {
  if (in.size() % 4 != 0) return false;
  out.assign(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts the padding's bytes as zeros: drop them.
  std::size_t len = static_cast<std::size_t>(n);
  for (std::size_t i = in.size(); i > 0 && in[i - 1] == '=' && len > 0; --i) --len;
  out.resize(len);
  return true;
}

bool bcrypt_matches(const std::string& hash, const std::string& password) {
  crypt_data data{};
  const char* out = ::crypt_rn(password.c_str(), hash.c_str(), &data, sizeof data);
  if (out == nullptr || out[0] == '*') return false;  // "*0"/"*1": an invalid setting
  const std::size_t n = std::strlen(out);
  return n == hash.size() && CRYPTO_memcmp(out, hash.data(), n) == 0;
}

std::size_t BasicAuth::KeyHash::operator()(const Key& k) const {
  std::size_t h;
  std::memcpy(&h, k.data(), sizeof h);
  return h;
}

bool BasicAuth::check(const char* authorization) {
  if (authorization == nullptr) return false;
  std::string_view a(authorization);
  constexpr std::string_view kBasic = "Basic ";
  if (a.size() <= kBasic.size() || strncasecmp(a.data(), "basic ", kBasic.size()) != 0) return false;
  a.remove_prefix(kBasic.size());
  while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
  std::string decoded;
  if (a.size() > 1024 || !base64_decode(a, decoded)) return false;
  const auto colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  return check(std::string_view(decoded).substr(0, colon),
               std::string_view(decoded).substr(colon + 1));
}

bool BasicAuth::check(std::string_view user, std::string_view password) {
  const auto it = users_.find(std::string(user));
  const bool known = it != users_.end();
  const std::string& hash = known ? it->second : std::string(kDummyHash);
  // SHA-256 over length-prefixed parts, so ("ab","c") and ("a","bc") differ.
  Key key;
  {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
    for (const std::string_view part : {user, std::string_view(hash), password}) {
      const std::uint64_t len = part.size();
      EVP_DigestUpdate(md, &len, sizeof len);
      EVP_DigestUpdate(md, part.data(), part.size());
    }
    unsigned int n = 0;
    EVP_DigestFinal_ex(md, key.data(), &n);
    EVP_MD_CTX_free(md);
  }
  {
    std::lock_guard lock(cache_mu_);
    if (const auto c = cache_.find(key); c != cache_.end()) {
      ++cache_hits_;
      return c->second;
    }
  }
  bool ok;
  {
    std::lock_guard lock(bcrypt_mu_);
    ++bcrypt_runs_;
    ok = bcrypt_matches(hash, std::string(password)) && known;
  }
  std::lock_guard lock(cache_mu_);
  if (cache_.size() >= kCacheEntries) {
    // Evict one entry at random, as exporter-toolkit's cache does.
    static thread_local std::minstd_rand rng{std::random_device{}()};
    auto victim = cache_.begin();
    std::advance(victim, static_cast<long>(rng() % cache_.size()));
    cache_.erase(victim);
  }
  cache_.emplace(key, ok);
  return ok;
}

std::uint64_t BasicAuth::bcrypt_runs() const {
  std::lock_guard lock(bcrypt_mu_);
  return bcrypt_runs_;
}

std::uint64_t BasicAuth::cache_hits() const {
  std::lock_guard lock(cache_mu_);
  return cache_hits_;
}

}  // namespace tdpwatch::exporter
