/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A KVM VM file, as the task_file iterators find VMs (vm_truth_iter.bpf.c,
 * vm_tables_iter.bpf.c): its dentry is named "kvm-vm" (virt/kvm/kvm_main.c:
 * anon_inode_getfile("kvm-vm", ...)) and its private_data is the struct kvm *.
 * Needs vmlinux.h, bpf_helpers.h and bpf_core_read.h before it.
 */
#ifndef TDPWATCH_BPF_KVM_VM_FILE_BPF_H
#define TDPWATCH_BPF_KVM_VM_FILE_BPF_H

static __always_inline bool tdpw_is_kvm_vm_file(struct file *file)
{
	char name[8] = {};

	if (bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(file, f_path.dentry, d_name.name)) != 7)
		return false;
	return name[0] == 'k' && name[1] == 'v' && name[2] == 'm' && name[3] == '-' &&
	       name[4] == 'v' && name[5] == 'm';
}

#endif /* TDPWATCH_BPF_KVM_VM_FILE_BPF_H */
