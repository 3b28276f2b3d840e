#include "daemon/truth/meminfo.h"

#include <charconv>

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

std::optional<std::uint64_t> parse_vmstat_iommu_pages(std::string_view text) {
  constexpr std::string_view kKey = "nr_iommu_pages ";
  for (std::size_t at = 0; at < text.size();) {
    const auto nl = text.find('\n', at);
    const std::string_view line = text.substr(at, nl == std::string_view::npos ? nl : nl - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.starts_with(kKey)) continue;
    std::uint64_t v = 0;
    const std::string_view digits = line.substr(kKey.size());
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc()) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

Result<MemInfo> read_meminfo(const Paths& paths) {
  const std::string path = paths.procfs + "/meminfo";
  auto text = read_file(path);
  if (!text) return text.error();
  auto m = parse_meminfo(*text, path);
  if (!m) return m;
  if (auto vmstat = read_file(paths.procfs + "/vmstat")) {
    if (const auto pages = parse_vmstat_iommu_pages(*vmstat)) m->iommu_page_tables_bytes = *pages * 4096;
  }
  return m;
}

}  // namespace tdpwatch::truth
