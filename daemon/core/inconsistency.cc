#include "daemon/core/inconsistency.h"

namespace tdpwatch::core {

std::string_view name(Inconsistency kind) {
  switch (kind) {
    case Inconsistency::kUnlinkUnknownPage:
      return "unlink_unknown_page";
    case Inconsistency::kDoubleLink:
      return "double_link";
    case Inconsistency::kUntrackUntracked:
      return "untrack_untracked";
    case Inconsistency::kDoubleTrack:
      return "double_track";
    case Inconsistency::kTrackUnknownPage:
      return "track_unknown_page";
    case Inconsistency::kUnknownParent:
      return "unknown_parent";
    case Inconsistency::kLeafPfnChanged:
      return "leaf_pfn_changed";
    case Inconsistency::kNonleafPfnChanged:
      return "nonleaf_pfn_changed";
    case Inconsistency::kBadLevel:
      return "bad_level";
    case Inconsistency::kUnknownRoot:
      return "unknown_root";
    case Inconsistency::kRootRefcountUnderflow:
      return "root_refcount_underflow";
    case Inconsistency::kShadowZapUnknown:
      return "shadow_zap_unknown";
    case Inconsistency::kShadowDoubleGet:
      return "shadow_double_get";
    case Inconsistency::kEventAfterDestroy:
      return "event_after_destroy";
    case Inconsistency::kDestroyUnknownVm:
      return "destroy_unknown_vm";
    case Inconsistency::kUnknownEventType:
      return "unknown_event_type";
    case Inconsistency::kCount_:
      break;
  }
  return "invalid";
}

}  // namespace tdpwatch::core
