// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Every live VM's TDP MMU structure, as the kernel holds it now: a
 * task_file iterator that finds each process's KVM VM files (as
 * vm_truth_iter.bpf.c does) and, per VM, writes (bpf/tdpw_table_iter.h):
 *  - each root of kvm->arch.tdp_mmu_roots (valid or invalid, with its
 *    refcount), 6.1-6.18;
 *  - every non-root table, found by walking down from each root through
 *    present non-leaf SPTEs, as tdp_iter does (arch/x86/kvm/mmu/tdp_iter.c):
 *    level-1 tables are listed from their parent's entries, never read, so
 *    a 64 GiB VM mapped with 4K pages costs ~70 table reads, not 32k;
 *  - the pages on the possible-NX list(s): 6.1's lpage_disallowed_mmu_pages,
 *    6.2-6.17's possible_nx_huge_pages, 6.18's per-MMU-type arrays;
 *  - the shadow MMU's pages, kvm->arch.active_mmu_pages (on hosts without
 *    the TDP MMU all of them; with it, those of nested guests).
 * Leaf counts are not walked: the kernel keeps them (stat.pages[]).
 *
 * Nothing is locked: tables may be zapped while they are read (RCU frees
 * them, so a read never faults into nothing, but may see a table being torn
 * down).  Callers compare two walks, or a walk with the events that follow
 * (daemon/probes/vm_tables_iter.h).  A table's kernel address is
 * PAGE_OFFSET + (pfn << 12): PAGE_OFFSET from page_offset_base (its
 * address from /proc/kallsyms, set by userspace), a value userspace
 * learned elsewhere (the probes' learned_page_offset), or a vCPU's root
 * (tdpw_page_offset_from_vcpu0); the END record says which base was used.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kvm_compat.bpf.h"
#include "kvm_vm_file.bpf.h"
#include "tdpw_table_iter.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by userspace before each read (skel->bss). */
__u64 page_offset_base_addr = 0; /* &page_offset_base, from /proc/kallsyms; 0 if not listed */
__u64 page_offset_hint = 0;      /* PAGE_OFFSET if known otherwise; 0 if not */

#define TDPW_ENTRIES 512
#define TDPW_MAX_DEPTH 5
#define TDPW_MAX_ROOTS 64
#define TDPW_MAX_STEPS (1 << 22)
#define TDPW_MAX_NX (1 << 20)

struct tdpw_walk_frame {
	__u64 gfn;   /* first gfn of the table */
	__u32 level; /* of the table */
	__u32 index; /* next entry to look at */
};

/* Per CPU: the tables on the walk's path (one 4 KiB copy per depth). */
struct tdpw_walk_state {
	__u64 entries[TDPW_MAX_DEPTH][TDPW_ENTRIES];
	struct tdpw_walk_frame frames[TDPW_MAX_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tdpw_walk_state);
} walk_state SEC(".maps");

/* What the bpf_loop callbacks share with the program. */
struct tdpw_walk_ctx {
	struct seq_file *seq;
	struct tdpw_walk_state *st;
	struct tdpw_table_record rec; /* kvm, tgid filled in; the rest per record */
	__u64 page_offset;
	__u64 list_head; /* list walks: the head's address */
	__u64 node;      /* list walks: the current node */
	__s32 depth;     /* -1: the root's walk is done */
	__u8 as_id;
	__s32 status;    /* enum tdpw_table_status */
};


/* The frame of a page table from its direct-map address (sp->spt), 0 if unknown. */
static __always_inline __u64 tdpw_walk_pfn(const struct tdpw_walk_ctx *c, __u64 spt)
{
	return c->page_offset && spt > c->page_offset ? (spt - c->page_offset) >> 12 : 0;
}

static __always_inline void tdpw_emit(struct tdpw_walk_ctx *c)
{
	bpf_seq_write(c->seq, &c->rec, sizeof(c->rec));
}

/* 512^(level - 1) gfns per entry of a level-`level` table (level 1..5). */
static __always_inline __u64 tdpw_gfns_per_entry(__u32 level)
{
	return 1ULL << (9 * ((level - 1) & 7));
}

/* Copies the table at pfn into the walk state at `depth`; false if it cannot be read. */
static __always_inline bool tdpw_read_table(struct tdpw_walk_ctx *c, __s32 depth, __u64 pfn)
{
	if (depth < 0 || depth >= TDPW_MAX_DEPTH)
		return false;
	return bpf_probe_read_kernel(c->st->entries[depth], sizeof(c->st->entries[0]),
				     (void *)(c->page_offset + (pfn << 12))) == 0;
}

/*
 * One step of the walk: the next entry of the deepest table on the path.
 * A present non-leaf entry of a level-L table (L >= 2) points at a level
 * L-1 table: listed, and descended into unless it is level 1.
 */
static long tdpw_walk_step(__u64 i, void *arg)
{
	struct tdpw_walk_ctx *c = arg;
	struct tdpw_walk_frame *f;
	__s32 d = c->depth;
	__u64 spte, pfn;
	__u32 idx, level;

	if (d < 0 || d >= TDPW_MAX_DEPTH)
		return 1;
	f = &c->st->frames[d];
	idx = f->index;
	if (idx >= TDPW_ENTRIES) {
		c->depth = d - 1;
		return 0;
	}
	f->index = idx + 1;
	level = f->level;
	spte = c->st->entries[d][idx & (TDPW_ENTRIES - 1)];
	/* is_shadow_present_pte() && !is_last_spte(): a table hangs here. */
	if (level < 2 || !(spte & TDPW_SPTE_PRESENT) || (spte & TDPW_SPTE_HUGE))
		return 0;
	pfn = (spte & TDPW_SPTE_ADDR_MASK) >> 12;
	c->rec.kind = TDPW_TABLE_PAGE;
	c->rec.sp = 0;
	c->rec.pfn = pfn;
	c->rec.gfn = f->gfn + (__u64)idx * tdpw_gfns_per_entry(level);
	c->rec.role = 0;
	c->rec.value = 0;
	c->rec.level = level - 1;
	c->rec.as_id = c->as_id;
	c->rec.flags = 0;
	tdpw_emit(c);
	if (level - 1 < 2 || d + 1 >= TDPW_MAX_DEPTH)
		return 0;
	if (!tdpw_read_table(c, d + 1, pfn)) {
		c->status = TDPW_TABLE_READ_FAULT;
		return 0;
	}
	if (d + 1 < TDPW_MAX_DEPTH) {
		c->st->frames[d + 1].gfn = c->rec.gfn;
		c->st->frames[d + 1].level = level - 1;
		c->st->frames[d + 1].index = 0;
		c->depth = d + 1;
	}
	return 0;
}

/* The root at node (its struct kvm_mmu_page's `link`): listed, then walked. */
static long tdpw_root_step(__u64 i, void *arg)
{
	struct tdpw_walk_ctx *c = arg;
	struct kvm_mmu_page *root;
	__u64 next = 0, spt;
	__u32 role;

	if (!c->node || c->node == c->list_head)
		return 1;
	root = (void *)(c->node - bpf_core_field_offset(struct kvm_mmu_page, link));
	role = tdpw_role_word(BPF_CORE_READ(root, role.word));
	spt = (__u64)BPF_CORE_READ(root, spt);
	c->rec.kind = TDPW_TABLE_ROOT;
	c->rec.sp = (__u64)root;
	c->rec.pfn = tdpw_walk_pfn(c, spt);
	c->rec.gfn = BPF_CORE_READ(root, gfn);
	c->rec.role = role;
	c->rec.value = BPF_CORE_READ(root, tdp_mmu_root_count.refs.counter);
	c->rec.level = tdpw_role_level(role);
	c->rec.as_id = tdpw_role_as_id(role);
	c->rec.flags = tdpw_role_invalid(role) ? TDPW_TABLE_F_ROOT_INVALID : 0;
	tdpw_emit(c);

	if (!c->page_offset && c->rec.level >= 2)
		c->status = TDPW_TABLE_NO_PAGE_OFFSET; /* a root whose tables cannot be read */
	if (c->rec.pfn && c->rec.level >= 2 && c->rec.level <= TDPW_MAX_DEPTH) {
		if (tdpw_read_table(c, 0, c->rec.pfn)) {
			c->st->frames[0].gfn = 0;
			c->st->frames[0].level = c->rec.level;
			c->st->frames[0].index = 0;
			c->depth = 0;
			c->as_id = c->rec.as_id;
			bpf_loop(TDPW_MAX_STEPS, tdpw_walk_step, c, 0);
			if (c->depth >= 0 && c->status == TDPW_TABLE_COMPLETE)
				c->status = TDPW_TABLE_TOO_LONG;
		} else {
			c->status = TDPW_TABLE_READ_FAULT;
		}
	}
	bpf_probe_read_kernel(&next, sizeof(next), (void *)c->node);
	c->node = next;
	return 0;
}

/* One sp on a possible-NX list; `link_offset`: offset of the list link in the sp. */
static __always_inline long tdpw_nx_entry(struct tdpw_walk_ctx *c, __u32 link_offset)
{
	struct kvm_mmu_page *sp;
	__u64 next = 0, spt;

	if (!c->node || c->node == c->list_head)
		return 1;
	sp = (void *)(c->node - link_offset);
	spt = (__u64)BPF_CORE_READ(sp, spt);
	c->rec.kind = TDPW_TABLE_NX;
	c->rec.sp = (__u64)sp;
	c->rec.pfn = tdpw_walk_pfn(c, spt);
	c->rec.gfn = BPF_CORE_READ(sp, gfn);
	c->rec.role = tdpw_role_word(BPF_CORE_READ(sp, role.word));
	c->rec.value = BPF_CORE_READ(sp, tdp_mmu_page) ? TDPW_MMU_TDP : TDPW_MMU_SHADOW;
	c->rec.level = tdpw_role_level(c->rec.role);
	c->rec.as_id = tdpw_role_as_id(c->rec.role);
	c->rec.flags = TDPW_TABLE_F_NX_DISALLOWED;
	tdpw_emit(c);
	bpf_probe_read_kernel(&next, sizeof(next), (void *)c->node);
	c->node = next;
	return 0;
}

/* One shadow page of kvm->arch.active_mmu_pages (linked by sp->link). */
static long tdpw_shadow_step(__u64 i, void *arg)
{
	struct tdpw_walk_ctx *c = arg;
	struct kvm_mmu_page *sp;
	struct tdpw_sp_info info;
	__u64 next = 0;

	if (!c->node || c->node == c->list_head)
		return 1;
	sp = (void *)(c->node - bpf_core_field_offset(struct kvm_mmu_page, link));
	tdpw_read_sp(sp, &info);
	c->rec.kind = TDPW_TABLE_SHADOW;
	c->rec.sp = (__u64)sp;
	c->rec.pfn = tdpw_walk_pfn(c, info.spt);
	c->rec.gfn = info.gfn;
	c->rec.role = info.role;
	c->rec.value = tdpw_sp_root_count(sp);
	c->rec.level = tdpw_role_level(info.role);
	c->rec.as_id = tdpw_role_as_id(info.role);
	c->rec.flags = (info.nx_disallowed ? TDPW_TABLE_F_NX_DISALLOWED : 0) |
		       (tdpw_sp_on_nx_list(sp) ? TDPW_TABLE_F_NX_TRACKED : 0);
	tdpw_emit(c);
	bpf_probe_read_kernel(&next, sizeof(next), (void *)c->node);
	c->node = next;
	return 0;
}

static long tdpw_nx_step_v61(__u64 i, void *arg)
{
	return tdpw_nx_entry(arg, bpf_core_field_offset(struct kvm_mmu_page___v61, lpage_disallowed_link));
}

static long tdpw_nx_step(__u64 i, void *arg)
{
	return tdpw_nx_entry(arg, bpf_core_field_offset(struct kvm_mmu_page___v62, possible_nx_huge_page_link));
}

/* 6.18: possible_nx_huge_pages[KVM_NR_MMU_TYPES] of {pages, nr_pages}. */
struct kvm_possible_nx_huge_pages___v618 {
	struct list_head pages;
	u64 nr_pages;
} __attribute__((preserve_access_index));

struct kvm_arch___v618 {
	struct kvm_possible_nx_huge_pages___v618 possible_nx_huge_pages[2];
} __attribute__((preserve_access_index));

struct kvm_arch___v62 {
	struct list_head possible_nx_huge_pages;
} __attribute__((preserve_access_index));

struct kvm___v62 {
	struct kvm_arch___v62 arch;
} __attribute__((preserve_access_index));

struct kvm___v618 {
	struct kvm_arch___v618 arch;
} __attribute__((preserve_access_index));

static __always_inline void tdpw_walk_list(struct tdpw_walk_ctx *c, __u64 head, bool v61)
{
	__u64 first = 0;

	if (bpf_probe_read_kernel(&first, sizeof(first), (void *)head))
		return;
	c->list_head = head;
	c->node = first;
	bpf_loop(TDPW_MAX_NX, v61 ? tdpw_nx_step_v61 : tdpw_nx_step, c, 0);
}

static __always_inline void tdpw_walk_nx_lists(struct tdpw_walk_ctx *c, struct kvm *kvm)
{
	if (bpf_core_type_exists(struct kvm_possible_nx_huge_pages)) {
		struct kvm___v618 *k = (void *)kvm;

		tdpw_walk_list(c, (__u64)&k->arch.possible_nx_huge_pages[0].pages, false);
		tdpw_walk_list(c, (__u64)&k->arch.possible_nx_huge_pages[1].pages, false);
	} else if (tdpw_kernel_is_61()) {
		struct kvm___v61 *k = (void *)kvm;

		tdpw_walk_list(c, (__u64)&k->arch.lpage_disallowed_mmu_pages, true);
	} else {
		struct kvm___v62 *k = (void *)kvm;

		tdpw_walk_list(c, (__u64)&k->arch.possible_nx_huge_pages, false);
	}
}

/*
 * PAGE_OFFSET from vCPU 0's TDP root: vcpu->arch.root_mmu.root.hpa is
 * __pa(root->spt) of one root on kvm->arch.tdp_mmu_roots (kvm_tdp_mmu_get_vcpu_root_hpa(),
 * 6.1-7.2), so root->spt - hpa is the direct map's base.  For hosts where
 * neither kallsyms (not listed, or hidden: systemd's ProtectKernelTunables=
 * makes /proc/kallsyms unreadable) nor an SPTE change taught it, e.g. a quiet
 * VM found by a daemon restarted under its unit.  Only a unique plausible
 * pairing counts (a wrong root's spt - hpa is 1 GiB aligned by chance alone).
 * One vCPU only: each costs verifier steps, and 7.2's verifier refused the
 * whole walk (E2BIG) with 8.  A vCPU 0 without a loaded root leaves this
 * walk "roots only"; a later walk learns the base.
 */
#define TDPW_XA_NODE_TAG 2UL /* xa_mk_node(): an internal node pointer | 2 */

struct tdpw_po_ctx {
	__u64 list_head;
	__u64 node;
	__u64 hpa;
	__u64 found;
	__u32 matches;
};

static long tdpw_po_root_step(__u64 i, void *arg)
{
	struct tdpw_po_ctx *p = arg;
	struct kvm_mmu_page *root;
	__u64 next = 0, po;

	if (!p->node || p->node == p->list_head)
		return 1;
	root = (void *)(p->node - bpf_core_field_offset(struct kvm_mmu_page, link));
	po = (__u64)BPF_CORE_READ(root, spt) - p->hpa;
	if (tdpw_page_offset_plausible(po) && po != p->found) {
		p->found = po;
		p->matches++;
	}
	bpf_probe_read_kernel(&next, sizeof(next), (void *)p->node);
	p->node = next;
	return 0;
}

/*
 * vCPU 0 of kvm->vcpu_array, an xarray: the entry itself in xa_head while
 * it is the only one, else slot 0 of the first leaf node (one level down
 * for each 64 vCPUs past the first 64).
 */
static __always_inline struct kvm_vcpu *tdpw_vcpu0(struct kvm *kvm)
{
	__u64 head = (__u64)BPF_CORE_READ(kvm, vcpu_array.xa_head);
	struct xa_node *node;

	if ((head & 3) != TDPW_XA_NODE_TAG || head <= 4096)
		return (void *)head;
	node = (void *)(head - TDPW_XA_NODE_TAG);
	if (BPF_CORE_READ(node, shift) != 0) {
		head = (__u64)BPF_CORE_READ(node, slots[0]);
		if ((head & 3) != TDPW_XA_NODE_TAG || head <= 4096)
			return NULL;
		node = (void *)(head - TDPW_XA_NODE_TAG);
	}
	head = (__u64)BPF_CORE_READ(node, slots[0]);
	return (head & 3) ? NULL : (void *)head;
}

static __always_inline __u64 tdpw_page_offset_from_vcpu0(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu = tdpw_vcpu0(kvm);
	struct tdpw_po_ctx p = {};

	if (!vcpu)
		return 0;
	p.hpa = BPF_CORE_READ(vcpu, arch.root_mmu.root.hpa);
	if (!p.hpa || p.hpa == (__u64)-1) /* INVALID_PAGE: no root loaded */
		return 0;
	p.list_head = (__u64)&kvm->arch.tdp_mmu_roots;
	if (bpf_probe_read_kernel(&p.node, sizeof(p.node), (void *)p.list_head))
		return 0;
	bpf_loop(TDPW_MAX_ROOTS, tdpw_po_root_step, &p, 0);
	return p.matches == 1 ? p.found : 0;
}

static __always_inline __u64 tdpw_walk_page_offset(struct kvm *kvm)
{
	__u64 po = page_offset_hint;

	if (!po && page_offset_base_addr)
		bpf_probe_read_kernel(&po, sizeof(po), (void *)page_offset_base_addr);
	if (!tdpw_page_offset_plausible(po))
		po = tdpw_page_offset_from_vcpu0(kvm);
	return tdpw_page_offset_plausible(po) ? po : 0;
}

SEC("iter/task_file")
int vm_tables(struct bpf_iter__task_file *ctx)
{
	struct file *file = ctx->file;
	struct task_struct *task = ctx->task;
	struct tdpw_walk_ctx c = {};
	__u32 zero = 0;
	struct kvm *kvm;
	__u64 first = 0;

	if (!file || !task || !tdpw_is_kvm_vm_file(file))
		return 0;
	kvm = BPF_CORE_READ(file, private_data);
	if (!kvm)
		return 0;
	c.st = bpf_map_lookup_elem(&walk_state, &zero);
	if (!c.st)
		return 0;
	c.seq = ctx->meta->seq;
	c.rec.kvm = (__u64)kvm;
	c.rec.tgid = BPF_CORE_READ(task, tgid);
	c.rec.kind = TDPW_TABLE_VM;
	c.rec.value = 1; /* record format version */
	tdpw_emit(&c);

	c.page_offset = tdpw_walk_page_offset(kvm);
	c.status = TDPW_TABLE_COMPLETE;
	c.list_head = (__u64)&kvm->arch.tdp_mmu_roots;
	if (bpf_probe_read_kernel(&first, sizeof(first), (void *)c.list_head) == 0) {
		c.node = first;
		bpf_loop(TDPW_MAX_ROOTS, tdpw_root_step, &c, 0);
	}
	tdpw_walk_nx_lists(&c, kvm);
	c.list_head = (__u64)&kvm->arch.active_mmu_pages;
	if (bpf_probe_read_kernel(&first, sizeof(first), (void *)c.list_head) == 0) {
		c.node = first;
		bpf_loop(TDPW_MAX_NX, tdpw_shadow_step, &c, 0);
	}

	c.rec.kind = TDPW_TABLE_END;
	c.rec.sp = 0;
	c.rec.pfn = 0;
	c.rec.gfn = c.page_offset;
	c.rec.role = 0;
	c.rec.level = 0;
	c.rec.as_id = 0;
	c.rec.flags = 0;
	c.rec.value = c.status;
	tdpw_emit(&c);
	return 0;
}
