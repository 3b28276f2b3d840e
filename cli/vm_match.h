// Which VM the user means by `tdpwatch snapshot VM`: its `vm` name (QEMU's
// guest name, else <comm>-<pid>), its QEMU uuid, the VMM's pid, its debugfs
// directory (<pid>-<fd>), or its key (decimal or 0x hex, as /api/v1/vms
// gives it).  Tried in that order; the first kind with any match decides.
// A pid with several VMs is ambiguous: the user must pick one by name or key.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/failure.h"

namespace tdpwatch::cli {

// `vms` is the "vms" array of /api/v1/vms.  Returns the index of the one VM
// matched, or a Failure with kExitVmNotFound naming the VMs there are.
Outcome<std::size_t> match_vm(const nlohmann::json& vms, const std::string& query);

}  // namespace tdpwatch::cli
