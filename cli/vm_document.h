// One VM as the CLI presents it, in the CLI's own stable JSON shape (schema
// in cli/README.md), built from one element of the daemon's /api/v1/vms
// "vms" list.  The snapshot and list subcommands (and watch) print these
// documents, or tables rendered from them, so both outputs always agree.
//
// Tolerant of the daemon's version: a missing figure is null, never an
// error; per-VM fields this CLI does not know (the reconciler's degraded /
// baseline / drift state, when the daemon has it) are passed through under
// "reconcile".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace tdpwatch::cli {

using ojson = nlohmann::ordered_json;

// {"vm": {...}, "model": {...}, "kernel": {...}, "drift": {...},
//  "probe_counters": {...}|null, "reconcile": {...}|null}
ojson vm_document(const nlohmann::json& daemon_vm);

// {"url", "version", "time", "sec_page_tables_bytes"} of the daemon's
// document (the last is host-wide /proc/meminfo SecPageTables, or null).
ojson daemon_document(const nlohmann::json& daemon_doc, const std::string& url);

// Leak records the daemon retained for this VM's process (same pid) or name.
ojson leaks_for(const nlohmann::json& daemon_doc, const ojson& vm);

// The pages endpoint's "pages" list in the CLI's shape.
ojson pages_document(const nlohmann::json& daemon_pages);

// Small accessors over (o)json: the number at `ptr`, or nullopt when absent
// or not a number.
std::optional<std::int64_t> number_at(const ojson& j, const char* ptr);
// "-" when absent/null, else the value as text.
std::string cell(const ojson& j, const char* ptr);

}  // namespace tdpwatch::cli

namespace tdpwatch::cli {

inline constexpr const char* kSnapshotSchema = "tdpwatch.snapshot/v1";
inline constexpr const char* kListSchema = "tdpwatch.list/v1";

// The whole `snapshot` document for vms[index] of the daemon's document:
// {"schema", "daemon", ...vm_document..., "leaks", and "pages" when given}.
ojson snapshot_document(const nlohmann::json& daemon_doc, std::size_t index, const std::string& url,
                        const nlohmann::json* daemon_pages);

// The `list` document: {"schema", "daemon", "vms": [vm_document...]}.
ojson list_document(const nlohmann::json& daemon_doc, const std::string& url);

}  // namespace tdpwatch::cli
