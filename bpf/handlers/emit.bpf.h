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
