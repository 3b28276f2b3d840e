// What a kernel's BTF says about the fields and functions tdpwatch's era
// shims depend on (docs/kernel-eras.md §1): printed by the CO-RE
// check so that its output shows, per kernel, which side of each guard
// exists.
#ifndef TDPWATCH_TESTS_KERNELS_BTF_FIELDS_H
#define TDPWATCH_TESTS_KERNELS_BTF_FIELDS_H

#include <cstdio>

struct btf;

namespace tdpw::kernels {

// Writes one line per watched struct member / function / tracepoint to out:
// present with its type, byte offset and size, or absent.
void print_era_fields(const btf* kernel_btf, std::FILE* out);

}  // namespace tdpw::kernels

#endif  // TDPWATCH_TESTS_KERNELS_BTF_FIELDS_H
