#include "daemon/core/leak.h"

#include <cstdio>

#include "daemon/core/role.h"

namespace tdpwatch::core {

std::string_view name(LeakedPage::What what) {
  switch (what) {
    case LeakedPage::What::kLinked:
      return "linked";
    case LeakedPage::What::kNxTracked:
      return "nx_tracked";
    case LeakedPage::What::kRoot:
      return "root";
    case LeakedPage::What::kShadow:
      return "shadow";
  }
  return "invalid";
}

std::string summarize(const LeakRecord& leak, std::size_t max_pages) {
  char head[256];
  std::snprintf(
      head, sizeof(head),
      "vm %#llx tgid %u: %lld linked, %lld NX-tracked, %lld roots, %lld shadow pages left "
      "at teardown",
      static_cast<unsigned long long>(leak.vm), leak.tgid,
      static_cast<long long>(leak.linked_pages), static_cast<long long>(leak.nx_tracked_pages),
      static_cast<long long>(leak.roots), static_cast<long long>(leak.shadow_pages));
  std::string out = head;
  const std::size_t shown = leak.pages.size() < max_pages ? leak.pages.size() : max_pages;
  for (std::size_t i = 0; i < shown; ++i) {
    const LeakedPage& p = leak.pages[i];
    char line[192];
    std::snprintf(line, sizeof(line), "; %s gfn %#llx %s pfn %#llx",
                  std::string(name(p.what)).c_str(), static_cast<unsigned long long>(p.gfn),
                  role::describe(p.role).c_str(), static_cast<unsigned long long>(p.pfn));
    out += line;
  }
  if (shown < leak.pages.size())
    out += "; ... " + std::to_string(leak.pages.size() - shown) + " more";
  return out;
}

}  // namespace tdpwatch::core
