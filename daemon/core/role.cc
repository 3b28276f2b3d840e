#include "daemon/core/role.h"

namespace tdpwatch::role {

std::string describe(std::uint32_t word) {
  std::string s = "level=" + std::to_string(level(word)) + " as_id=" + std::to_string(as_id(word));
  if (direct(word)) s += " direct";
  if (guest_mode(word)) s += " guest_mode";
  if (invalid(word)) s += " invalid";
  return s;
}

}  // namespace tdpwatch::role
