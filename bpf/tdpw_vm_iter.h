/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The record of bpf/vm_truth_iter.bpf.c: one per open KVM VM file
 * ("anon_inode:kvm-vm") per process, read from the iterator's fd.  Same rules
 * as tdpw_events.h (no includes, fixed-width fields, size checked by both
 * compilers); include tdpw_events.h first.
 */
#ifndef TDPWATCH_BPF_TDPW_VM_ITER_H
#define TDPWATCH_BPF_TDPW_VM_ITER_H

struct tdpw_vm_iter_record {
	__u64 kvm;  /* struct kvm * (the file's private_data) */
	__u32 tgid; /* the process holding the file */
	__u32 fd;   /* its fd there */
	struct tdpw_kernel_truth truth;
};

#ifdef __cplusplus
static_assert(sizeof(struct tdpw_vm_iter_record) == 96, "vm iter record layout");
#else
_Static_assert(sizeof(struct tdpw_vm_iter_record) == 96, "vm iter record layout");
#endif

#endif /* TDPWATCH_BPF_TDPW_VM_ITER_H */
