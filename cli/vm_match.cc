#include "cli/vm_match.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <optional>
#include <vector>

namespace tdpwatch::cli {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::optional<std::uint64_t> number(const std::string& s) {
  std::string_view v = s;
  int base = 10;
  if (v.starts_with("0x") || v.starts_with("0X")) {
    v.remove_prefix(2);
    base = 16;
  }
  std::uint64_t out = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out, base);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return out;
}

std::string str(const nlohmann::json& vm, const char* field) {
  const auto it = vm.find(field);
  return it != vm.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::uint64_t u64(const nlohmann::json& vm, const char* field) {
  const auto it = vm.find(field);
  return it != vm.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

std::string describe(const nlohmann::json& vm) {
  return str(vm, "vm") + " (pid " + std::to_string(u64(vm, "pid")) + ", key " +
         std::to_string(u64(vm, "key")) + ")";
}

}  // namespace

Outcome<std::size_t> match_vm(const nlohmann::json& vms, const std::string& query) {
  const auto as_number = number(query);
  const std::vector<std::function<bool(const nlohmann::json&)>> kinds = {
      [&](const nlohmann::json& vm) { return str(vm, "vm") == query; },
      [&](const nlohmann::json& vm) {
        return !str(vm, "uuid").empty() && lower(str(vm, "uuid")) == lower(query);
      },
      [&](const nlohmann::json& vm) {
        return as_number && query.find_first_not_of("0123456789") == std::string::npos &&
               u64(vm, "pid") == *as_number;
      },
      [&](const nlohmann::json& vm) {
        return !str(vm, "debugfs").empty() && str(vm, "debugfs") == query;
      },
      [&](const nlohmann::json& vm) { return as_number && u64(vm, "key") == *as_number; },
  };
  for (const auto& matches : kinds) {
    std::vector<std::size_t> found;
    for (std::size_t i = 0; i < vms.size(); ++i)
      if (matches(vms[i])) found.push_back(i);
    if (found.size() == 1) return found.front();
    if (found.size() > 1) {
      std::string names;
      for (std::size_t i : found) names += (names.empty() ? "" : ", ") + describe(vms[i]);
      return Failure{kExitVmNotFound,
                     "'" + query + "' matches " + std::to_string(found.size()) + " VMs: " + names,
                     "name one VM by its name or key"};
    }
  }
  std::string names;
  for (const auto& vm : vms) names += (names.empty() ? "" : ", ") + describe(vm);
  return Failure{kExitVmNotFound, "no VM matches '" + query + "'",
                 vms.empty() ? "the daemon tracks no VM right now"
                             : "VMs tracked: " + names + " (`tdpwatch list`)"};
}

}  // namespace tdpwatch::cli
