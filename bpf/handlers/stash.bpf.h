/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * kprobe -> kretprobe hand-over: a kretprobe sees only the return value, so
 * the `<hook>__kprobe` program of a return hook stashes the arguments under
 * the thread's pid_tgid and the `<hook>__kretprobe` program takes them back.
 */
#ifndef TDPWATCH_BPF_HANDLERS_STASH_BPF_H
#define TDPWATCH_BPF_HANDLERS_STASH_BPF_H

#include "handlers/maps.bpf.h"

static __always_inline __u64 tdpw_stash_key(enum tdpw_stash_hook hook)
{
	return bpf_get_current_pid_tgid() | ((__u64)hook << 56);
}

static __always_inline void tdpw_stash_put(enum tdpw_stash_hook hook, __u64 kvm, __u64 iter,
					   __u64 sp, __u64 account_nx)
{
	struct tdpw_stash s = { .kvm = kvm, .iter = iter, .sp = sp, .account_nx = account_nx };
	__u64 key = tdpw_stash_key(hook);

	bpf_map_update_elem(&kprobe_stash, &key, &s, BPF_ANY);
}

/* Moves the stash into *out; false (counted) if there was none. */
static __always_inline bool tdpw_stash_take(enum tdpw_stash_hook hook, struct tdpw_stash *out)
{
	__u64 key = tdpw_stash_key(hook);
	struct tdpw_stash *s = bpf_map_lookup_elem(&kprobe_stash, &key);

	if (!s) {
		tdpw_stat_inc(TDPW_STAT_STASH_MISSES);
		return false;
	}
	*out = *s;
	bpf_map_delete_elem(&kprobe_stash, &key);
	return true;
}

#endif /* TDPWATCH_BPF_HANDLERS_STASH_BPF_H */
