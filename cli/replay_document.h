// A recording replayed through the accounting core offline, as a document
// (schema in cli/README.md): the recording's header, the model options it was
// replayed under, the VMs still alive at its end with their state, every
// teardown (clean or leaky, with each leaked page), and the inconsistencies
// the model had no VM to charge to.  The table form is render_replay().
#pragma once

#include <optional>
#include <string>

#include "cli/failure.h"
#include "cli/options.h"
#include "cli/vm_document.h"

namespace tdpwatch::cli {

inline constexpr const char* kReplaySchema = "tdpwatch.replay/v1";

struct ReplayOptions {
  std::string file;
  Output output = Output::kTable;
  // Overrides the recording's root_release_events (recordings made before
  // the flag existed never see roots released: "no" replays them right).
  std::optional<bool> root_release_events;
};

// A missing, unreadable or non-recording file fails (kExitBadFile) with the
// reader's message.  A file damaged part-way gives the document of every
// record before the damage, with "complete": false and "error" set.
Outcome<ojson> replay_document(const ReplayOptions& options);

std::string render_replay(const ojson& replay);

}  // namespace tdpwatch::cli
