// What SIGHUP applies live and what it leaves for a restart.
#include "daemon/tdpwatchd/reload.h"

#include <gtest/gtest.h>

namespace tdpwatch::tdpwatchd {
namespace {

TEST(Reload, LiveChangesAppliedRestartOnesKept) {
  Options running;
  Options parsed;
  parsed.log_level = "debug";
  parsed.leak_retention_seconds = 60;
  parsed.interval_seconds = 1;
  parsed.web_listen_address = ":9100";
  parsed.ringbuf_bytes = 1 << 16;
  parsed.disable_variant = {"tp_btf"};
  Options merged;
  const ReloadDiff d = diff_options(running, parsed, merged);
  EXPECT_EQ(d.live, (std::vector<std::string>{"log.level: info -> debug",
                                              "leak.retention: 86400 -> 60", "interval: 5 -> 1"}));
  EXPECT_EQ(d.restart, (std::vector<std::string>{"web.listen-address: 127.0.0.1:9977 -> :9100",
                                                 "ringbuf-size: 0 -> 65536",
                                                 "disable-variant: [] -> [tp_btf]"}));
  EXPECT_EQ(merged.log_level, "debug");
  EXPECT_EQ(merged.leak_retention_seconds, 60.0);
  EXPECT_EQ(merged.interval_seconds, 1.0);
  EXPECT_EQ(merged.web_listen_address, running.web_listen_address);
  EXPECT_EQ(merged.ringbuf_bytes, running.ringbuf_bytes);
  EXPECT_TRUE(merged.disable_variant.empty());
}

TEST(Reload, NothingChanged) {
  Options running, merged;
  const ReloadDiff d = diff_options(running, running, merged);
  EXPECT_TRUE(d.live.empty());
  EXPECT_TRUE(d.restart.empty());
}

}  // namespace
}  // namespace tdpwatch::tdpwatchd
