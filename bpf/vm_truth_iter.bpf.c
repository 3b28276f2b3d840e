// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel's own figures of every live VM, on demand: a task_file iterator
 * that finds each process's KVM VM files ("anon_inode:kvm-vm", whose
 * private_data is the struct kvm *) and reads struct kvm through CO-RE, as
 * the probes' kernel_truth map does.  Unlike that map it needs no event that
 * carries struct kvm * (tracepoint-only plans have none), and it sees VMs
 * that were quiet since the daemon started: the reconciler's baseline and
 * resync read it each tick (daemon/probes/vm_truth_iter.h).
 * The task_file iterator skips threads that share their leader's files.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kvm_compat.bpf.h"
#include "kvm_vm_file.bpf.h"
#include "tdpw_vm_iter.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";


SEC("iter/task_file")
int vm_truth(struct bpf_iter__task_file *ctx)
{
	struct file *file = ctx->file;
	struct task_struct *task = ctx->task;
	struct tdpw_vm_iter_record rec = {};
	struct kvm *kvm;

	if (!file || !task || !tdpw_is_kvm_vm_file(file))
		return 0;
	kvm = BPF_CORE_READ(file, private_data);
	if (!kvm)
		return 0;
	rec.kvm = (__u64)kvm;
	rec.tgid = BPF_CORE_READ(task, tgid);
	rec.fd = ctx->fd;
	tdpw_read_truth(kvm, &rec.truth);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
