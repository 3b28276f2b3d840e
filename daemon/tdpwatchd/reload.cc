#include "daemon/tdpwatchd/reload.h"

#include <algorithm>
#include <functional>
#include <sstream>

#include <spdlog/spdlog.h>

#include "daemon/tdpwatchd/command_line.h"

namespace tdpwatch::tdpwatchd {
namespace {

std::string text(const std::string& s) {
  return s.empty() ? "\"\"" : s;
}
std::string text(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}
std::string text(bool v) {
  return v ? "true" : "false";
}
std::string text(std::uint32_t v) {
  return std::to_string(v);
}
std::string text(int v) {
  return std::to_string(v);
}
std::string text(const std::vector<std::string>& v) {
  std::string out = "[";
  for (const std::string& s : v) out += (out.size() > 1 ? "," : "") + s;
  return out + "]";
}

struct Field {
  const char* name;
  bool live;
  std::function<std::string(const Options&)> show;
  std::function<void(Options& to, const Options& from)> copy;  // live fields only
};

#define TDPW_FIELD(name, member, live)                                    \
  Field {                                                                 \
    name, live, [](const Options& o) { return text(o.member); },          \
        [](Options& to, const Options& from) { to.member = from.member; } \
  }

const std::vector<Field>& fields() {
  static const std::vector<Field> all = {
      TDPW_FIELD("log.level", log_level, true),
      TDPW_FIELD("leak.retention", leak_retention_seconds, true),
      TDPW_FIELD("interval", interval_seconds, true),
      TDPW_FIELD("status-file", status_file, true),
      TDPW_FIELD("web.listen-address", web_listen_address, false),
      TDPW_FIELD("web.telemetry-path", web_telemetry_path, false),
      TDPW_FIELD("web.config.file", web_config_file, false),
      TDPW_FIELD("web.max-requests", web_max_requests, false),
      TDPW_FIELD("web.request-timeout", web_request_timeout_seconds, false),
      TDPW_FIELD("web.max-header-bytes", web_max_header_bytes, false),
      TDPW_FIELD("ringbuf-size", ringbuf_bytes, false),
      TDPW_FIELD("disable-variant", disable_variant, false),
      TDPW_FIELD("strict", strict, false),
      TDPW_FIELD("no-probes", no_probes, false),
      TDPW_FIELD("record", record, false),
      TDPW_FIELD("path.procfs", paths.procfs, false),
      TDPW_FIELD("path.sysfs", paths.sysfs, false),
      TDPW_FIELD("path.debugfs", paths.debugfs, false),
  };
  return all;
}

#undef TDPW_FIELD

}  // namespace

ReloadDiff diff_options(const Options& running, const Options& parsed, Options& merged) {
  ReloadDiff d;
  merged = running;
  for (const Field& f : fields()) {
    const std::string was = f.show(running), now = f.show(parsed);
    if (was == now) continue;
    const std::string line = std::string(f.name) + ": " + was + " -> " + now;
    if (f.live) {
      f.copy(merged, parsed);
      d.live.push_back(line);
    } else {
      d.restart.push_back(line);
    }
  }
  return d;
}

bool reload(Options& options) {
  const std::string file = options.config_file.empty() ? "no --config.file" : options.config_file;
  auto parsed = reparse_command_line(options.argv);
  if (!parsed) {
    spdlog::error("SIGHUP: not reloaded, keeping the running configuration: {}",
                  parsed.error().message);
    return false;
  }
  Options merged;
  const ReloadDiff d = diff_options(options, *parsed, merged);
  options = std::move(merged);
  // Say what changed at the more verbose of the old and new levels, so that
  // going quieter is still reported.
  const auto level = spdlog::level::from_str(options.log_level);
  spdlog::set_level(std::min(level, spdlog::get_level()));
  for (const std::string& c : d.live) spdlog::info("SIGHUP: applied {}", c);
  for (const std::string& c : d.restart) {
    spdlog::warn("SIGHUP: {} needs a restart; still running with the old value", c);
  }
  spdlog::info("SIGHUP: reloaded ({}): {} change(s) applied, {} need a restart", file,
               d.live.size(), d.restart.size());
  spdlog::set_level(level);
  return true;
}

}  // namespace tdpwatch::tdpwatchd
