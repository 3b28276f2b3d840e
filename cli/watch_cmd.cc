#include "cli/watch_cmd.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>

#include <CLI/CLI.hpp>

#include "cli/list_render.h"
#include "cli/terminal.h"
#include "daemon/common/unique_fd.h"

namespace tdpwatch::cli {
namespace {

// Rates between two list documents, by VM key, over the daemon's clock.
class RateTracker {
 public:
  std::map<std::int64_t, Rates> update(const ojson& list) {
    const ojson& t = list["daemon"]["time"];
    const double time = t.is_number() ? t.get<double>() : 0;
    if (time <= time_) return rates_;  // the daemon has not published since: same rates
    std::map<std::int64_t, Sample> now;
    std::map<std::int64_t, Rates> rates;
    for (const ojson& vm : list["vms"]) {
      const std::int64_t key = number_at(vm, "/vm/key").value_or(0);
      const Sample s{static_cast<double>(number_at(vm, "/model/page_table_pages").value_or(0)),
                     static_cast<double>(number_at(vm, "/model/counters/events").value_or(0))};
      now[key] = s;
      if (const auto it = last_.find(key); it != last_.end() && time_ > 0) {
        const double dt = time - time_;
        rates[key] = {(s.pages - it->second.pages) / dt, (s.events - it->second.events) / dt};
      }
    }
    last_ = std::move(now);
    time_ = time;
    rates_ = rates;
    return rates;
  }

 private:
  struct Sample {
    double pages;
    double events;
  };
  double time_ = 0;  // the daemon's snapshot time of last_
  std::map<std::int64_t, Sample> last_;
  std::map<std::int64_t, Rates> rates_;
};

std::string clock_now() {
  const std::time_t t = std::time(nullptr);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", std::localtime(&t));
  return buf;
}

std::string kib(const nlohmann::json& doc, const char* key) {
  const auto it = doc.find(key);
  if (it == doc.end() || !it->is_number()) return "-";
  return std::to_string(it->get<std::uint64_t>() / 1024) + " KiB";
}

// One frame's text: a header, host figures, the VM table with rates.
std::string frame(const std::string& url, const Outcome<nlohmann::json>& doc, RateTracker& rates,
                  const WatchOptions& o, std::size_t width, bool screen) {
  char every[32];
  std::snprintf(every, sizeof every, "%g", o.interval_seconds);
  std::string out = "tdpwatch watch  " + url + "  " + clock_now() + "  every " + every +
                    " s  sort " + o.sort + (screen ? "  (q to quit)" : "") + "\n";
  if (!doc) return out + "daemon unreachable: " + doc.failure().message + "\n";
  ojson list = list_document(*doc, url);
  sort_vms(list["vms"], o.sort);
  std::int64_t pages = 0;
  for (const ojson& vm : list["vms"]) pages += number_at(vm, "/model/page_table_pages").value_or(0);
  out += "VMs " + std::to_string(list["vms"].size()) + "  page-table pages " +
         std::to_string(pages) + "  host SecPageTables " + kib(*doc, "sec_page_tables_bytes") +
         "  events " + std::to_string(doc->value("events_processed", std::uint64_t{0})) +
         " (lost " + std::to_string(doc->value("events_lost", std::uint64_t{0})) + ")\n\n";
  const auto r = rates.update(list);
  return out + render_list(list["vms"], &r, width);
}

// SIGINT, SIGTERM (quit) and SIGWINCH (redraw), as a signalfd.
UniqueFd signal_fd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGWINCH);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  return UniqueFd(::signalfd(-1, &set, SFD_CLOEXEC));
}

enum class Wake { kTimeout, kQuit, kRedraw };

Wake wait_event(int sig_fd, bool keys, int timeout_ms) {
  pollfd fds[2] = {{sig_fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
  const int n = ::poll(fds, keys ? 2 : 1, timeout_ms);
  if (n <= 0) return Wake::kTimeout;
  if (fds[0].revents & POLLIN) {
    signalfd_siginfo info{};
    if (::read(sig_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info) &&
        info.ssi_signo == SIGWINCH) {
      return Wake::kRedraw;
    }
    return Wake::kQuit;
  }
  if (keys && (fds[1].revents & (POLLIN | POLLHUP))) {
    char c = 0;
    if (::read(STDIN_FILENO, &c, 1) != 1 || c == 'q' || c == 'Q') return Wake::kQuit;
    return Wake::kRedraw;
  }
  return Wake::kTimeout;
}

}  // namespace

void add_watch_command(CLI::App& app, WatchOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "watch",
      "A live, top-like view of the VMs, their page counts and rates (q or Ctrl-C quits). "
      "With TERM=dumb or a non-terminal stdout it prints a plain table per refresh");
  cmd->add_option("-n,--interval", o.interval_seconds, "seconds between refreshes")
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("-s,--sort", o.sort, "as `list --sort`; default pages")
      ->check(CLI::IsMember(list_sort_keys()));
  cmd->add_option("-c,--count", o.count, "exit after this many refreshes (0: never)");
}

int run_watch(const GlobalOptions& global, const WatchOptions& o) {
  auto client = DaemonClient::create(global.daemon);
  if (!client) return report(client.failure());
  // The first fetch decides: no daemon, no screen (one error line, exit 3).
  auto doc = client->vms();
  if (!doc) return report(doc.failure());
  UniqueFd sig = signal_fd();
  RateTracker rates;
  const bool screen = can_draw_screen();
  std::optional<TerminalScreen> term;
  if (screen) term.emplace();
  const bool keys = screen && ::isatty(STDIN_FILENO) == 1;
  const int interval_ms = static_cast<int>(o.interval_seconds * 1000);
  for (std::uint64_t n = 1;; ++n) {
    if (screen) {
      term->draw(frame(client->url(), doc, rates, o, terminal_columns(), true));
    } else {
      std::fputs((frame(client->url(), doc, rates, o, 0, false) + "\n").c_str(), stdout);
      std::fflush(stdout);
    }
    if (o.count != 0 && n >= o.count) return kExitOk;
    const Wake w = wait_event(sig.get(), keys, interval_ms);
    if (w == Wake::kQuit) return kExitOk;
    doc = client->vms();
  }
}

}  // namespace tdpwatch::cli
