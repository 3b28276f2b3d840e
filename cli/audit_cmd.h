// `tdpwatch audit VM [--last] [--output table|json]`: the VM's TDP tables in
// the daemon's model against a walk of the kernel's live page tables
// (daemon/reconcile/audit.h), page by page: what the kernel has that the
// model lacks, what the model has that the kernel does not, roots and the
// possible-NX list.  By default the daemon audits now (at its next tick with
// no event for the VM); --last shows its last periodic audit.  Exit status 0
// when clean, 6 when they differ or no fresh audit could be made.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "cli/options.h"

namespace CLI {
class App;
}

namespace tdpwatch::cli {

struct AuditOptions {
  std::string vm;
  Output output = Output::kTable;
  bool last = false;
};

void add_audit_command(CLI::App& app, AuditOptions& options);
int run_audit(const GlobalOptions& global, const AuditOptions& options);

// The table form of the daemon's audit document (exporter/audit_api.h).
std::string render_audit(const nlohmann::json& doc);

}  // namespace tdpwatch::cli
