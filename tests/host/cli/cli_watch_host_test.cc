// `tdpwatch watch` driven in a real terminal (tmux, on a private server
// socket): the screen shows our VM and its page count, `q` and Ctrl-C exit
// with 0 and give the terminal back (normal screen, cursor, line mode and
// echo restored); TERM=dumb or a pipe gives plain tables with no escapes.
#include <unistd.h>

#include <regex>

#include "tests/host/cli/cli_host_fixture.h"

namespace tdpwatch::host_test {
namespace {

using namespace std::chrono_literals;

std::optional<std::string> which(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/local/bin"}) {
    const std::string p = std::string(dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return std::nullopt;
}

// One tmux server of our own (-L), killed by the destructor.
class Tmux {
 public:
  explicit Tmux(std::string tmux)
      : tmux_(std::move(tmux)),
        socket_("tdpw-cli-test-" + std::to_string(::getpid()) + "-" + std::to_string(++count_)) {}
  ~Tmux() { (void)cmd({"kill-server"}); }

  RunResult cmd(std::vector<std::string> args) const {
    args.insert(args.begin(), {tmux_, "-L", socket_, "-f", "/dev/null"});
    return run(args, 10s);
  }
  std::string screen() const { return cmd({"capture-pane", "-p", "-t", "w"}).out; }
  std::string format(const std::string& f) const {
    std::string out = cmd({"display-message", "-p", "-t", "w", f}).out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

 private:
  static inline int count_ = 0;
  std::string tmux_;
  std::string socket_;
};

// The shell line run in the pane: watch, then its exit status and the tty
// modes it left behind, then a pause so the pane stays to be read.  The trap
// keeps the shell alive through Ctrl-C (a handler, not SIG_IGN, so watch
// still gets SIGINT).
std::string pane_command(const std::string& url) {
  return "trap true INT; " + std::string(TDPW_TDPWATCH_PATH) + " watch --interval 0.5 --daemon " +
         url +
         "; echo EXITED-$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo "
         "-e -echo | tr '\\n' ' '; echo; sleep 120";
}

void drive(const std::string& url, pid_t vm_pid, const std::vector<std::string>& quit_keys) {
  const auto tmux = which("tmux");
  ASSERT_TRUE(tmux) << "tmux not found: install Debian's 'tmux' (sudo ./scripts/install-deps.sh)";
  Tmux t(*tmux);
  const RunResult started = t.cmd({"new-session", "-d", "-s", "w", "-x", "200", "-y", "40", "env",
                                   "TERM=xterm", "sh", "-c", pane_command(url)});
  ASSERT_EQ(started.status, 0) << started.out << started.err;

  // The view: our VM, its pid, and its page-table page count.
  std::string screen;
  const bool shown = eventually(20s, [&] {
    screen = t.screen();
    return screen.find("tdpwatch watch") != std::string::npos &&
           std::regex_search(screen, std::regex("tdpw_test_vmm-" + std::to_string(vm_pid) + " +" +
                                                std::to_string(vm_pid) + " +tdpw_test_vmm +[1-9]"));
  });
  ASSERT_TRUE(shown) << screen;
  EXPECT_NE(screen.find("PAGES/S"), std::string::npos) << screen;
  EXPECT_EQ(t.format("#{alternate_on}"), "1") << "watch draws on the alternate screen";
  EXPECT_EQ(t.format("#{cursor_flag}"), "0") << "cursor hidden while drawing";

  for (const std::string& key : quit_keys) t.cmd({"send-keys", "-t", "w", key});
  const bool exited = eventually(10s, [&] {
    screen = t.screen();
    return screen.find("EXITED-") != std::string::npos &&
           screen.find("icanon") != std::string::npos;
  });
  ASSERT_TRUE(exited) << screen;
  EXPECT_NE(screen.find("EXITED-0"), std::string::npos) << screen;
  EXPECT_TRUE(std::regex_search(screen, std::regex("(^|\\s)icanon\\s")))
      << "line mode not restored:\n"
      << screen;
  EXPECT_TRUE(std::regex_search(screen, std::regex("(^|\\s)echo\\s"))) << "echo not restored:\n"
                                                                       << screen;
  EXPECT_EQ(t.format("#{alternate_on}"), "0") << "alternate screen not left";
  EXPECT_EQ(t.format("#{cursor_flag}"), "1") << "cursor not shown again";
  EXPECT_EQ(screen.find("tdpwatch watch"), std::string::npos)
      << "the view should be gone with the alternate screen:\n"
      << screen;
}

TEST_F(CliHost, WatchInTmuxShowsTheVmAndQuitsOnQ) {
  drive(url, vm_pid, {"q"});
}

TEST_F(CliHost, WatchInTmuxQuitsOnCtrlC) {
  drive(url, vm_pid, {"C-c"});
}

TEST_F(CliHost, WatchOnADumbTerminalPrintsPlainTables) {
  Process p = Process::spawn({"/usr/bin/env", "TERM=dumb", TDPW_TDPWATCH_PATH, "watch",
                              "--interval", "0.2", "--count", "3", "--daemon", url});
  ASSERT_EQ(p.wait(30s), 0) << p.err();
  const std::string& out = p.out();
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << "escape sequences on a dumb terminal";
  std::size_t frames = 0;
  for (std::size_t at = 0; (at = out.find("tdpwatch watch ", at)) != std::string::npos; ++at) {
    ++frames;
  }
  EXPECT_EQ(frames, 3u) << out;
  EXPECT_NE(out.find("tdpw_test_vmm-" + std::to_string(vm_pid)), std::string::npos) << out;
}

}  // namespace
}  // namespace tdpwatch::host_test
