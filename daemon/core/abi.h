// The shared event ABI (bpf/tdpw_events.h) seen from C++: one include point,
// so every userspace file gets the same __u64 definitions first.
#pragma once

#include <linux/types.h>

#include "tdpw_events.h"

namespace tdpwatch {

using Event = ::tdpw_event;

}  // namespace tdpwatch
