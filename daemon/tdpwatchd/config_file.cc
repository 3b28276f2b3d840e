#include "daemon/tdpwatchd/config_file.h"

#include <algorithm>
#include <iterator>
#include <sstream>

namespace tdpwatch::tdpwatchd {
namespace {

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool is_comment(std::string_view rest) {
  rest = trim(rest);
  return rest.empty() || rest.front() == '#' || rest.front() == ';';
}

// One scalar at the start of `s` (consumed).  `in_array`: a bare word also
// ends at ',' or ']'.  Returns an error text, or "" on success.
std::string take_scalar(std::string_view& s, bool in_array, std::string& value) {
  s = trim(s);
  value.clear();
  if (s.empty()) return "no value";
  const char quote = s.front();
  if (quote == '"' || quote == '\'') {
    for (std::size_t i = 1; i < s.size(); ++i) {
      const char c = s[i];
      if (c == quote) {
        s.remove_prefix(i + 1);
        return "";
      }
      if (c == '\\' && quote == '"') {
        if (++i == s.size()) break;
        switch (s[i]) {
          case 'n':
            value += '\n';
            break;
          case 't':
            value += '\t';
            break;
          case '"':
            value += '"';
            break;
          case '\\':
            value += '\\';
            break;
          default:
            return std::string("unknown escape \\") + s[i] + " in a \"string\"";
        }
        continue;
      }
      value += c;
    }
    return std::string("unterminated ") + quote + "string" + quote;
  }
  std::size_t end = 0;
  while (end < s.size() && s[end] != '#' && !(in_array && (s[end] == ',' || s[end] == ']'))) ++end;
  value = std::string(trim(s.substr(0, end)));
  s.remove_prefix(end);
  if (value.empty()) return "no value";
  return "";
}

// The value after '=': a scalar or a one-line [array], then only a comment.
std::string parse_value(std::string_view s, std::vector<std::string>& values) {
  s = trim(s);
  std::string v;
  if (!s.empty() && s.front() == '[') {
    s.remove_prefix(1);
    for (;;) {
      s = trim(s);
      if (!s.empty() && s.front() == ']') break;  // [] or a trailing comma
      if (std::string err = take_scalar(s, true, v); !err.empty()) {
        return s.empty() ? "unterminated [array] (arrays are one line)" : err;
      }
      values.push_back(v);
      s = trim(s);
      if (s.empty()) return "unterminated [array] (arrays are one line)";
      if (s.front() == ',') {
        s.remove_prefix(1);
      } else if (s.front() != ']') {
        return "expected ',' or ']' in the array";
      }
    }
    s.remove_prefix(1);
  } else {
    if (std::string err = take_scalar(s, false, v); !err.empty()) return err;
    values.push_back(v);
  }
  if (!is_comment(s)) return "unexpected text after the value: '" + std::string(trim(s)) + "'";
  return "";
}

bool not_settable(const std::string& key) {
  return key == "help" || key == "version" || key == "config.file";
}

}  // namespace

Result<std::vector<ConfigEntry>> parse_config_text(std::string_view text, const std::string& file) {
  std::vector<ConfigEntry> out;
  std::map<std::string, int> seen;
  std::string section;
  int lineno = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view raw = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++lineno;
    const std::string at = file + ":" + std::to_string(lineno) + ": ";
    std::string_view line = trim(raw);
    if (is_comment(line)) continue;
    if (line.front() == '[') {
      const auto close = line.find(']');
      const std::string_view name =
          close == std::string_view::npos ? "" : trim(line.substr(1, close - 1));
      if (close == std::string_view::npos || name.empty() ||
          !std::all_of(name.begin(), name.end(), is_key_char) ||
          !is_comment(line.substr(close + 1))) {
        return Error{at + "malformed section header '" + std::string(line) +
                     "' (expected [name], e.g. [web])"};
      }
      section = std::string(name) + ".";
      continue;
    }
    const auto eq = line.find('=');
    const std::string_view key = trim(line.substr(0, eq));
    if (eq == std::string_view::npos || key.empty() ||
        !std::all_of(key.begin(), key.end(), is_key_char)) {
      return Error{at + "expected key = value, got '" + std::string(line) + "'"};
    }
    ConfigEntry e{section + std::string(key), {}, lineno};
    if (std::string err = parse_value(line.substr(eq + 1), e.values); !err.empty()) {
      return Error{at + e.key + ": " + err};
    }
    if (auto [it, fresh] = seen.emplace(e.key, lineno); !fresh) {
      return Error{at + e.key + " is set twice (first on line " + std::to_string(it->second) + ")"};
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string ConfigFile::to_config(const CLI::App* app, bool default_also,
                                  bool /*write_description*/, std::string /*prefix*/) const {
  std::ostringstream out;
  for (const CLI::Option* opt : app->get_options()) {
    const std::string& name = opt->get_single_name();
    if (!opt->get_configurable() || name.empty() || not_settable(name)) continue;
    if (opt->count() > 0) {
      out << name << " = \"" << opt->as<std::string>() << "\"\n";
    } else if (default_also && !opt->get_default_str().empty()) {
      out << name << " = \"" << opt->get_default_str() << "\"\n";
    }
  }
  return out.str();
}

std::vector<CLI::ConfigItem> ConfigFile::from_config(std::istream& input) const {
  const CLI::Option* opt = app_.get_config_ptr();
  file_ = opt != nullptr && opt->count() > 0 ? opt->as<std::string>() : "config file";
  lines_.clear();
  const std::string text(std::istreambuf_iterator<char>(input), {});
  auto entries = parse_config_text(text, file_);
  if (!entries) throw CLI::ConfigError(entries.error().message, CLI::ExitCodes::ConfigError);
  std::vector<CLI::ConfigItem> out;
  for (ConfigEntry& e : *entries) {
    const CLI::Option* o = app_.get_option_no_throw("--" + e.key);
    if (o == nullptr || !o->get_configurable() || not_settable(e.key)) {
      throw CLI::ConfigError(file_ + ":" + std::to_string(e.line) + ": unknown key '" + e.key +
                                 "': keys are tdpwatchd's long options without the leading -- "
                                 "(see tdpwatchd --help), e.g. web.listen-address",
                             CLI::ExitCodes::ConfigError);
    }
    lines_[e.key] = e.line;
    if (e.values.empty()) continue;  // `key = []`: none, the default (CLI11 wants >= 1 value)
    CLI::ConfigItem item;
    item.name = std::move(e.key);
    item.inputs = std::move(e.values);
    out.push_back(std::move(item));
  }
  return out;
}

std::string ConfigFile::where(const std::string& key) const {
  const auto it = lines_.find(key);
  return it == lines_.end() ? "" : file_ + ":" + std::to_string(it->second);
}

std::shared_ptr<ConfigFile> add_config_file_option(CLI::App& app, std::string& file) {
  auto reader = std::make_shared<ConfigFile>(app);
  app.config_formatter(reader);
  app.set_config("--config.file", "",
                 "Read options from FILE (key = value, keys are the long options without --, "
                 "[section] prefixes keys; see deploy/tdpwatchd.conf); flags win over the file; "
                 "SIGHUP re-reads it")
      ->type_name("FILE")
      ->each([&file](const std::string& f) { file = f; });
  return reader;
}

std::string describe_parse_error(const CLI::ParseError& e, const ConfigFile* config,
                                 const std::vector<std::string>& args) {
  std::string message = e.what();
  if (dynamic_cast<const CLI::FileError*>(&e) != nullptr) {
    return "--config.file: " + message +
           ": give a readable file (deploy/tdpwatchd.conf is an example)";
  }
  if (config == nullptr) return message;
  // Which option the message names: "--key" followed by a non-key character.
  for (std::size_t pos = message.find("--"); pos != std::string::npos;
       pos = message.find("--", pos + 2)) {
    std::size_t end = pos + 2;
    while (end < message.size() && is_key_char(message[end])) ++end;
    const std::string key = message.substr(pos + 2, end - pos - 2);
    const std::string where = config->where(key);
    if (where.empty()) continue;
    const bool on_command_line = std::any_of(args.begin(), args.end(), [&](const std::string& a) {
      return a == "--" + key || a.starts_with("--" + key + "=");
    });
    if (!on_command_line) return where + ": " + message;
  }
  return message;
}

}  // namespace tdpwatch::tdpwatchd
