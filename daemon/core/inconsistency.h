// Things an event stream can say that a correct kernel never does, or that a
// lossy stream makes look so.  The model counts them per VM and keeps going.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tdpwatch::core {

enum class Inconsistency : std::uint8_t {
  kUnlinkUnknownPage,      // unlink of a page the model never saw linked
  kDoubleLink,             // link of a page that is already linked
  kUntrackUntracked,       // NX untrack of a page not on the possible-NX list
  kDoubleTrack,            // NX track of a page already on the list
  kTrackUnknownPage,       // NX track of a page the model does not know
  kUnknownParent,          // SPTE change in a table the model does not know
  kLeafPfnChanged,         // present leaf replaced by another PFN (kernel BUG())
  kNonleafPfnChanged,      // present non-leaf changed PFN (kernel WARN)
  kBadLevel,               // level outside 1..5
  kUnknownRoot,            // put/invalidate/free of an unknown root
  kRootRefcountUnderflow,  // more puts than references
  kShadowZapUnknown,       // zap of an unknown shadow page
  kShadowDoubleGet,        // "created" shadow page that already exists
  kEventAfterDestroy,      // event for a VM after its teardown
  kDestroyUnknownVm,       // teardown of a VM never seen
  kUnknownEventType,
  kCount_,
};

inline constexpr std::size_t kInconsistencyKinds = static_cast<std::size_t>(Inconsistency::kCount_);

// Stable snake_case names, used in logs, JSON and metric labels.
std::string_view name(Inconsistency kind);

using InconsistencyCounts = std::array<std::uint64_t, kInconsistencyKinds>;

// One remembered inconsistency (the first few of each VM are kept).
struct InconsistencyDetail {
  Inconsistency kind;
  std::uint64_t event_index;  // position of the offending event in the stream
  std::uint64_t gfn;
  std::uint64_t id;  // pfn or sp of the page, when there is one
  int level;
};

}  // namespace tdpwatch::core
