// Transient or real: one VM's differences between model and kernel, tracked
// over reconciliation ticks.  A difference is real drift once it has lasted
// at least `grace_ticks` ticks and `grace_seconds` with the same value and the
// kernel's figure unchanged (a moving figure means work in flight: events
// still in the ring buffer, pages waiting for their RCU free).  Real drift is
// reported once, again when its value changes, and when it clears.
//
// Thread safety: none.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "daemon/reconcile/figures.h"

namespace tdpwatch::reconcile {

struct DriftOptions {
  double grace_seconds = 10;
  int grace_ticks = 2;
};

struct FigureDrift {
  Figure figure;     // as of the last tick
  double since = 0;  // when this difference, with this kernel value, began
  int ticks = 0;     // ticks it has lasted
  bool confirmed = false;
  std::int64_t reported = 0;  // the difference last reported
};

class DriftTracker {
 public:
  enum class Change { kConfirmed, kChanged, kCleared };
  struct Report {
    Change change;
    Figure figure;
    std::int64_t was = 0;  // kChanged: the difference reported before
    double lasted = 0;     // seconds the current difference has lasted
  };

  // One tick's figures.  `hold`: differences are tracked but not confirmed
  // (the VM is being resynced).  Returns what to report.
  std::vector<Report> update(const std::vector<Figure>& figures, double now,
                             const DriftOptions& options, bool hold);

  // Differences being tracked (non-zero ones only), by figure name.
  const std::map<std::string, FigureDrift>& differences() const { return diffs_; }
  bool confirmed(const std::string& figure) const;

 private:
  std::map<std::string, FigureDrift> diffs_;
};

}  // namespace tdpwatch::reconcile
