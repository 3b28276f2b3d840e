/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The records of bpf/vm_tables_iter.bpf.c: every live VM's MMU structure as
 * the kernel holds it, read on demand (tdpwatch audit, and the reconciler's
 * audits; daemon/probes/vm_tables_iter.h).  Per VM file: one TDPW_TABLE_VM
 * record, its TDP roots, the non-root TDP tables found by walking down from
 * each root through present non-leaf SPTEs, the pages on its possible-NX
 * list(s), and one TDPW_TABLE_END saying whether the walk was complete.
 * Same rules as tdpw_events.h (no includes, fixed-width fields, size checked
 * by both compilers); include tdpw_events.h first.
 */
#ifndef TDPWATCH_BPF_TDPW_TABLE_ITER_H
#define TDPWATCH_BPF_TDPW_TABLE_ITER_H

enum tdpw_table_kind {
	TDPW_TABLE_VM = 1,   /* kvm, tgid; value = the record format version */
	TDPW_TABLE_ROOT = 2, /* a root of kvm->arch.tdp_mmu_roots: sp, pfn, role; value = refcount */
	TDPW_TABLE_PAGE = 3, /* a non-root table under a present non-leaf SPTE: pfn, gfn, level, as_id */
	TDPW_TABLE_NX = 4,   /* on a possible-NX list: sp, pfn, gfn, role */
	TDPW_TABLE_END = 5,  /* value = enum tdpw_table_status; gfn = the PAGE_OFFSET walked with, 0 if unknown */
	TDPW_TABLE_SHADOW = 6, /* a shadow MMU page of kvm->arch.active_mmu_pages: sp, gfn, role; value = root_count */
};

enum tdpw_table_status {
	TDPW_TABLE_COMPLETE = 0,
	TDPW_TABLE_NO_PAGE_OFFSET = 1, /* the direct map's base is unknown: roots only */
	TDPW_TABLE_READ_FAULT = 2,     /* a table could not be read (freed under the walk) */
	TDPW_TABLE_TOO_LONG = 3,       /* the step budget ran out */
};

/* tdpw_table_record.flags */
#define TDPW_TABLE_F_ROOT_INVALID (1u << 0) /* root->role.invalid */
#define TDPW_TABLE_F_NX_DISALLOWED (1u << 1)
#define TDPW_TABLE_F_NX_TRACKED (1u << 2) /* shadow page on its possible-NX list */

struct tdpw_table_record {
	__u64 kvm;   /* struct kvm * */
	__u64 sp;    /* struct kvm_mmu_page * (roots, NX entries), 0 for walked tables */
	__u64 pfn;   /* frame of the table; 0 if unknown */
	__u64 gfn;   /* first gfn the table maps */
	__u32 role;  /* sp->role.word (roots, NX entries), 0 for walked tables */
	__s32 value; /* per kind, see above */
	__u8 kind;   /* enum tdpw_table_kind */
	__u8 level;  /* of the table: 1 maps 4K pages */
	__u8 as_id;  /* address space: 0, or 1 for SMM */
	__u8 flags;  /* TDPW_TABLE_F_* */
	__u32 tgid;  /* the process holding the VM file */
};

#ifdef __cplusplus
static_assert(sizeof(struct tdpw_table_record) == 48, "table iter record layout");
#else
_Static_assert(sizeof(struct tdpw_table_record) == 48, "table iter record layout");
#endif

#endif /* TDPWATCH_BPF_TDPW_TABLE_ITER_H */
