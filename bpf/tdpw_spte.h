/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The SPTE bits tdpwatch decodes, defined once for the BPF programs
 * (kvm_compat.bpf.h) and the accounting core (daemon/core/spte.h).  Like
 * tdpw_events.h: no includes, usable from BPF C and from C++.
 * Mirrors arch/x86/kvm/mmu/spte.h (6.1-6.18; the values did not change).
 */
#ifndef TDPWATCH_BPF_TDPW_SPTE_H
#define TDPWATCH_BPF_TDPW_SPTE_H

/* SPTE_MMU_PRESENT_MASK: bit 11, set in every shadow-present SPTE (5.13+). */
#define TDPW_SPTE_PRESENT (1ULL << 11)
/* PT_PAGE_SIZE_MASK: bit 7, a huge (2M/1G) leaf. */
#define TDPW_SPTE_HUGE (1ULL << 7)
/* SPTE_BASE_ADDR_MASK: physical address bits 12..51. */
#define TDPW_SPTE_ADDR_MASK (((1ULL << 52) - 1) & ~0xfffULL)
/* SHADOW_NONPRESENT_VALUE: BIT_ULL(63) on x86-64 from 6.10, 0 before. */
#define TDPW_SHADOW_NONPRESENT_VALUE (1ULL << 63)
/* REMOVED_SPTE (until 6.10); FROZEN_SPTE (6.11+) is SHADOW_NONPRESENT_VALUE | 0x5a0. */
#define TDPW_REMOVED_SPTE_LEGACY 0x5a0ULL
#define TDPW_FROZEN_SPTE (TDPW_SHADOW_NONPRESENT_VALUE | TDPW_REMOVED_SPTE_LEGACY)

#endif /* TDPWATCH_BPF_TDPW_SPTE_H */
