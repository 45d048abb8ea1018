// The seccomp profile of family containers (stateful contexts). Docker's default profile
// refuses unshare() and mount() to a process without CAP_SYS_ADMIN; a family agent needs them
// to put each context in namespaces of its own (user, mount, PID, network, IPC, UTS) and to
// lay an overlay over its work directory. This profile refuses what Docker's default refuses
// to an unprivileged process — kernel modules, keyrings, BPF, perf, ptrace and
// process_vm_*, clock and time setting, swap, reboot, quotas, the new mount API, io_uring,
// userfaultfd — and allows only the namespace and mount calls this needs. It also refuses
// umount and mount with MS_MOVE or MS_BIND (a context cannot take away or move the empty
// mounts that hide other contexts' files), pivot_root, and packet and netfilter sockets
// (reachable in a user namespace of one's own). setns stays: the agent makes a python snapshot's
// and branch's namespaces and the interpreter's fork joins them (family.py, make_namespaces);
// user code itself runs under family.py's own filter, with no capabilities.
// Ephemeral and cached sandboxes keep Docker's own default profile.

/** Calls refused with EPERM. */
export const DENIED_SYSCALLS = [
  'acct', 'add_key', 'bpf', 'clock_adjtime', 'clock_settime', 'create_module', 'delete_module',
  'finit_module', 'get_kernel_syms', 'get_mempolicy', 'init_module', 'ioperm', 'iopl', 'kcmp',
  'kexec_file_load', 'kexec_load', 'keyctl', 'lookup_dcookie', 'mbind', 'move_pages',
  'name_to_handle_at', 'nfsservctl', 'open_by_handle_at', 'perf_event_open', 'pivot_root',
  'process_vm_readv', 'process_vm_writev', 'ptrace', 'query_module', 'quotactl', 'quotactl_fd',
  'reboot', 'request_key', 'set_mempolicy', 'settimeofday', 'stime', 'swapon', 'swapoff',
  'sysfs', '_sysctl', 'syslog', 'umount', 'umount2', 'uselib', 'userfaultfd', 'ustat', 'vhangup',
  'vm86', 'vm86old', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'move_mount', 'open_tree',
  'mount_setattr', 'fanotify_init', 'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  'pidfd_getfd', 'lsm_set_self_attr',
] as const;

const MS_BIND = 0x1000;
const MS_MOVE = 0x2000;
const AF_NETLINK = 16;
const AF_PACKET = 17;
const NETLINK_NETFILTER = 12;
const SOCK_PACKET = 10;

/** The profile as Docker takes it in `SecurityOpt: ['seccomp=<json>']`. */
export function familySeccompProfile(): string {
  return JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
    syscalls: [
      { names: DENIED_SYSCALLS, action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      // mount() only makes new mounts: no moving (which would uncover what the empty mounts
      // hide) and no bind mounts. Flags are the 4th argument; each rule refuses one bit.
      { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 3, value: MS_MOVE, valueTwo: MS_MOVE, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 3, value: MS_BIND, valueTwo: MS_BIND, op: 'SCMP_CMP_MASKED_EQ' }] },
      // In a user namespace of its own a process could reach kernel code Docker's default keeps
      // shut: raw packet sockets and netfilter (nf_tables) over netlink.
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: AF_PACKET, op: 'SCMP_CMP_EQ' }] },
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: AF_NETLINK, op: 'SCMP_CMP_EQ' }, { index: 2, value: NETLINK_NETFILTER, op: 'SCMP_CMP_EQ' }] },
      // SOCK_PACKET on an inet socket is a packet socket too (the kernel turns it into one).
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 1, value: 0xf, valueTwo: SOCK_PACKET, op: 'SCMP_CMP_MASKED_EQ' }] },
      // clone3 cannot be filtered by its flags: ENOSYS makes libc fall back to clone().
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    ],
  });
}
