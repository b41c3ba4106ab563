// SPDX-License-Identifier: Apache-2.0
/*
 * Human forms of special values.  See render.h.
 *
 * The name tables are indexed by the constants from the C library headers
 * (errno.h, signal.h, asm/unistd.h) rather than by literal numbers, so they
 * stay right for the architecture the agent is built for.  open(2) flags are
 * the exception: user space hides some kernel bits (O_LARGEFILE is 0 on
 * 64-bit glibc), and records carry what the kernel saw.
 */
#include "run/render.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define EN(e) [e] = #e
/* clang-format off */
static const char *const errno_names[] = {
	EN(EPERM), EN(ENOENT), EN(ESRCH), EN(EINTR), EN(EIO), EN(ENXIO), EN(E2BIG),
	EN(ENOEXEC), EN(EBADF), EN(ECHILD), EN(EAGAIN), EN(ENOMEM), EN(EACCES), EN(EFAULT),
	EN(ENOTBLK), EN(EBUSY), EN(EEXIST), EN(EXDEV), EN(ENODEV), EN(ENOTDIR), EN(EISDIR),
	EN(EINVAL), EN(ENFILE), EN(EMFILE), EN(ENOTTY), EN(ETXTBSY), EN(EFBIG), EN(ENOSPC),
	EN(ESPIPE), EN(EROFS), EN(EMLINK), EN(EPIPE), EN(EDOM), EN(ERANGE), EN(EDEADLK),
	EN(ENAMETOOLONG), EN(ENOLCK), EN(ENOSYS), EN(ENOTEMPTY), EN(ELOOP), EN(ENOMSG),
	EN(EIDRM), EN(ECHRNG), EN(EL2NSYNC), EN(EL3HLT), EN(EL3RST), EN(ELNRNG), EN(EUNATCH),
	EN(ENOCSI), EN(EL2HLT), EN(EBADE), EN(EBADR), EN(EXFULL), EN(ENOANO), EN(EBADRQC),
	EN(EBADSLT), EN(EBFONT), EN(ENOSTR), EN(ENODATA), EN(ETIME), EN(ENOSR), EN(ENONET),
	EN(ENOPKG), EN(EREMOTE), EN(ENOLINK), EN(EADV), EN(ESRMNT), EN(ECOMM), EN(EPROTO),
	EN(EMULTIHOP), EN(EDOTDOT), EN(EBADMSG), EN(EOVERFLOW), EN(ENOTUNIQ), EN(EBADFD),
	EN(EREMCHG), EN(ELIBACC), EN(ELIBBAD), EN(ELIBSCN), EN(ELIBMAX), EN(ELIBEXEC),
	EN(EILSEQ), EN(ERESTART), EN(ESTRPIPE), EN(EUSERS), EN(ENOTSOCK), EN(EDESTADDRREQ),
	EN(EMSGSIZE), EN(EPROTOTYPE), EN(ENOPROTOOPT), EN(EPROTONOSUPPORT),
	EN(ESOCKTNOSUPPORT), EN(EOPNOTSUPP), EN(EPFNOSUPPORT), EN(EAFNOSUPPORT),
	EN(EADDRINUSE), EN(EADDRNOTAVAIL), EN(ENETDOWN), EN(ENETUNREACH), EN(ENETRESET),
	EN(ECONNABORTED), EN(ECONNRESET), EN(ENOBUFS), EN(EISCONN), EN(ENOTCONN),
	EN(ESHUTDOWN), EN(ETOOMANYREFS), EN(ETIMEDOUT), EN(ECONNREFUSED), EN(EHOSTDOWN),
	EN(EHOSTUNREACH), EN(EALREADY), EN(EINPROGRESS), EN(ESTALE), EN(EUCLEAN), EN(ENOTNAM),
	EN(ENAVAIL), EN(EISNAM), EN(EREMOTEIO), EN(EDQUOT), EN(ENOMEDIUM), EN(EMEDIUMTYPE),
	EN(ECANCELED), EN(ENOKEY), EN(EKEYEXPIRED), EN(EKEYREVOKED), EN(EKEYREJECTED),
	EN(EOWNERDEAD), EN(ENOTRECOVERABLE), EN(ERFKILL), EN(EHWPOISON),
};
/* clang-format on */

/*
 * Errors internal to the kernel (include/linux/errno.h).  They never reach a
 * system call's caller, but gadgets that trace kernel functions see them.
 */
static const struct {
	unsigned int nr;
	const char *name;
} kernel_errnos[] = {
	{512, "ERESTARTSYS"},
	{513, "ERESTARTNOINTR"},
	{514, "ERESTARTNOHAND"},
	{515, "ENOIOCTLCMD"},
	{516, "ERESTART_RESTARTBLOCK"},
	{517, "EPROBE_DEFER"},
	{518, "EOPENSTALE"},
	{519, "ENOPARAM"},
	{521, "EBADHANDLE"},
	{522, "ENOTSYNC"},
	{523, "EBADCOOKIE"},
	{524, "ENOTSUPP"},
	{525, "ETOOSMALL"},
	{526, "ESERVERFAULT"},
	{527, "EBADTYPE"},
	{528, "EJUKEBOX"},
	{529, "EIOCBQUEUED"},
	{530, "ERECALLCONFLICT"},
};

#define SG(s) [s] = #s
/* clang-format off */
static const char *const signal_names[] = {
	SG(SIGHUP), SG(SIGINT), SG(SIGQUIT), SG(SIGILL), SG(SIGTRAP), SG(SIGABRT), SG(SIGBUS),
	SG(SIGFPE), SG(SIGKILL), SG(SIGUSR1), SG(SIGSEGV), SG(SIGUSR2), SG(SIGPIPE),
	SG(SIGALRM), SG(SIGTERM), SG(SIGSTKFLT), SG(SIGCHLD), SG(SIGCONT), SG(SIGSTOP),
	SG(SIGTSTP), SG(SIGTTIN), SG(SIGTTOU), SG(SIGURG), SG(SIGXCPU), SG(SIGXFSZ),
	SG(SIGVTALRM), SG(SIGPROF), SG(SIGWINCH), SG(SIGIO), SG(SIGPWR), SG(SIGSYS),
};
/* clang-format on */

/* The kernel's first real-time signal; glibc reserves a few above it. */
#define KERNEL_SIGRTMIN 32
#define KERNEL_SIGRTMAX 64

#if defined(__x86_64__)
#define SC(n) [__NR_##n] = #n
/* clang-format off */
static const char *const syscall_names[] = {
	SC(read), SC(write), SC(open), SC(close), SC(stat), SC(fstat), SC(lstat), SC(poll),
	SC(lseek), SC(mmap), SC(mprotect), SC(munmap), SC(brk), SC(rt_sigaction),
	SC(rt_sigprocmask), SC(rt_sigreturn), SC(ioctl), SC(pread64), SC(pwrite64), SC(readv),
	SC(writev), SC(access), SC(pipe), SC(select), SC(sched_yield), SC(mremap), SC(msync),
	SC(mincore), SC(madvise), SC(shmget), SC(shmat), SC(shmctl), SC(dup), SC(dup2),
	SC(pause), SC(nanosleep), SC(getitimer), SC(alarm), SC(setitimer), SC(getpid),
	SC(sendfile), SC(socket), SC(connect), SC(accept), SC(sendto), SC(recvfrom),
	SC(sendmsg), SC(recvmsg), SC(shutdown), SC(bind), SC(listen), SC(getsockname),
	SC(getpeername), SC(socketpair), SC(setsockopt), SC(getsockopt), SC(clone), SC(fork),
	SC(vfork), SC(execve), SC(exit), SC(wait4), SC(kill), SC(uname), SC(semget), SC(semop),
	SC(semctl), SC(shmdt), SC(msgget), SC(msgsnd), SC(msgrcv), SC(msgctl), SC(fcntl),
	SC(flock), SC(fsync), SC(fdatasync), SC(truncate), SC(ftruncate), SC(getdents),
	SC(getcwd), SC(chdir), SC(fchdir), SC(rename), SC(mkdir), SC(rmdir), SC(creat),
	SC(link), SC(unlink), SC(symlink), SC(readlink), SC(chmod), SC(fchmod), SC(chown),
	SC(fchown), SC(lchown), SC(umask), SC(gettimeofday), SC(getrlimit), SC(getrusage),
	SC(sysinfo), SC(times), SC(ptrace), SC(getuid), SC(syslog), SC(getgid), SC(setuid),
	SC(setgid), SC(geteuid), SC(getegid), SC(setpgid), SC(getppid), SC(getpgrp),
	SC(setsid), SC(setreuid), SC(setregid), SC(getgroups), SC(setgroups), SC(setresuid),
	SC(getresuid), SC(setresgid), SC(getresgid), SC(getpgid), SC(setfsuid), SC(setfsgid),
	SC(getsid), SC(capget), SC(capset), SC(rt_sigpending), SC(rt_sigtimedwait),
	SC(rt_sigqueueinfo), SC(rt_sigsuspend), SC(sigaltstack), SC(utime), SC(mknod),
	SC(uselib), SC(personality), SC(ustat), SC(statfs), SC(fstatfs), SC(sysfs),
	SC(getpriority), SC(setpriority), SC(sched_setparam), SC(sched_getparam),
	SC(sched_setscheduler), SC(sched_getscheduler), SC(sched_get_priority_max),
	SC(sched_get_priority_min), SC(sched_rr_get_interval), SC(mlock), SC(munlock),
	SC(mlockall), SC(munlockall), SC(vhangup), SC(modify_ldt), SC(pivot_root), SC(_sysctl),
	SC(prctl), SC(arch_prctl), SC(adjtimex), SC(setrlimit), SC(chroot), SC(sync), SC(acct),
	SC(settimeofday), SC(mount), SC(umount2), SC(swapon), SC(swapoff), SC(reboot),
	SC(sethostname), SC(setdomainname), SC(iopl), SC(ioperm), SC(create_module),
	SC(init_module), SC(delete_module), SC(get_kernel_syms), SC(query_module),
	SC(quotactl), SC(nfsservctl), SC(getpmsg), SC(putpmsg), SC(afs_syscall), SC(tuxcall),
	SC(security), SC(gettid), SC(readahead), SC(setxattr), SC(lsetxattr), SC(fsetxattr),
	SC(getxattr), SC(lgetxattr), SC(fgetxattr), SC(listxattr), SC(llistxattr),
	SC(flistxattr), SC(removexattr), SC(lremovexattr), SC(fremovexattr), SC(tkill),
	SC(time), SC(futex), SC(sched_setaffinity), SC(sched_getaffinity), SC(set_thread_area),
	SC(io_setup), SC(io_destroy), SC(io_getevents), SC(io_submit), SC(io_cancel),
	SC(get_thread_area), SC(lookup_dcookie), SC(epoll_create), SC(epoll_ctl_old),
	SC(epoll_wait_old), SC(remap_file_pages), SC(getdents64), SC(set_tid_address),
	SC(restart_syscall), SC(semtimedop), SC(fadvise64), SC(timer_create),
	SC(timer_settime), SC(timer_gettime), SC(timer_getoverrun), SC(timer_delete),
	SC(clock_settime), SC(clock_gettime), SC(clock_getres), SC(clock_nanosleep),
	SC(exit_group), SC(epoll_wait), SC(epoll_ctl), SC(tgkill), SC(utimes), SC(vserver),
	SC(mbind), SC(set_mempolicy), SC(get_mempolicy), SC(mq_open), SC(mq_unlink),
	SC(mq_timedsend), SC(mq_timedreceive), SC(mq_notify), SC(mq_getsetattr),
	SC(kexec_load), SC(waitid), SC(add_key), SC(request_key), SC(keyctl), SC(ioprio_set),
	SC(ioprio_get), SC(inotify_init), SC(inotify_add_watch), SC(inotify_rm_watch),
	SC(migrate_pages), SC(openat), SC(mkdirat), SC(mknodat), SC(fchownat), SC(futimesat),
	SC(newfstatat), SC(unlinkat), SC(renameat), SC(linkat), SC(symlinkat), SC(readlinkat),
	SC(fchmodat), SC(faccessat), SC(pselect6), SC(ppoll), SC(unshare), SC(set_robust_list),
	SC(get_robust_list), SC(splice), SC(tee), SC(sync_file_range), SC(vmsplice),
	SC(move_pages), SC(utimensat), SC(epoll_pwait), SC(signalfd), SC(timerfd_create),
	SC(eventfd), SC(fallocate), SC(timerfd_settime), SC(timerfd_gettime), SC(accept4),
	SC(signalfd4), SC(eventfd2), SC(epoll_create1), SC(dup3), SC(pipe2), SC(inotify_init1),
	SC(preadv), SC(pwritev), SC(rt_tgsigqueueinfo), SC(perf_event_open), SC(recvmmsg),
	SC(fanotify_init), SC(fanotify_mark), SC(prlimit64), SC(name_to_handle_at),
	SC(open_by_handle_at), SC(clock_adjtime), SC(syncfs), SC(sendmmsg), SC(setns),
	SC(getcpu), SC(process_vm_readv), SC(process_vm_writev), SC(kcmp), SC(finit_module),
	SC(sched_setattr), SC(sched_getattr), SC(renameat2), SC(seccomp), SC(getrandom),
	SC(memfd_create), SC(kexec_file_load), SC(bpf), SC(execveat), SC(userfaultfd),
	SC(membarrier), SC(mlock2), SC(copy_file_range), SC(preadv2), SC(pwritev2),
	SC(pkey_mprotect), SC(pkey_alloc), SC(pkey_free), SC(statx), SC(io_pgetevents),
	SC(rseq), SC(pidfd_send_signal), SC(io_uring_setup), SC(io_uring_enter),
	SC(io_uring_register), SC(open_tree), SC(move_mount), SC(fsopen), SC(fsconfig),
	SC(fsmount), SC(fspick), SC(pidfd_open), SC(clone3), SC(close_range), SC(openat2),
	SC(pidfd_getfd), SC(faccessat2), SC(process_madvise), SC(epoll_pwait2),
	SC(mount_setattr), SC(quotactl_fd), SC(landlock_create_ruleset), SC(landlock_add_rule),
	SC(landlock_restrict_self), SC(memfd_secret), SC(process_mrelease), SC(futex_waitv),
	SC(set_mempolicy_home_node),
	/* Newer than the installed headers; numbers shared by every architecture. */
	[451] = "cachestat", [452] = "fchmodat2", [453] = "map_shadow_stack",
	[454] = "futex_wake", [455] = "futex_wait", [456] = "futex_requeue",
	[457] = "statmount", [458] = "listmount", [459] = "lsm_get_self_attr",
	[460] = "lsm_set_self_attr", [461] = "lsm_list_modules", [462] = "mseal",
};
/* clang-format on */
#else
/* Other architectures get numbers until someone needs their names. */
static const char *const syscall_names[] = {NULL};
#endif

const char *run_render_errno_name(uint64_t e)
{
	size_t i;

	if (e < ARRAY_SIZE(errno_names))
		return errno_names[e];
	for (i = 0; i < ARRAY_SIZE(kernel_errnos); i++)
		if (kernel_errnos[i].nr == e)
			return kernel_errnos[i].name;
	return NULL;
}

int run_render_errno(struct base_buf *b, uint64_t v)
{
	/* gadget_errno is 32 bits; gadgets store either errno or -errno. */
	int32_t s = (int32_t)(uint32_t)v;
	uint64_t e = s < 0 ? (uint64_t)(-(int64_t)s) : (uint64_t)s;
	const char *name;

	if (v > UINT32_MAX)
		return base_buf_put_u64(b, v);
	if (!e)
		return 0;
	name = run_render_errno_name(e);
	if (name)
		return base_buf_puts(b, name);
	return base_buf_put_i64(b, s);
}

int run_render_signal(struct base_buf *b, uint64_t sig)
{
	if (sig < ARRAY_SIZE(signal_names) && signal_names[sig])
		return base_buf_puts(b, signal_names[sig]);
	if (sig == KERNEL_SIGRTMIN)
		return base_buf_puts(b, "SIGRTMIN");
	if (sig > KERNEL_SIGRTMIN && sig <= KERNEL_SIGRTMAX)
		return base_buf_printf(b, "SIGRTMIN+%u", (unsigned int)(sig - KERNEL_SIGRTMIN));
	return base_buf_put_u64(b, sig);
}

int run_render_syscall(struct base_buf *b, uint64_t nr)
{
	if (nr < ARRAY_SIZE(syscall_names) && syscall_names[nr])
		return base_buf_puts(b, syscall_names[nr]);
	return base_buf_printf(b, "syscall_%" PRIu64, nr);
}

/* Kernel values of the open(2) flags (include/uapi/asm-generic/fcntl.h). */
#if defined(__aarch64__)
#define K_O_DIRECTORY 0040000
#define K_O_NOFOLLOW  0100000
#define K_O_DIRECT    0200000
#define K_O_LARGEFILE 0400000
#else
#define K_O_DIRECT    0040000
#define K_O_LARGEFILE 0100000
#define K_O_DIRECTORY 0200000
#define K_O_NOFOLLOW  0400000
#endif

static const struct {
	uint64_t bits;
	const char *name;
} open_flags[] = {
	/* O_TMPFILE and O_SYNC include another flag's bit: test them first. */
	{020000000 | K_O_DIRECTORY, "O_TMPFILE"},
	{04000000 | 010000, "O_SYNC"},
	{0100, "O_CREAT"},
	{0200, "O_EXCL"},
	{0400, "O_NOCTTY"},
	{01000, "O_TRUNC"},
	{02000, "O_APPEND"},
	{04000, "O_NONBLOCK"},
	{010000, "O_DSYNC"},
	{020000, "O_ASYNC"},
	{K_O_DIRECT, "O_DIRECT"},
	{K_O_LARGEFILE, "O_LARGEFILE"},
	{K_O_DIRECTORY, "O_DIRECTORY"},
	{K_O_NOFOLLOW, "O_NOFOLLOW"},
	{01000000, "O_NOATIME"},
	{02000000, "O_CLOEXEC"},
	{010000000, "O_PATH"},
};

int run_render_file_flags(struct base_buf *b, uint64_t flags)
{
	static const char *const acc[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
	uint64_t rest = flags & ~(uint64_t)3;
	size_t i;
	int r;

	r = base_buf_puts(b, acc[flags & 3]);
	for (i = 0; r >= 0 && i < ARRAY_SIZE(open_flags); i++) {
		if ((rest & open_flags[i].bits) != open_flags[i].bits)
			continue;
		rest &= ~open_flags[i].bits;
		r = base_buf_putc(b, '|');
		if (r >= 0)
			r = base_buf_puts(b, open_flags[i].name);
	}
	if (r >= 0 && rest)
		r = base_buf_printf(b, "|0x%" PRIx64, rest);
	return r;
}

int run_render_file_mode(struct base_buf *b, uint64_t mode)
{
	char s[10];
	char type;

	switch (mode & S_IFMT) {
	case S_IFDIR:
		type = 'd';
		break;
	case S_IFLNK:
		type = 'l';
		break;
	case S_IFIFO:
		type = 'p';
		break;
	case S_IFSOCK:
		type = 's';
		break;
	case S_IFCHR:
		type = 'c';
		break;
	case S_IFBLK:
		type = 'b';
		break;
	default:
		type = '-';
		break;
	}
	s[0] = type;
	s[1] = mode & S_IRUSR ? 'r' : '-';
	s[2] = mode & S_IWUSR ? 'w' : '-';
	s[3] = mode & S_ISUID ? (mode & S_IXUSR ? 's' : 'S') : (mode & S_IXUSR ? 'x' : '-');
	s[4] = mode & S_IRGRP ? 'r' : '-';
	s[5] = mode & S_IWGRP ? 'w' : '-';
	s[6] = mode & S_ISGID ? (mode & S_IXGRP ? 's' : 'S') : (mode & S_IXGRP ? 'x' : '-');
	s[7] = mode & S_IROTH ? 'r' : '-';
	s[8] = mode & S_IWOTH ? 'w' : '-';
	s[9] = mode & S_ISVTX ? (mode & S_IXOTH ? 't' : 'T') : (mode & S_IXOTH ? 'x' : '-');
	return base_buf_append(b, s, sizeof(s));
}

int run_render_bytes(struct base_buf *b, uint64_t n)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)n;
	size_t u = 0;

	if (n < 1024) {
		int r = base_buf_put_u64(b, n);

		return r < 0 ? r : base_buf_puts(b, " B");
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	return base_buf_printf(b, "%.1f %s", v, units[u]);
}

static int decimal_digits(uint64_t v)
{
	int d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

int run_render_log2_hist(struct base_buf *b, const uint64_t *slots, size_t n, const char *unit)
{
	char bar[RUN_RENDER_HIST_BAR + 1];
	size_t first = SIZE_MAX, last = 0, i;
	uint64_t max = 0;
	int w = 1, r;

	if (n > RUN_RENDER_HIST_MAX_SLOTS)
		n = RUN_RENDER_HIST_MAX_SLOTS;
	for (i = 0; i < n; i++) {
		if (!slots[i])
			continue;
		if (first == SIZE_MAX)
			first = i;
		last = i;
		if (slots[i] > max)
			max = slots[i];
	}
	/* the widest number shown is the end of the last range: 2^last */
	if (first != SIZE_MAX)
		w = decimal_digits(UINT64_C(1) << last);
	if (strlen(unit) > (size_t)w)
		w = (int)strlen(unit);
	r = base_buf_printf(b, "%*s%*s : count    distribution\n", w, unit, w + 4, "");
	for (i = first; first != SIZE_MAX && i <= last && r >= 0; i++) {
		uint64_t lo = i ? UINT64_C(1) << (i - 1) : 0, hi = UINT64_C(1) << i;
		size_t stars = (size_t)((double)slots[i] * RUN_RENDER_HIST_BAR / (double)max);

		if (stars > RUN_RENDER_HIST_BAR)
			stars = RUN_RENDER_HIST_BAR;
		memset(bar, '*', stars);
		memset(bar + stars, ' ', RUN_RENDER_HIST_BAR - stars);
		bar[RUN_RENDER_HIST_BAR] = '\0';
		r = base_buf_printf(b, "%*" PRIu64 " -> %-*" PRIu64 " : %-8" PRIu64 " |%s|\n", w,
				    lo, w, hi, slots[i], bar);
	}
	return r;
}

#define NS_PER_MIN  (UINT64_C(60) * 1000000000)
#define NS_PER_HOUR (60 * NS_PER_MIN)

/* Appends whole + frac/10^digits with the trailing zeros of frac dropped. */
static int put_decimal(struct base_buf *b, uint64_t whole, uint64_t frac, int digits)
{
	char tmp[24];
	int n = digits;
	int r = base_buf_put_u64(b, whole);

	if (r < 0 || !frac)
		return r;
	while (frac % 10 == 0) {
		frac /= 10;
		n--;
	}
	snprintf(tmp, sizeof(tmp), ".%0*" PRIu64, n, frac);
	return base_buf_puts(b, tmp);
}

int run_render_duration(struct base_buf *b, int64_t ns)
{
	uint64_t u = ns < 0 ? (uint64_t)(-(ns + 1)) + 1 : (uint64_t)ns;
	int r = 0;

	if (ns < 0)
		r = base_buf_putc(b, '-');
	if (r < 0)
		return r;
	if (u == 0)
		return base_buf_puts(b, "0s");
	if (u < 1000) {
		r = base_buf_put_u64(b, u);
		return r < 0 ? r : base_buf_puts(b, "ns");
	}
	if (u < 1000000) {
		r = put_decimal(b, u / 1000, u % 1000, 3);
		return r < 0 ? r : base_buf_puts(b, "\xc2\xb5s"); /* µs, as Go prints it */
	}
	if (u < 1000000000) {
		r = put_decimal(b, u / 1000000, u % 1000000, 6);
		return r < 0 ? r : base_buf_puts(b, "ms");
	}
	if (u >= NS_PER_HOUR) {
		r = base_buf_printf(b, "%" PRIu64 "h", u / NS_PER_HOUR);
		u %= NS_PER_HOUR;
		if (r >= 0)
			r = base_buf_printf(b, "%" PRIu64 "m", u / NS_PER_MIN);
		u %= NS_PER_MIN;
	} else if (u >= NS_PER_MIN) {
		r = base_buf_printf(b, "%" PRIu64 "m", u / NS_PER_MIN);
		u %= NS_PER_MIN;
	}
	if (r >= 0)
		r = put_decimal(b, u / 1000000000, u % 1000000000, 9);
	return r < 0 ? r : base_buf_putc(b, 's');
}

/*
 * Dotted quad by hand: glibc's inet_ntop() formats IPv4 with sprintf, which
 * was a fifth of a network record's cost (three endpoints a DNS record).
 */
static int put_ipv4(struct base_buf *b, const uint8_t addr[4])
{
	char tmp[16];
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		unsigned int v = addr[i];

		if (i)
			tmp[n++] = '.';
		if (v >= 100)
			tmp[n++] = (char)('0' + v / 100);
		if (v >= 10)
			tmp[n++] = (char)('0' + v / 10 % 10);
		tmp[n++] = (char)('0' + v % 10);
	}
	return base_buf_append(b, tmp, n);
}

int run_render_ip(struct base_buf *b, const uint8_t addr[16], unsigned int version)
{
	char tmp[INET6_ADDRSTRLEN];

	if (version == 4) {
		return put_ipv4(b, addr);
	} else if (version == 6) {
		if (!inet_ntop(AF_INET6, addr, tmp, sizeof(tmp)))
			return 0;
	} else {
		return 0;
	}
	return base_buf_puts(b, tmp);
}

const char *run_render_proto_name(uint64_t proto)
{
	switch (proto) {
	case 1:
		return "ICMP";
	case 2:
		return "IGMP";
	case 6:
		return "TCP";
	case 17:
		return "UDP";
	case 47:
		return "GRE";
	case 50:
		return "ESP";
	case 58:
		return "ICMPv6";
	case 132:
		return "SCTP";
	case 136:
		return "UDPLITE";
	case 255:
		return "RAW";
	default:
		return NULL;
	}
}

void run_render_time_cache_init(struct run_render_time_cache *c)
{
	memset(c, 0, sizeof(*c));
	c->sec = INT64_MIN;
}

static void fill_time_cache(struct run_render_time_cache *c, int64_t sec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	long off;

	c->sec = sec;
	if (!localtime_r(&t, &tm)) {
		c->date_len = 0;
		c->zone_len = 0;
		return;
	}
	c->date_len = strftime(c->date, sizeof(c->date), "%Y-%m-%dT%H:%M:%S", &tm);
	off = tm.tm_gmtoff;
	if (!off) {
		c->zone[0] = 'Z';
		c->zone_len = 1;
		return;
	}
	c->zone[0] = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	off /= 60;
	c->zone[1] = (char)('0' + off / 600 % 10);
	c->zone[2] = (char)('0' + off / 60 % 10);
	c->zone[3] = ':';
	c->zone[4] = (char)('0' + off % 60 / 10);
	c->zone[5] = (char)('0' + off % 10);
	c->zone_len = 6;
}

int run_render_timestamp(struct base_buf *b, int64_t realtime_ns, struct run_render_time_cache *c)
{
	int64_t sec, nsec;
	char *p;
	int i, r;

	if (realtime_ns < 0)
		realtime_ns = 0;
	sec = realtime_ns / 1000000000;
	nsec = realtime_ns % 1000000000;
	if (sec != c->sec)
		fill_time_cache(c, sec);
	r = base_buf_reserve(b, c->date_len + 10 + c->zone_len);
	if (r < 0)
		return r;
	p = b->data + b->len;
	memcpy(p, c->date, c->date_len);
	p += c->date_len;
	*p++ = '.';
	for (i = 8; i >= 0; i--) {
		p[i] = (char)('0' + nsec % 10);
		nsec /= 10;
	}
	p += 9;
	memcpy(p, c->zone, c->zone_len);
	p += c->zone_len;
	*p = '\0';
	b->len = (size_t)(p - b->data);
	return 0;
}
