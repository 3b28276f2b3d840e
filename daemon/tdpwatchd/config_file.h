// tdpwatchd's config file (--config.file): every long option as a key, in a
// small TOML subset that is also plain INI:
//
//   # comment            ; comment
//   log.level = "debug"            dotted key: the option's name without "--"
//   [web]                          a section prefixes the keys below it:
//   listen-address = ":9977"         the same as web.listen-address
//   disable-variant = ["fentry", "fexit"]
//   once = true
//
// Values are "double-quoted" (with \" \\ \t \n escapes), 'single-quoted'
// (literal), bare words/numbers/booleans, or one-line [arrays].  Command-line
// flags win over the file.  CLI11 2.1 (Debian 12) would read "web.x" as key x
// of a subcommand "web" and report no line numbers, so tdpwatchd parses the
// file itself and hands CLI11 flat option names.
//
// A malformed line, an unknown key or a key given twice is one error naming
// file:line.  Thread safety: none (parsing happens in main and on SIGHUP,
// on the loop's thread, each with its own CLI::App).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "daemon/common/result.h"

namespace tdpwatch::tdpwatchd {

// Exit codes, documented in --help.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the host cannot be watched (logged as one line)
inline constexpr int kExitUsage = 2;    // bad command line or config file

// One `key = value` of the file.
struct ConfigEntry {
  std::string key;  // flat: "web.listen-address"
  std::vector<std::string> values;
  int line = 0;
};

// Parses the text of a config file.  `file` only names it in errors
// ("FILE:LINE: what").  Keys are not checked against any option list here.
Result<std::vector<ConfigEntry>> parse_config_text(std::string_view text, const std::string& file);

// The CLI11 side: reads the file named by the app's config option, rejects
// keys that are not configurable options of `app`, and remembers each key's
// line so that a value CLI11 later refuses can be traced to it.
class ConfigFile final : public CLI::Config {
 public:
  explicit ConfigFile(const CLI::App& app) : app_(app) {}
  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

  // "FILE:LINE" of `key` in the last file read, or "" if it was not there.
  std::string where(const std::string& key) const;

 private:
  const CLI::App& app_;
  mutable std::string file_;
  mutable std::map<std::string, int> lines_;
};

// Adds --config.file to `app` and installs ConfigFile as its reader.
// Returns the reader (owned by the app too), for error messages.
std::shared_ptr<ConfigFile> add_config_file_option(CLI::App& app, std::string& file);

// One line for a parse error (command line or config file), without the
// "tdpwatchd: error: " prefix.  A value the config file set, and the command
// line did not, is blamed on its FILE:LINE.
std::string describe_parse_error(const CLI::ParseError& e, const ConfigFile* config,
                                 const std::vector<std::string>& args);

}  // namespace tdpwatch::tdpwatchd
