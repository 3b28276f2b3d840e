#include "daemon/tdpwatchd/run.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>

#include <spdlog/spdlog.h>

#include "daemon/common/sd_notify.h"
#include "daemon/core/model.h"
#include "daemon/probes/event_loop.h"
#include "daemon/probes/loader.h"
#include "daemon/replay/writer.h"
#include "daemon/setup/capabilities.h"
#include "daemon/setup/host_check.h"
#include "daemon/setup/probe_setup.h"
#include "daemon/setup/stop_signal.h"
#include "daemon/tdpwatchd/features.h"
#include "daemon/tdpwatchd/model_json.h"
#include "daemon/tdpwatchd/reconcile_tick.h"
#include "daemon/tdpwatchd/reload.h"
#include "daemon/tdpwatchd/snapshot_builder.h"
#include "daemon/tdpwatchd/summary.h"
#include "daemon/tdpwatchd/watcher.h"
#include "daemon/tdpwatchd/config_file.h"  // kExitUsage
#include "daemon/tdpwatchd/web.h"
#include "exporter/web_config.h"

namespace tdpwatch::tdpwatchd {
namespace {

using setup::check_host;
using setup::dev_kvm_present;
using setup::drop_unneeded_caps;
using setup::HostReport;
using setup::kDevKvm;
using setup::kvm_unavailable_reason;
using setup::log_host;
using setup::log_plan;
using setup::StopSignal;

std::chrono::milliseconds seconds(double s) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000.0));
}

// Writes `text` to path via a temporary file and rename(), so readers never
// see a half-written document.
void write_status(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) {
      spdlog::warn("--status-file: cannot write {}", tmp);
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    spdlog::warn("--status-file: cannot rename {} to {}: {}", tmp, path, std::strerror(errno));
  }
}

// Tells a Type=notify service manager (systemd) what state we are in; a
// failure is worth a warning, never an exit.
void notify(const std::string& state) {
  if (auto s = sd_notify(state); !s) spdlog::warn("sd_notify: {}", s.error().message);
}

exporter::KvmPresence kvm_presence(const HostReport& host) {
  exporter::KvmPresence k;
  k.loaded = host.kvm.kvm.has_value();
  if (host.live) k.device = host.dev_kvm;
  return k;
}

// The same, with /dev/kvm looked at now (it may come and go).
exporter::KvmPresence kvm_presence_now(const HostReport& host) {
  exporter::KvmPresence k = kvm_presence(host);
  if (host.live) k.device = dev_kvm_present();
  return k;
}

int print_once(const std::string& json) {
  std::fputs(json.c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

// The debugfs/meminfo watcher alone (--no-probes, or a fixture tree).
// SIGHUP: the options (reload.cc) and the web config file (its own
// re-read: TLS certificates, users, headers apply without a restart).
bool reload_all(Options& options, Web* web) {
  if (web != nullptr && web->server) web->server->reload("SIGHUP");
  return reload(options);
}

int run_watcher_only(Options options, const HostReport& host, StopSignal& stop, Web* web) {
  drop_unneeded_caps(false, host.kernel_release, options.paths.procfs);
  Watcher watcher(options.paths);
  // On a fixture tree /dev/kvm is not looked at; its debugfs is read as it is.
  auto vms_possible = [&host] { return !host.live || dev_kvm_present(); };
  if (options.once) {
    const PollResult poll = watcher.poll(vms_possible());
    log_poll(poll);
    return print_once(render_json(host, poll));
  }
  SnapshotBuilder builder(options.paths, TDPW_VERSION, host.kernel_release,
                          options.leak_retention_seconds);
  spdlog::info("polling every {} s", options.interval_seconds);
  // tdpwatch_up's staleness limit (web.cc) follows the starting interval: a
  // longer one set by SIGHUP is waited out in slices, republishing between.
  const double publish_every = options.interval_seconds;
  for (bool first = true;; first = false) {
    const PollResult poll = watcher.poll(vms_possible());
    log_poll(poll);
    if (!options.status_file.empty()) write_status(options.status_file, render_json(host, poll));
    if (web != nullptr) {
      builder.set_kvm(kvm_presence_now(host));
      builder.set_poll(poll, unix_now());
      web->store->publish(builder.build({}, unix_now()));
    }
    if (first) notify("READY=1\nSTATUS=watching debugfs and meminfo only (no probes)");
    int sig = 0;
    for (double left = options.interval_seconds; sig == 0 && left > 0; left -= publish_every) {
      sig = stop.wait(seconds(std::min(left, publish_every)));
      if (sig == 0 && left > publish_every && web != nullptr) {
        web->store->publish(builder.build({}, unix_now()));
      }
    }
    if (sig != 0) {
      if (sig == SIGHUP) {
        if (reload_all(options, web)) builder.set_leak_retention(options.leak_retention_seconds);
        continue;
      }
      notify("STOPPING=1");
      spdlog::info("stopping on {}", sigabbrev_np(sig));
      return 0;
    }
  }
}

// KVM is not loaded (a modular KVM before modprobe kvm_intel/kvm_amd): its
// functions, tracepoints and BTF are not in the kernel, so there is nothing
// to attach to.  Serve the metrics, saying so, keep the capabilities the
// probes will need, and look again every second, so that a fleet-wide unit
// neither crash-loops nor misses VMs started soon after the module loads.
// Returns the new host report once KVM is loaded, nullopt when stopped by a
// signal.
Result<std::optional<HostReport>> wait_for_kvm(Options& options, HostReport host, StopSignal& stop,
                                               Web* web) {
  constexpr double kCheckEverySeconds = 1.0;
  Watcher watcher(options.paths);
  SnapshotBuilder builder(options.paths, TDPW_VERSION, host.kernel_release,
                          options.leak_retention_seconds);
  spdlog::info("waiting for KVM to be loaded: looking every {} s; serving metrics meanwhile",
               kCheckEverySeconds);
  notify("READY=1\nSTATUS=waiting for KVM: " + host.kvm_unavailable);
  auto next_poll = std::chrono::steady_clock::now();
  for (;;) {
    if (std::chrono::steady_clock::now() >= next_poll) {
      next_poll = std::chrono::steady_clock::now() + seconds(options.interval_seconds);
      const PollResult poll = watcher.poll(false);
      if (!options.status_file.empty()) write_status(options.status_file, render_json(host, poll));
      if (web != nullptr) builder.set_poll(poll, unix_now());
    }
    if (web != nullptr) {
      builder.set_kvm(kvm_presence(host));
      web->store->publish(builder.build({}, unix_now()));
    }
    const int sig = stop.wait(seconds(std::min(kCheckEverySeconds, options.interval_seconds)));
    if (sig == SIGHUP) {
      if (reload_all(options, web)) builder.set_leak_retention(options.leak_retention_seconds);
      continue;
    }
    if (sig != 0) {
      notify("STOPPING=1");
      spdlog::info("stopping on {}", sigabbrev_np(sig));
      return std::optional<HostReport>{};
    }
    auto now = check_host(options.paths);
    if (!now) return now.error();
    host = std::move(*now);
    if (host.kvm.kvm) {
      spdlog::info("KVM is loaded now: attaching the probes");
      log_host(host);
      return std::optional<HostReport>{std::move(host)};
    }
  }
}

int run_with_probes(Options options, const HostReport& host, StopSignal& stop, Web* web) {
  auto probed = setup::probe_and_plan(probe_options(options));
  if (!probed) {
    spdlog::error("{}", probed.error().message);
    return 1;
  }
  if (probed->plan.served_count() == 0) {
    log_plan(probed->plan);
    spdlog::error(
        "no hook can attach on this kernel (see `tdpwatchd features`); "
        "--no-probes watches debugfs and meminfo only");
    return 1;
  }
  probes::LoaderOptions lo;
  lo.ringbuf_bytes = options.ringbuf_bytes;
  lo.emit_leaf_sptes = options.record_spte_stream;
  auto chain = setup::load_probes(*probed, lo);
  if (!chain) {
    log_plan(probed->plan);
    spdlog::error("{}", chain.error().message);
    return 1;
  }
  for (const std::string& f : chain->fallbacks) spdlog::warn("load: {}", f);
  const probes::AttachPlan& plan = chain->plan;
  log_plan(plan);
  probes::LoadedProbes& loaded = chain->probes;
  for (const auto& a : loaded.attached()) spdlog::debug("attached {} to {}", a.program, a.target);
  spdlog::info("probes attached: {} programs, ring buffer {} KiB", loaded.attached().size(),
               loaded.ringbuf_bytes() / 1024);

  core::Model model(plan.model);
  std::optional<replay::Writer> writer;
  if (!options.record.empty()) {
    auto w = replay::Writer::create(options.record, setup::recording_info(plan));
    if (!w) {
      spdlog::error("--record: {}", w.error().message);
      return 1;
    }
    writer.emplace(std::move(*w));
    spdlog::info("recording every event to {}", options.record);
  }

  SnapshotBuilder builder(options.paths, TDPW_VERSION, host.kernel_release,
                          options.leak_retention_seconds);
  builder.set_kvm(kvm_presence(host));
  std::optional<Publisher> publisher;
  ReconcileTick reconcile(options.paths, options.reconcile_grace_seconds,
                          ReconcileTick::PlanReach::of(plan), host.kvm.tdp_mmu() == false);
  probes::LoopConfig lc;
  lc.review_teardown = [&](core::LeakRecord& leak) { reconcile.review_teardown(leak, loaded); };
  lc.interval = seconds(options.interval_seconds);
  lc.paths = options.paths;
  if (web != nullptr) {
    lc.on_teardown = [&builder](const core::LeakRecord& leak) {
      builder.on_teardown(leak, unix_now());
    };
    lc.on_batch = [&publisher] { return publisher->on_batch(); };
  }
  auto loop = probes::EventLoop::create(loaded, plan, model, writer ? &*writer : nullptr, lc);
  if (!loop) {
    spdlog::error("{}", loop.error().message);
    return 1;
  }
  reconcile.enable_audits(loaded, options.audit_interval_seconds, options.adopt);
  if (web != nullptr) {
    publisher.emplace(builder, *web->store,
                      SnapshotSources{.plan = &plan,
                                      .loop = &*loop,
                                      .model = &model,
                                      .ringbuf_bytes = loaded.ringbuf_bytes(),
                                      .reconciler = &reconcile.reconciler(),
                                      .audit = [&reconcile](std::uint64_t vm) {
                                        return reconcile.audit(vm);
                                      }});
  }
  // Attached, listening, uevent socket open: from here on only open fds.
  drop_unneeded_caps(true, host.kernel_release, options.paths.procfs);

  Watcher watcher(options.paths);
  // /dev/kvm may come (a vendor module loaded later) or go: the probes are
  // attached either way; the device only says whether a VM can exist.
  HostReport current = host;
  auto document = [&](const PollResult& poll) {
    return render_json(current, poll,
                       render_probes_json(plan, *loop, model, &reconcile.reconciler()));
  };
  auto finish = [&]() {
    const probes::LoopStats& st = loop->stats();
    spdlog::info("events processed {}, lost {}, VMs created {}, destroyed {} ({} with leaks)",
                 st.events, st.events_lost, st.vms_created, st.vms_destroyed, st.leaky_teardowns);
    if (writer) {
      if (auto s = writer->close(); !s) {
        spdlog::error("--record: {}", s.error().message);
        return 1;
      }
      spdlog::info("recorded {} events to {}", writer->records_written(), options.record);
    }
    return 0;
  };

  if (options.once) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(options.once_window_seconds);
    auto r = loop->run(stop.fd(), deadline, nullptr);
    while (r && *r == SIGHUP) r = loop->run(stop.fd(), deadline, nullptr);  // no reload in --once
    if (!r) {
      spdlog::error("{}", r.error().message);
      return 1;
    }
    loop->refresh_maps();
    const PollResult poll = watcher.poll(current.dev_kvm);
    log_poll(poll);
    reconcile.run(model, *loop, poll, builder);  // the kernel's figures, as every tick has them
    const int rc = finish();
    return print_once(document(poll)) | rc;
  }

  spdlog::info("watching; periodic work every {} s", options.interval_seconds);
  auto tick = [&]() {
    if (const bool dev = dev_kvm_present(); dev != current.dev_kvm) {
      current.dev_kvm = dev;
      current.kvm_unavailable = kvm_unavailable_reason(current.kvm, dev);
      if (dev) {
        spdlog::info("KVM: {} appeared: VMs can be created now", kDevKvm);
      } else {
        spdlog::warn("{}", current.kvm_unavailable);
      }
      builder.set_kvm(kvm_presence(current));
    }
    const PollResult poll = watcher.poll(current.dev_kvm);
    log_poll(poll);
    builder.set_poll(poll, unix_now());
    if (web != nullptr && web->store->take_audit_request()) reconcile.request_audit();
    reconcile.run(model, *loop, poll, builder);
    if (writer) (void)writer->flush();
    if (!options.status_file.empty()) write_status(options.status_file, document(poll));
  };
  tick();
  if (publisher) publisher->publish_now();
  notify(fmt::format("READY=1\nSTATUS=watching: {} of {} hooks attached ({} programs)",
                     plan.served_count(), plan.hooks.size(), loaded.attached().size()));
  auto r = loop->run(stop.fd(), std::nullopt, tick);
  while (r && *r == SIGHUP) {
    if (reload_all(options, web)) {
      builder.set_leak_retention(options.leak_retention_seconds);
      if (auto s = loop->set_interval(seconds(options.interval_seconds)); !s) {
        spdlog::warn("SIGHUP: --interval not applied: {}", s.error().message);
      }
    }
    r = loop->run(stop.fd(), std::nullopt, tick);
  }
  notify("STOPPING=1");
  if (!r) {
    spdlog::error("{}", r.error().message);
    return 1;
  }
  spdlog::info("stopping on {}", sigabbrev_np(*r));
  return finish();
}

}  // namespace

int run(const Options& options) {
  if (options.features) return run_features(options);
  auto stop = StopSignal::install();
  if (!stop) {
    spdlog::error("{}", stop.error().message);
    return 1;
  }
  auto host = check_host(options.paths);
  if (!host) {
    spdlog::error("{}", host.error().message);
    return 1;
  }
  log_host(*host);
  // Before the probes: a port in use fails fast, with nothing attached.
  std::optional<Web> web;
  if (!options.once && !options.web_config_file.empty()) {
    // A bad web config is a bad configuration (exit 2), like a bad flag.
    if (auto c = exporter::load_web_config(options.web_config_file); !c) {
      spdlog::error("{}", c.error().message);
      return kExitUsage;
    }
  }
  if (!options.once) {
    auto w = start_web(options);
    if (!w) {
      spdlog::error("{}", w.error().message);
      return 1;
    }
    web.emplace(std::move(*w));
  }
  Web* const served = web ? &*web : nullptr;
  if (options.no_probes || !host->live) {
    if (!options.no_probes) spdlog::warn("fixture tree (--path.*): probes not loaded");
    return run_watcher_only(options, *host, *stop, served);
  }
  if (!host->kvm.kvm) {
    // --once reports the host as it is: no KVM, no VM.
    if (options.once) return run_watcher_only(options, *host, *stop, served);
    Options waiting = options;  // SIGHUP reloads apply to the run that follows
    auto ready = wait_for_kvm(waiting, *host, *stop, served);
    if (!ready) {
      spdlog::error("{}", ready.error().message);
      return 1;
    }
    if (!*ready) return 0;
    return run_with_probes(waiting, **ready, *stop, served);
  }
  return run_with_probes(options, *host, *stop, served);
}

}  // namespace tdpwatch::tdpwatchd
