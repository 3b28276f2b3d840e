#include "daemon/truth/meminfo.h"

#include <optional>
#include <string>

#include "daemon/truth/sysfile.h"

namespace tdpwatch::truth {
namespace {

// The value of "Key:   1234 kB", in bytes; nullopt if the key is absent.
// Errors if the key is present but malformed: a half-understood meminfo
// must not read as zero.
Result<std::optional<std::uint64_t>> field_bytes(std::string_view text, std::string_view key,
                                                 std::string_view source) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':') {
      continue;
    }
    std::string_view rest = trim(line.substr(key.size() + 1));
    if (rest.size() < 3 || rest.substr(rest.size() - 3) != " kB") {
      return Error{std::string(source) + ": " + std::string(key) + " is not in kB: '" +
                   std::string(line) + "'"};
    }
    const auto kib = parse_u64(rest.substr(0, rest.size() - 3));
    if (!kib) {
      return Error{std::string(source) + ": cannot parse " + std::string(key) + ": '" +
                   std::string(line) + "'"};
    }
    return std::optional<std::uint64_t>(*kib * 1024);
  }
  return std::optional<std::uint64_t>();
}

}  // namespace

Result<MemInfo> parse_meminfo(std::string_view text, std::string_view source) {
  auto sec = field_bytes(text, "SecPageTables", source);
  if (!sec) return sec.error();
  if (!sec->has_value()) {
    return Error{std::string(source) +
                     ": no SecPageTables line: this kernel (older than 6.0) does not account "
                     "KVM's secondary page tables, so there is no host figure to check against",
                 kNoSecPageTables};
  }
  auto primary = field_bytes(text, "PageTables", source);
  if (!primary) return primary.error();
  if (!primary->has_value()) return Error{std::string(source) + ": no PageTables line"};
  return MemInfo{**sec, **primary};
}

Result<MemInfo> read_meminfo(const Paths& paths) {
  const std::string path = paths.procfs + "/meminfo";
  auto text = read_file(path);
  if (!text) return text.error();
  return parse_meminfo(*text, path);
}

}  // namespace tdpwatch::truth
