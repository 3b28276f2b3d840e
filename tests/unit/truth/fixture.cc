#include "tests/unit/truth/fixture.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace tdpwatch::truth::testing {

FixtureTree::FixtureTree() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tdpw-truth-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  root_ = tmpl;
  // Traversable by the unprivileged child of run_unprivileged().
  std::filesystem::permissions(root_, std::filesystem::perms(0755));
  mkdir("proc");
  mkdir("sys");
  mkdir("debug");
}

FixtureTree::~FixtureTree() {
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

Paths FixtureTree::paths() const {
  return Paths{(root_ / "proc").string(), (root_ / "sys").string(), (root_ / "debug").string()};
}

void FixtureTree::write(const std::string& relative, const std::string& content) const {
  const auto path = root_ / relative;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

void FixtureTree::mkdir(const std::string& relative) const {
  std::filesystem::create_directories(root_ / relative);
}

void FixtureTree::remove(const std::string& relative) const {
  std::filesystem::remove_all(root_ / relative);
}

std::string meminfo_text(bool with_sec_page_tables, unsigned sec_kb, unsigned pt_kb) {
  std::string text =
      "MemTotal:        4012904 kB\n"
      "MemFree:         1561484 kB\n"
      "KernelStack:        5648 kB\n"
      "PageTables:     " +
      std::to_string(pt_kb) + " kB\n";
  if (with_sec_page_tables) text += "SecPageTables:     " + std::to_string(sec_kb) + " kB\n";
  text += "NFS_Unstable:          0 kB\nHugePages_Total:       0\n";
  return text;
}

std::string run_unprivileged(const std::function<std::string()>& fn) {
  if (::geteuid() != 0) return fn();
  int fds[2];
  if (::pipe(fds) != 0) return "child failed: pipe";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    const std::string out = fn();
    const bool ok = ::write(fds[1], out.data(), out.size()) == static_cast<ssize_t>(out.size());
    ::_exit(ok ? 0 : 3);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "child failed: status " + std::to_string(status);
  }
  return out;
}

}  // namespace tdpwatch::truth::testing
