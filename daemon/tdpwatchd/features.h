// `tdpwatchd features` / --print-plan: which hook variants attach here, and
// the attach plan, as a table or JSON.
#pragma once

#include "daemon/tdpwatchd/options.h"

namespace tdpwatch::tdpwatchd {

// Returns the exit status: 0, or 1 with one error line when probing fails or
// no hook at all can attach.  Says (one warning) when no VM can exist here.
int run_features(const Options& options);

}  // namespace tdpwatch::tdpwatchd
