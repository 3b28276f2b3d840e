/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The pfn of a page table, for hooks that only have its struct kvm_mmu_page.
 *
 * sp->spt is a direct-map address, so pfn = (sp->spt - PAGE_OFFSET) >> 12,
 * where PAGE_OFFSET is the kernel variable page_offset_base under
 * CONFIG_RANDOMIZE_MEMORY (KASLR of the direct map).  The programs learn it,
 * first source that works wins, and keep it in .bss (learned_page_offset,
 * visible to userspace as skel->bss->learned_page_offset):
 *  1. the loader's page_offset_base_addr knob: the variable's address from
 *     /proc/kallsyms, read here with bpf_probe_read_kernel().  Only kernels
 *     with CONFIG_KALLSYMS_ALL list data symbols (Debian's do; this project's
 *     6.18 hosts do not, and have no /proc/kcore either);
 *  2. a linked page's parent SPTE, which holds __pa(sp->spt): link_sp reads
 *     *iter->sptep after the link; get_page (cache hits) and zap_page read a
 *     shadow page's parent through sp->parent_ptes.  Tried only until known.
 * A value is accepted only if it looks like a direct-map base: in the kernel
 * half and 1 GiB aligned (kernel_randomize_memory() aligns to PUD_SIZE).
 * Until then pfn is 0 ("unknown"): the model keys such pages by sp alone.
 * Limitation: on hosts whose SPTEs carry a memory-encryption bit (SME/SEV
 * C-bit) inside bits 12-51, learning from SPTEs would be wrong; such hosts
 * need the kallsyms knob.
 */
#ifndef TDPWATCH_BPF_HANDLERS_PAGE_OFFSET_BPF_H
#define TDPWATCH_BPF_HANDLERS_PAGE_OFFSET_BPF_H

#include "kvm_compat.bpf.h"
#include "handlers/maps.bpf.h"

__u64 learned_page_offset = 0;

static __always_inline void tdpw_set_page_offset(__u64 po)
{
	if (!tdpw_page_offset_plausible(po))
		return;
	learned_page_offset = po;
	tdpw_stat_inc(TDPW_STAT_PAGE_OFFSET_LEARNED);
}

static __always_inline __u64 tdpw_page_offset(void)
{
	__u64 po = learned_page_offset;

	if (po || !page_offset_base_addr)
		return po;
	if (bpf_probe_read_kernel(&po, sizeof(po), (void *)page_offset_base_addr) == 0)
		tdpw_set_page_offset(po);
	return learned_page_offset;
}

/* spte: a present non-leaf SPTE known to point at the table at spt. */
static __always_inline void tdpw_learn_page_offset(__u64 spt, __u64 spte)
{
	if (learned_page_offset || !spt || !(spte & TDPW_SPTE_PRESENT))
		return;
	tdpw_set_page_offset(spt - (spte & TDPW_SPTE_ADDR_MASK));
}

static __always_inline void tdpw_learn_page_offset_shadow(struct kvm_mmu_page *sp, __u64 spt)
{
	if (learned_page_offset)
		return;
	tdpw_learn_page_offset(spt, tdpw_shadow_parent_spte(sp));
}

static __always_inline __u64 tdpw_spt_to_pfn(__u64 spt)
{
	__u64 po = tdpw_page_offset();

	if (!po || spt < po)
		return 0;
	return (spt - po) >> 12;
}

#endif /* TDPWATCH_BPF_HANDLERS_PAGE_OFFSET_BPF_H */
