#include "daemon/reconcile/drift.h"

#include <set>

namespace tdpwatch::reconcile {

std::vector<DriftTracker::Report> DriftTracker::update(const std::vector<Figure>& figures,
                                                       double now, const DriftOptions& o,
                                                       bool hold) {
  std::vector<Report> out;
  std::set<std::string> present;
  for (const Figure& f : figures) {
    present.insert(f.name);
    const std::int64_t diff = f.model - f.kernel;
    auto it = diffs_.find(f.name);
    if (diff == 0) {
      if (it != diffs_.end()) {
        if (it->second.confirmed) out.push_back({Change::kCleared, f, it->second.reported, 0});
        diffs_.erase(it);
      }
      continue;
    }
    if (it == diffs_.end()) it = diffs_.emplace(f.name, FigureDrift{f, now, 0, false, 0}).first;
    FigureDrift& d = it->second;
    const bool same =
        d.ticks > 0 && d.figure.model - d.figure.kernel == diff && d.figure.kernel == f.kernel;
    if (!same) {
      d.since = now;
      d.ticks = 0;
    }
    d.figure = f;
    ++d.ticks;
    if (hold || d.ticks < o.grace_ticks || now - d.since < o.grace_seconds) continue;
    if (!d.confirmed) {
      d.confirmed = true;
      d.reported = diff;
      out.push_back({Change::kConfirmed, f, 0, now - d.since});
    } else if (d.reported != diff) {
      out.push_back({Change::kChanged, f, d.reported, now - d.since});
      d.reported = diff;
    }
  }
  // A figure the kernel stopped exposing: nothing left to compare.
  for (auto it = diffs_.begin(); it != diffs_.end();) {
    if (present.count(it->first) == 0) {
      if (it->second.confirmed) out.push_back({Change::kCleared, it->second.figure, 0, 0});
      it = diffs_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

bool DriftTracker::confirmed(const std::string& figure) const {
  const auto it = diffs_.find(figure);
  return it != diffs_.end() && it->second.confirmed;
}

}  // namespace tdpwatch::reconcile
