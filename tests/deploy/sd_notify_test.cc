// sd_notify() without libsystemd: the datagram reaches path and abstract
// sockets intact, an unset $NOTIFY_SOCKET is a silent no-op, and a bad or
// missing socket is an error naming it.
#include "daemon/common/sd_notify.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/deploy/notify_socket.h"

namespace tdpwatch {
namespace {

using namespace std::chrono_literals;

std::string unique(const std::string& what) {
  return "tdpw-" + what + "-" + std::to_string(::getpid());
}

TEST(SdNotify, ReachesAnAbstractSocket) {
  test::NotifySocket sock("@" + unique("abstract"));
  ASSERT_TRUE(sock.valid());
  ASSERT_TRUE(sd_notify_to(sock.name(), "READY=1\nSTATUS=watching").ok());
  EXPECT_EQ(sock.receive(1s), "READY=1\nSTATUS=watching");
}

TEST(SdNotify, ReachesAPathSocketThroughTheEnvironment) {
  const auto path = std::filesystem::temp_directory_path() / unique("path.sock");
  test::NotifySocket sock(path.string());
  ASSERT_TRUE(sock.valid());
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  const Status s = sd_notify("STOPPING=1");
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(sock.receive(1s), "STOPPING=1");
}

TEST(SdNotify, UnsetOrEmptyVariableDoesNothing) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(sd_notify("READY=1").ok());
  ::setenv("NOTIFY_SOCKET", "", 1);
  EXPECT_TRUE(sd_notify("READY=1").ok());
  ::unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotify, BadSocketsAreErrorsNamingThem) {
  const Status relative = sd_notify_to("relative.sock", "READY=1");
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.error().message.find("NOTIFY_SOCKET=relative.sock"), std::string::npos);

  const Status missing = sd_notify_to("/nonexistent/tdpw.sock", "READY=1");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/tdpw.sock"), std::string::npos);
  EXPECT_NE(missing.error().errno_value, 0);

  EXPECT_FALSE(sd_notify_to("/" + std::string(200, 'x'), "READY=1").ok());
}

}  // namespace
}  // namespace tdpwatch
