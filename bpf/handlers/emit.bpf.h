/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Counting and emitting.  Every event is first counted in vm_counters (which
 * never loses anything but a new key when the map is full), then reserved in
 * the ring buffer; a failed reserve counts dropped[type], so userspace always
 * has events[t] == delivered[t] + dropped[t].
 */
#ifndef TDPWATCH_BPF_HANDLERS_EMIT_BPF_H
#define TDPWATCH_BPF_HANDLERS_EMIT_BPF_H

#include "kvm_compat.bpf.h"
#include "handlers/maps.bpf.h"
#include "handlers/page_offset.bpf.h"

/* The initial value of a new vm_counters entry (.bss: all zero; static, so not in the skeleton). */
static struct tdpw_vm_counters tdpw_zero_counters;

/* Counts one event of `type` for `key`; the entry, for the per-type deltas (NULL if full). */
static __always_inline struct tdpw_vm_counters *tdpw_count(__u64 key, __u32 type)
{
	struct tdpw_vm_counters *c = bpf_map_lookup_elem(&vm_counters, &key);

	if (!c) {
		bpf_map_update_elem(&vm_counters, &key, &tdpw_zero_counters, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&vm_counters, &key);
		if (!c) {
			tdpw_stat_inc(TDPW_STAT_COUNTERS_FULL);
			return NULL;
		}
	}
	if (type < TDPW_EV_TYPE_MAX)
		c->events[type] += 1;
	return c;
}

/* A zeroed record with its header filled, or NULL (counted as dropped). */
static __always_inline struct tdpw_event *tdpw_reserve(struct tdpw_vm_counters *c, __u64 key,
						       __u32 type, __u32 tgid)
{
	struct tdpw_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		if (c && type < TDPW_EV_TYPE_MAX)
			c->dropped[type] += 1;
		tdpw_stat_inc(TDPW_STAT_RINGBUF_DROPS);
		return NULL;
	}
	ev->type = type;
	ev->flags = 0;
	ev->level = 0;
	ev->as_id = 0;
	ev->mmu_type = 0;
	ev->cpu = bpf_get_smp_processor_id();
	ev->tgid = tgid;
	ev->crc = 0;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->vm = key;
	return ev;
}

/*
 * Wakeups.  A plain submit wakes the reader whenever it had caught up (the
 * ring was empty): an irq_work, which costs a self-IPI, measured at ~8 us
 * per record under this project's Firecracker hosts, against ~80 ns for the
 * whole handler.  So the SPTE stream (the hot one) submits with
 * BPF_RB_NO_WAKEUP and forces a wakeup only when the unread data crosses a
 * multiple of wakeup_bytes, or when no SPTE record has woken the reader for
 * TDPW_WAKEUP_AGE_NS.  Records left behind by a burst's end are read at the
 * next wakeup: the reader's periodic tick, a uevent, or any other record
 * (page events submit with the default policy, VM create/destroy force a
 * wakeup, and a wakeup drains everything before it).
 */
#define TDPW_WAKEUP_AGE_NS (100ULL * 1000 * 1000)
#define TDPW_RB_RECORD_BYTES (sizeof(struct tdpw_event) + 8) /* + BPF_RINGBUF_HDR_SZ */

/* When an SPTE record last forced a wakeup (racy on purpose: a hint). */
__u64 tdpw_last_wakeup_ns = 0;

static __always_inline void tdpw_submit_bulk(struct tdpw_event *ev)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 ts = ev->ts_ns;

	if ((avail >= wakeup_bytes && (avail & (wakeup_bytes - 1)) < TDPW_RB_RECORD_BYTES) ||
	    ts - tdpw_last_wakeup_ns > TDPW_WAKEUP_AGE_NS) {
		tdpw_last_wakeup_ns = ts;
		bpf_ringbuf_submit(ev, BPF_RB_FORCE_WAKEUP);
		return;
	}
	bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP);
}

/* Fills the page payload (and level/as_id/mmu_type) of a page event. */
static __always_inline void tdpw_fill_page(struct tdpw_event *ev, __u64 sp,
					   const struct tdpw_sp_info *info, __u8 flags,
					   __s32 value)
{
	ev->flags = flags | (info->nx_disallowed ? TDPW_F_NX_DISALLOWED : 0);
	ev->level = tdpw_role_level(info->role);
	ev->as_id = tdpw_role_as_id(info->role);
	ev->mmu_type = info->tdp ? TDPW_MMU_TDP : TDPW_MMU_SHADOW;
	ev->page.sp = sp;
	ev->page.pfn = tdpw_spt_to_pfn(info->spt);
	ev->page.gfn = info->gfn;
	ev->page.role = info->role;
	ev->page.value = (flags & TDPW_F_VALUE_VALID) ? value : 0;
}

/* Counts, reserves, fills and submits one page event. */
static __always_inline void tdpw_emit_page(struct tdpw_vm_counters *c, __u64 key, __u32 type,
					   __u32 tgid, __u64 sp, const struct tdpw_sp_info *info,
					   __u8 flags, __s32 value)
{
	struct tdpw_event *ev = tdpw_reserve(c, key, type, tgid);

	if (!ev)
		return;
	tdpw_fill_page(ev, sp, info, flags, value);
	bpf_ringbuf_submit(ev, 0);
}

#endif /* TDPWATCH_BPF_HANDLERS_EMIT_BPF_H */
