// The readable form of a snapshot document (vm_document.h plus "leaks" and
// optionally "pages"): identity, then model beside kernel and drift, TDP
// pages by address space and level, counters, inconsistencies, the
// reconciler's state when present, leaks, and the page list.
#pragma once

#include <string>

#include "cli/vm_document.h"

namespace tdpwatch::cli {

std::string render_snapshot(const ojson& snapshot);

// The page list alone (mmu, gfn, level, role, as_id, sp/pfn, nx).
std::string render_pages(const ojson& pages);

}  // namespace tdpwatch::cli
