// The service manager's readiness protocol (sd_notify(3)) without libsystemd:
// one datagram of "KEY=VALUE\n..." to the AF_UNIX socket named by
// $NOTIFY_SOCKET (a path, or an abstract name written "@name").  Under
// systemd's Type=notify, READY=1 tells it the service is up; elsewhere
// NOTIFY_SOCKET is unset and sd_notify() does nothing.
//
// Thread safety: safe from any thread (one socket per call).
#pragma once

#include <string_view>

#include "daemon/common/result.h"

namespace tdpwatch {

// Sends `state` (e.g. "READY=1\nSTATUS=watching") to $NOTIFY_SOCKET.  Success
// when the variable is unset or empty; an error naming the socket otherwise.
Status sd_notify(std::string_view state);

// The same, to an explicit socket address (what the test and sd_notify() use).
Status sd_notify_to(std::string_view socket, std::string_view state);

}  // namespace tdpwatch
