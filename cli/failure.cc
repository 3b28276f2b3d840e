#include "cli/failure.h"

#include <cstdio>

namespace tdpwatch::cli {

int report(const Failure& f) {
  std::fprintf(stderr, "tdpwatch: %s\n", f.message.c_str());
  if (!f.hint.empty()) std::fprintf(stderr, "hint: %s\n", f.hint.c_str());
  return f.code;
}

}  // namespace tdpwatch::cli
