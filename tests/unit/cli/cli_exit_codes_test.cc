// The tdpwatch binary on bad input: each case gives the documented exit code
// (cli/exit_codes.h) and one clear message, never a stack of exceptions.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/host/support/subprocess.h"

namespace tdpwatch {
namespace {

using namespace std::chrono_literals;

host_test::RunResult tdpwatch(std::vector<std::string> args) {
  args.insert(args.begin(), TDPW_TDPWATCH_PATH);
  return host_test::run(args, 30s);
}

int count_lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// A loopback port with nothing listening: bound, never listened on.
struct DeadPort {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int port = 0;
  DeadPort() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~DeadPort() { ::close(fd); }
};

TEST(CliExitCodes, HelpEverywhereIsZeroAndListsTheExitCodes) {
  for (const char* sub : {"", "snapshot", "list", "watch", "record", "replay", "check"}) {
    std::vector<std::string> args;
    if (*sub != '\0') args.emplace_back(sub);
    args.emplace_back("--help");
    const auto r = tdpwatch(args);
    EXPECT_EQ(r.status, 0) << sub << r.err;
    EXPECT_NE(r.out.find("3 daemon unreachable"), std::string::npos) << sub << r.out;
  }
}

TEST(CliExitCodes, UnknownFlagOrMissingArgumentIsUsage) {
  auto r = tdpwatch({"list", "--no-such-flag"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
  EXPECT_EQ(tdpwatch({}).status, 2);
  EXPECT_EQ(tdpwatch({"snapshot"}).status, 2);
  EXPECT_EQ(tdpwatch({"list", "--sort", "colour"}).status, 2);
  EXPECT_EQ(tdpwatch({"snapshot", "x", "--output", "yaml"}).status, 2);
  r = tdpwatch({"list", "--daemon", "https://127.0.0.1:9977"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err,
            "tdpwatch: --daemon https://127.0.0.1:9977: expected http://HOST[:PORT][/PATH]\n");
}

TEST(CliExitCodes, UnreachableDaemonIsOneLineAndAHint) {
  DeadPort dead;
  const std::string url = "http://127.0.0.1:" + std::to_string(dead.port);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"list"}, {"snapshot", "vm"}, {"watch", "--count", "1"}}) {
    std::vector<std::string> a = args;
    a.insert(a.end(), {"--daemon", url});
    const auto r = tdpwatch(a);
    EXPECT_EQ(r.status, 3) << args[0] << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 2) << r.err;
    EXPECT_EQ(r.err.rfind("tdpwatch: no tdpwatchd at " + url + ": cannot connect to " + url +
                              ": Connection refused\nhint: start it",
                          0),
              0u)
        << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(CliExitCodes, BadRecordingFileIs5) {
  auto r = tdpwatch({"replay", "/nonexistent/recording.tdpwrec"});
  EXPECT_EQ(r.status, 5);
  EXPECT_EQ(r.err.rfind("tdpwatch: replay: cannot open recording /nonexistent/recording.tdpwrec: "
                        "No such file or directory\n",
                        0),
            0u)
      << r.err;
  const std::string junk = testing::TempDir() + "/junk.tdpwrec";
  std::ofstream(junk) << std::string(200, 'x');
  r = tdpwatch({"replay", junk});
  EXPECT_EQ(r.status, 5);
  EXPECT_NE(r.err.find(junk), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(CliExitCodes, DamagedRecordingPrintsWhatWasReadThenExits5) {
  const std::string src = std::string(TDPW_FIXTURES_DIR) + "/fixture-6.12-fentry.tdpwrec";
  const std::string path = testing::TempDir() + "/cut.tdpwrec";
  std::filesystem::copy_file(src, path, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(path, 64 + 10 * 64 + 1);
  const auto r = tdpwatch({"replay", path, "--output", "json"});
  EXPECT_EQ(r.status, 5);
  EXPECT_NE(r.out.find("\"complete\": false"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("record 10"), std::string::npos) << r.err;
}

TEST(CliExitCodes, ReplayOfAFixtureIsZero) {
  const auto r =
      tdpwatch({"replay", std::string(TDPW_FIXTURES_DIR) + "/fixture-6.12-fentry.tdpwrec"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("2076 events replayed"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace tdpwatch
