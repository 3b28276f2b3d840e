// Fixture kernel trees for the truth readers: a temporary directory holding
// proc/, sys/ and debug/, and helpers to fill it.  Removed on destruction.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "daemon/truth/paths.h"

namespace tdpwatch::truth::testing {

class FixtureTree {
 public:
  FixtureTree();
  ~FixtureTree();
  FixtureTree(const FixtureTree&) = delete;
  FixtureTree& operator=(const FixtureTree&) = delete;

  const std::filesystem::path& root() const { return root_; }
  // procfs = <root>/proc, sysfs = <root>/sys, debugfs = <root>/debug.
  Paths paths() const;

  // Writes `content` to <root>/<relative>, creating parent directories.
  void write(const std::string& relative, const std::string& content) const;
  void mkdir(const std::string& relative) const;
  void remove(const std::string& relative) const;

 private:
  std::filesystem::path root_;
};

// A standard meminfo, with or without the SecPageTables line.
std::string meminfo_text(bool with_sec_page_tables, unsigned sec_kb = 16, unsigned pt_kb = 2488);

// Runs `fn` in a child process that has dropped root (uid/gid 65534) when we
// are root, so that mode-000 files really are unreadable; returns what `fn`
// returned, or "child failed: ..." if the child could not run it.
std::string run_unprivileged(const std::function<std::string()>& fn);

}  // namespace tdpwatch::truth::testing
