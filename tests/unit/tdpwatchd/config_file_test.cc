// The config file (--config.file): its syntax, how its keys map onto the
// long options (dotted keys and [sections] alike), that flags win, and that
// every error is one line naming the file and line.  Parsing goes through
// reparse_command_line, the same path as tdpwatchd's start and SIGHUP.
#include "daemon/tdpwatchd/config_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "daemon/tdpwatchd/command_line.h"

namespace tdpwatch::tdpwatchd {
namespace {

namespace fs = std::filesystem;

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tdpw_config_test." + std::to_string(::getpid()));
    fs::create_directories(dir_);
    file_ = (dir_ / "t.conf").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& text) const { std::ofstream(file_) << text; }
  // Parses `flags` after --config.file FILE holding `text`.
  Result<Options> parse(const std::string& text, std::vector<std::string> flags = {}) {
    write(text);
    std::vector<std::string> argv = {"tdpwatchd", "--config.file", file_};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return reparse_command_line(argv);
  }
  std::string error(const std::string& text, std::vector<std::string> flags = {}) {
    auto r = parse(text, std::move(flags));
    return r ? "parsed" : r.error().message;
  }

  fs::path dir_;
  std::string file_;
};

TEST_F(ConfigFileTest, DottedKeysAndSectionsAreTheSameOptions) {
  auto dotted = parse(
      "web.listen-address = \"[::1]:9100\"\n"
      "web.telemetry-path = '/m'\n"
      "leak.retention = 60\n"
      "log.level = debug\n");
  ASSERT_TRUE(dotted) << dotted.error().message;
  auto sections = parse(
      "[web]\n"
      "listen-address = \"[::1]:9100\"\n"
      "telemetry-path = '/m'\n"
      "[leak]\n"
      "retention = 60\n"
      "[log]\n"
      "level = debug\n");
  ASSERT_TRUE(sections) << sections.error().message;
  for (const Options* o : {&*dotted, &*sections}) {
    EXPECT_EQ(o->web_listen_address, "[::1]:9100");
    EXPECT_EQ(o->web_telemetry_path, "/m");
    EXPECT_EQ(o->leak_retention_seconds, 60.0);
    EXPECT_EQ(o->log_level, "debug");
    EXPECT_EQ(o->config_file, file_);
  }
}

TEST_F(ConfigFileTest, SwitchesArraysNumbersAndComments) {
  auto o = parse(
      "# a comment\n"
      "; an INI comment\n"
      "\n"
      "  strict = true   # trailing comment\n"
      "no-probes = false\n"
      "disable-variant = [\"fentry\", 'fexit' ,kprobe]\n"
      "ringbuf-size = 65536\n"
      "interval = 0.5\n"
      "record = \"/var/lib/x \\\"q\\\".rec\"\n"
      "[path]\n"
      "procfs = /host/proc\n");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_TRUE(o->strict);
  EXPECT_FALSE(o->no_probes);
  EXPECT_EQ(o->disable_variant, (std::vector<std::string>{"fentry", "fexit", "kprobe"}));
  EXPECT_EQ(o->ringbuf_bytes, 65536u);
  EXPECT_EQ(o->interval_seconds, 0.5);
  EXPECT_EQ(o->record, "/var/lib/x \"q\".rec");
  EXPECT_EQ(o->paths.procfs, "/host/proc");
  EXPECT_EQ(o->paths.sysfs, "/sys");  // untouched: the default
}

TEST_F(ConfigFileTest, CommandLineFlagsWin) {
  auto o = parse("log.level = \"debug\"\ninterval = 9\nstrict = true\n",
                 {"--log.level", "warn", "--interval=2"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->log_level, "warn");
  EXPECT_EQ(o->interval_seconds, 2.0);
  EXPECT_TRUE(o->strict);  // from the file: not on the command line
}

TEST_F(ConfigFileTest, NoFileIsTheDefaults) {
  auto o = reparse_command_line({"tdpwatchd"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->config_file, "");
  EXPECT_EQ(o->web_listen_address, Options{}.web_listen_address);
}

TEST_F(ConfigFileTest, EachErrorNamesFileAndLine) {
  EXPECT_EQ(error("log.level = info\nweb.foo = 1\n"),
            file_ +
                ":2: unknown key 'web.foo': keys are tdpwatchd's long options without the "
                "leading -- (see tdpwatchd --help), e.g. web.listen-address");
  EXPECT_TRUE(error("[web]\nfoo = 1\n").starts_with(file_ + ":2: unknown key 'web.foo'"));
  EXPECT_TRUE(error("--interval = 1\n").starts_with(file_ + ":1: unknown key '--interval'"));
  EXPECT_EQ(error("\n\njust words\n"), file_ + ":3: expected key = value, got 'just words'");
  EXPECT_EQ(error("[web\n"),
            file_ + ":1: malformed section header '[web' (expected [name], e.g. [web])");
  EXPECT_EQ(error("record = \"open\n"), file_ + ":1: record: unterminated \"string\"");
  EXPECT_EQ(error("interval = 1 2 # x\ninterval = 3\n"),
            file_ + ":2: interval is set twice (first on line 1)");
  EXPECT_EQ(error("disable-variant = [a, b\n"),
            file_ + ":1: disable-variant: unterminated [array] (arrays are one line)");
  EXPECT_EQ(error("record = \"a\" b\n"),
            file_ + ":1: record: unexpected text after the value: 'b'");
  EXPECT_EQ(error("interval = \n"), file_ + ":1: interval: no value");
  // Not settable from a file.
  EXPECT_NE(error("config.file = /x\n").find(":1: unknown key 'config.file'"), std::string::npos);
  EXPECT_NE(error("help = true\n").find(":1: unknown key 'help'"), std::string::npos);
}

TEST_F(ConfigFileTest, BadValuesAreBlamedOnTheirLine) {
  EXPECT_EQ(error("\nlog.level = \"loud\"\n"),
            file_ + ":2: --log.level: loud not in {trace,debug,info,warn,error,critical,off}");
  EXPECT_TRUE(error("[leak]\nretention = -5\n").starts_with(file_ + ":2: --leak.retention:"))
      << error("[leak]\nretention = -5\n");
  // The same bad value given on the command line is the command line's.
  EXPECT_EQ(error("log.level = loud\n", {"--log.level", "loud"}),
            "--log.level: loud not in {trace,debug,info,warn,error,critical,off}");
}

TEST_F(ConfigFileTest, MissingFile) {
  auto r = reparse_command_line({"tdpwatchd", "--config.file", (dir_ / "nope.conf").string()});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "--config.file: " + (dir_ / "nope.conf").string() +
                                   " was not readable (missing?): give a readable file "
                                   "(deploy/tdpwatchd.conf is an example)");
}

// deploy/tdpwatchd.conf shows every configurable option, commented out, with
// its default: uncommented, it parses to exactly the defaults.
TEST_F(ConfigFileTest, DeployedExampleCoversEveryOptionWithItsDefault) {
  std::ifstream in(std::string(TDPW_SOURCE_DIR) + "/deploy/tdpwatchd.conf");
  ASSERT_TRUE(in) << "deploy/tdpwatchd.conf missing";
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  const std::string uncommented =
      std::regex_replace(text, std::regex(R"(^# ([a-z.-]+ = ))", std::regex::multiline), "$1");
  auto entries = parse_config_text(uncommented, "tdpwatchd.conf");
  ASSERT_TRUE(entries) << entries.error().message;

  Options defaults;
  CLI::App app;
  add_options(app, defaults);
  for (const CLI::Option* opt : app.get_options()) {
    const std::string name = opt->get_single_name();
    if (!opt->get_configurable() || name == "help" || name == "version" || name == "config.file") {
      continue;
    }
    EXPECT_TRUE(std::any_of(entries->begin(), entries->end(),
                            [&](const ConfigEntry& e) { return e.key == name; }))
        << name << " is not in deploy/tdpwatchd.conf";
  }

  auto o = parse(uncommented);
  ASSERT_TRUE(o) << o.error().message;
  Options expected;
  expected.config_file = o->config_file;
  expected.argv = o->argv;
  EXPECT_EQ(o->log_level, expected.log_level);
  EXPECT_EQ(o->interval_seconds, expected.interval_seconds);
  EXPECT_EQ(o->leak_retention_seconds, expected.leak_retention_seconds);
  EXPECT_EQ(o->web_listen_address, expected.web_listen_address);
  EXPECT_EQ(o->web_telemetry_path, expected.web_telemetry_path);
  EXPECT_EQ(o->paths.procfs, expected.paths.procfs);
  EXPECT_EQ(o->paths.sysfs, expected.paths.sysfs);
  EXPECT_EQ(o->paths.debugfs, expected.paths.debugfs);
  EXPECT_EQ(o->ringbuf_bytes, expected.ringbuf_bytes);
  EXPECT_EQ(o->disable_variant, expected.disable_variant);
  EXPECT_EQ(o->strict, expected.strict);
  EXPECT_EQ(o->no_probes, expected.no_probes);
  EXPECT_EQ(o->once, expected.once);
  EXPECT_EQ(o->once_window_seconds, expected.once_window_seconds);
  EXPECT_EQ(o->record, expected.record);
  EXPECT_EQ(o->status_file, expected.status_file);
  EXPECT_EQ(o->output, expected.output);
}

}  // namespace
}  // namespace tdpwatch::tdpwatchd
