#include "daemon/truth/proc_status.h"

#include <string>
#include <string_view>

#include "daemon/truth/sysfile.h"

namespace tdpwatch::truth {
namespace {

// The value after "Name:" on its own line, or empty.
std::string_view field(std::string_view status, std::string_view name) {
  for (std::size_t at = 0; at < status.size();) {
    const std::size_t eol = std::min(status.find('\n', at), status.size());
    const std::string_view line = status.substr(at, eol - at);
    if (line.size() > name.size() && line.substr(0, name.size()) == name &&
        line[name.size()] == ':') {
      return trim(line.substr(name.size() + 1));
    }
    at = eol + 1;
  }
  return {};
}

}  // namespace

std::optional<ProcStatus> read_proc_status(const Paths& paths, int pid) {
  auto text = read_file(paths.procfs + "/" + std::to_string(pid) + "/status");
  if (!text) return std::nullopt;
  ProcStatus s;
  if (const auto tgid = parse_u64(field(*text, "Tgid"))) s.tgid = static_cast<int>(*tgid);
  if (const std::string_view state = field(*text, "State"); !state.empty()) s.state = state[0];
  return s;
}

}  // namespace tdpwatch::truth
