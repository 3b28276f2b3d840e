// The exit codes of `tdpwatch`, which scripts may rely on (README.md, --help).
#pragma once

namespace tdpwatch::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // the operation failed (check: tdpwatch cannot run here)
  kExitUsage = 2,        // bad command line: unknown flag, missing or bad argument
  kExitUnreachable = 3,  // no daemon answered at --daemon
  kExitVmNotFound = 4,   // no VM (or more than one) matches the VM argument
  kExitBadFile = 5,      // replay: the file is missing, unreadable or damaged
  kExitAuditDiffers = 6,  // audit: the model and the kernel's tables differ (or no fresh audit)
};

// The --help footer listing the codes above.
inline constexpr const char* kExitCodesHelp =
    "Exit codes: 0 ok; 1 failure (check: tdpwatch cannot run here); 2 usage error; "
    "3 daemon unreachable; 4 VM not found or ambiguous; 5 bad or damaged recording file; "
    "6 audit: the model differs from the kernel's tables, or no fresh audit could be made.";

}  // namespace tdpwatch::cli
