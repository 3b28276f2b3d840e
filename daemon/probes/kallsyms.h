// Kernel symbol addresses from /proc/kallsyms that the BPF programs read
// through (they cannot be found any other way under lockdown).
#pragma once

#include <cstdint>
#include <string>

namespace tdpwatch::probes {

// The address of the variable page_offset_base (the direct map's base under
// CONFIG_RANDOMIZE_MEMORY), listed only with CONFIG_KALLSYMS_ALL; 0 if not.
std::uint64_t page_offset_base_address(const std::string& kallsyms);

}  // namespace tdpwatch::probes
