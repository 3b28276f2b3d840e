/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Indices of the BPF programs' per-CPU `stats` array (bpf/handlers/maps.bpf.h):
 * the probes' own health, summed over CPUs by userspace.  Same rules as
 * tdpw_events.h: no includes, usable from BPF C and from C++.
 */
#ifndef TDPWATCH_BPF_TDPW_STATS_H
#define TDPWATCH_BPF_TDPW_STATS_H

enum tdpw_stat {
	TDPW_STAT_RINGBUF_DROPS = 0,  /* bpf_ringbuf_reserve() failed (event counted, detail lost) */
	TDPW_STAT_COUNTERS_FULL = 1,  /* vm_counters had no room for a new VM key: not counted */
	TDPW_STAT_OWNER_MISSES = 2,   /* zap of a page with no page_owner entry: current tgid used */
	TDPW_STAT_STASH_MISSES = 3,   /* kretprobe without its kprobe's stash: event lost */
	TDPW_STAT_TRUTH_FULL = 4,     /* kernel_truth had no room for a new VM key */
	TDPW_STAT_PAGE_OFFSET_LEARNED = 5, /* times PAGE_OFFSET was learned (0 or a few) */
	TDPW_STAT_OWNER_FULL = 6,     /* page_owner had no room: that page's zap uses the current tgid */
	TDPW_STAT_CONTEXT_FULL = 7,   /* thread_vm had no room: that thread's SPTE changes go by tgid */
	TDPW_STAT_MAX = 8,
};

#endif /* TDPWATCH_BPF_TDPW_STATS_H */
