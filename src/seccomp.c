// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * seccomp.c - --enable-seccomp: after setup the daemon may make only the system calls listed
 * here; any other call kills the whole process with SIGSYS (SCMP_ACT_KILL_PROCESS; before
 * Linux 4.14, SCMP_ACT_KILL, which kills the thread: all of this single-threaded daemon).
 *
 * Theory of operation
 *
 * One table, `allowlist` below, names each call the running daemon makes and why: the poll
 * loop and its timers; tap I/O; libslirp's TCP, UDP and ICMP sockets (IPv4 and IPv6; ICMP echo
 * through unprivileged ping sockets); DNS forwarding and libslirp's re-reads of
 * /etc/resolv.conf (stat() at most once a second, then fopen/fgets/fclose when it changed);
 * the API server, the forwards it adds and removes (libslirp's listeners, relay.c's splice
 * relays); the signalfd; exit (unlinkat of the API socket, exit_group); and what the C library
 * and glib do underneath (malloc, locks, abort, stdio). Nothing that starts processes, changes
 * credentials, namespaces or mounts, loads code, or traces is in it: execve, fork/clone,
 * ptrace, mount, unshare, setns, kill all kill. The filter is loaded last, so setup (namespaces,
 * tap, sandbox) is unrestricted.
 *
 * Where a call is needed only with certain arguments, its row says which; other arguments
 * kill as an unlisted call does:
 *
 *   socket()      AF_INET and AF_INET6 only. AF_UNIX fails with EAFNOSUPPORT instead: glibc's
 *                 if_nametoindex(), which libslirp calls for a resolv.conf line such as
 *                 "nameserver fe80::1%eth0", tries AF_UNIX first and then AF_INET. So no new
 *                 AF_UNIX socket (the host's abstract sockets stay out of reach).
 *   ioctl()       FIONREAD (libslirp sizes datagrams), SIOCGIFINDEX (if_nametoindex()),
 *                 SIOCGIFFLAGS (fastpath.c: is the namespace's lo up?), TCGETS (isatty() in
 *                 glib's log writer) only.
 *   fcntl()       F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETPIPE_SZ, F_SETPIPE_SZ only.
 *   open, openat  read-only: no O_WRONLY/O_RDWR, O_CREAT, O_TRUNC, O_APPEND.
 *   mmap,mprotect never PROT_EXEC: no new executable memory.
 *   tgkill()      only to our own process (abort()).
 *   unlinkat()    flags 0 only, not AT_REMOVEDIR.
 * Comparisons look at the low 32 bits of an argument (the C types are int), so whatever the
 * upper half of a register holds cannot matter.
 *
 * The secondary ABIs of the build host (x86_64: i386 through int $0x80, and x32) are in the
 * filter too, with the same table, which libseccomp maps to their numbers as far as it can
 * express it there; a row it cannot express is left out on that ABI (the call kills). So a
 * 32-bit call is no way around a rule - with one exception libseccomp imposes: i386 also
 * reaches socket() through socketcall(), whose arguments sit in memory no filter can read, so
 * on i386 socket() is allowed for every family (and the AF_UNIX row is left out there). Names
 * that an ABI does not have are skipped.
 *
 * Builds with AddressSanitizer add rows for its runtime (see the end of the table).
 *
 * The filter is generated at build time. libseccomp needs about a millisecond of CPU to turn
 * this table into BPF for three ABIs, a fifth of the daemon's startup. So the build runs
 * seccomp-gen (src/seccomp_gen.c), which has libseccomp generate the program here, and writes it
 * into src/seccomp-bpf.c, linked into the daemon; seccomp_apply() then hands that to the kernel as
 * seccomp_load() would. Two things only the running daemon knows are filled in then: its pid
 * (the tgkill row; seccomp-gen generates twice with different pids to find where it goes) and
 * whether the kernel has SECCOMP_RET_KILL_PROCESS (both variants are prebuilt). A build that
 * cannot run what it compiles (cross-compiling) or whose libseccomp could not make a variant
 * leaves it out, and seccomp_apply() has libseccomp build the filter at startup as before;
 * tests/unit/test_seccomp.c checks that both ways give the same program.
 *
 * Changing the daemon: a new system call on any path after setup (readv/writev for the tap,
 * epoll, a timerfd, ...) needs its row here, with its reason, or the daemon dies by SIGSYS
 * when it first takes that path. tests/integration/sandbox.sh drives every path it can with
 * the filter on (podman.sh and rootlesskit.sh enable it too); tests/unit/test_seccomp.c
 * checks what must stay forbidden.
 */
#include "config.h"
#include "seccomp.h"
#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sockios.h>
#include <seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

enum arg_test {
	ARG_ANY,     /* any arguments */
	ARG_ONE_OF,  /* argument `arg` (low 32 bits) equals one of values[] */
	ARG_CLEARED, /* argument `arg` has none of the bits in values[0] */
};

#define OWN_PID UINT64_MAX /* stands for getpid() in values[] */

struct allow {
	const char *name;
	enum arg_test test;
	unsigned arg;
	uint64_t values[6];
	unsigned nvalues;
	int errnum; /* 0: allow; otherwise the call fails with this errno */
	const char *why;
};

#define ONE_OF(i, ...)                                                                             \
	.test = ARG_ONE_OF, .arg = (i), .values = {__VA_ARGS__},                                   \
	.nvalues = sizeof((uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t)
#define CLEARED(i, bits) .test = ARG_CLEARED, .arg = (i), .values = {(bits)}, .nvalues = 1

#define OPEN_WRITE_FLAGS (O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND)

/* clang-format off */
static const struct allow allowlist[] = {
	/* the main loop and its timers */
	{"poll", .why = "loop.c waits for all its fds with poll()"},
#ifndef __NR_poll
	{"ppoll", .why = "glibc's poll() on ABIs without poll(2) (aarch64)"},
#endif
	{"restart_syscall", .why = "the kernel resumes a poll() interrupted by a stop (SIGSTOP, "
	                           "ptrace, the freezer) with it"},
	{"clock_gettime", .why = "timers and deadlines (CLOCK_MONOTONIC); --pcap and --debug time "
	                         "stamps (CLOCK_REALTIME); a real system call "
	                         "where the vDSO cannot serve it"},

	/* fds: tap, libslirp's sockets, API clients, signalfd, exit fd, resolv.conf */
	{"read", .why = "tap frames (or a BESS peer's), the signalfd, resolv.conf"},
	{"write", .why = "tap frames; log lines on stderr (--debug too); the --pcap file header"},
	{"writev", .why = "tap frames behind their virtio-net header (tap.c, IFF_VNET_HDR); "
	                  "--pcap records, header and frame at once (pcap.c, fd opened before)"},
	{"close", .why = "sockets libslirp, forwards and API clients are done with; resolv.conf"},
	{"fcntl", ONE_OF(1, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETPIPE_SZ, F_SETPIPE_SZ),
	 .why = "libslirp sets O_NONBLOCK and FD_CLOEXEC on new sockets; relay.c sizes pipes"},
	{"ioctl", ONE_OF(1, FIONREAD, SIOCGIFINDEX, SIOCGIFFLAGS, TCGETS),
	 .why = "FIONREAD: libslirp sizes datagrams; SIOCGIFINDEX: if_nametoindex(); "
	        "TCGETS: isatty() in glib's log writer"},

	/* libslirp's host sockets (TCP, UDP, ICMP ping sockets; IPv4, IPv6), forwards, API */
	{"socket", ONE_OF(0, AF_INET, AF_INET6),
	 .why = "libslirp's TCP/UDP/ICMP sockets and DNS forwarding; forward listeners"},
	{"socket", ONE_OF(0, AF_UNIX), .errnum = EAFNOSUPPORT,
	 .why = "glibc's if_nametoindex() tries AF_UNIX before AF_INET: let it fall through"},
	{"connect", .why = "libslirp's outgoing TCP and UDP sockets; relay.c into libslirp"},
	{"bind", .why = "forward listeners; --outbound-addr; forward.c picks ephemeral ports"},
	{"listen", .why = "TCP forward listeners"},
	{"accept", .why = "libslirp accepts connections on its TCP forwards"},
	{"accept4", .why = "the API server and relay.c accept clients; bess.c its peer"},
	{"getsockname", .why = "libslirp and forward.c learn bound addresses and ports"},
	{"getpeername", .why = "libslirp checks whether a TCP connect() completed"},
	{"getsockopt", .why = "SO_ERROR (libslirp, relay.c); SO_PEERCRED (bess.c, --debug)"},
	{"setsockopt", .why = "libslirp: SO_REUSEADDR, SO_OOBINLINE, TCP_NODELAY, IPV6_V6ONLY, "
	                      "IP_TTL, IP(V6)_RECVERR, IPV6_UNICAST_HOPS; relay.c: SO_LINGER"},
	{"sendto", .why = "send()/sendto(): libslirp's sockets, API answers"},
	{"sendmsg", .why = "udpout.c: a flow's datagrams in one send (UDP_SEGMENT)"},
	{"sendmmsg", .why = "udpout.c: a flow's datagrams in one call where UDP_SEGMENT is refused"},
	{"recvfrom", .why = "recv()/recvfrom(): libslirp's sockets, API requests"},
	{"recvmmsg", .why = "udpout.c, udpfwd.c: host datagrams for the namespace, several per call"},
	{"recvmsg", .why = "libslirp reads ICMP errors from the error queue (MSG_ERRQUEUE)"},
	{"shutdown", .why = "libslirp and relay.c half-close TCP; the API ends answered clients"},
	{"pipe2", .why = "relay.c (an IPv6 host address forwarded to an IPv4 guest): a pipe per "
	                 "direction"},
	{"splice", .why = "relay.c moves bytes socket -> pipe -> socket"},
	{"epoll_ctl", .why = "tcpout.c adds each new host socket to its set"},
#ifdef __NR_epoll_wait
	{"epoll_wait", .why = "tcpout.c collects its sockets' events"},
#endif
	{"epoll_pwait", .why = "epoll_wait() on ABIs without epoll_wait(2) (aarch64)"},

	/* libslirp re-reads /etc/resolv.conf: stat() at most once a second, then
	 * fopen/fgets/fclose when it changed. Several C libraries, several calls. */
	{"newfstatat", .why = "stat() and fstat() in glibc >= 2.33 and musl"},
	{"fstat", .why = "fstat() in older glibc and musl (stdio buffers)"},
	{"stat", .why = "stat() in glibc < 2.33"},
	{"statx", .why = "stat() where the C library prefers statx"},
	{"openat", CLEARED(2, OPEN_WRITE_FLAGS), .why = "fopen(\"/etc/resolv.conf\", \"r\")"},
	{"open", CLEARED(1, OPEN_WRITE_FLAGS), .why = "fopen() in musl, which uses open(2)"},
	{"lseek", .why = "fclose() with unread input (libslirp stops after four nameservers)"},

	/* memory: malloc (also glib's and jansson's), libslirp's mbufs */
	{"brk", .why = "malloc grows the heap"},
	{"mmap", CLEARED(2, PROT_EXEC), .why = "malloc of large blocks; never executable"},
	{"munmap", .why = "free of large blocks"},

	/* tapring.c: its two rings were made before this filter and restricted (no
	 * io_uring_setup here): to multishot reads and writes of the tap, and to the two
	 * registrations that release it */
	{"io_uring_enter", .why = "tapring.c submits the tap's queued writes, and its read again"},
	{"io_uring_register", .why = "tapring.c, at exit: cancel the read, unregister the tap"},
	{"mremap", .why = "realloc of large blocks (GArray, GByteArray)"},
	{"madvise", .why = "free() gives memory back (MADV_DONTNEED)"},
	{"mprotect", CLEARED(2, PROT_EXEC), .why = "malloc arenas grow; never executable"},

	/* the C library and glib underneath */
	{"getrandom", .why = "the C library's randomness (arc4random, malloc in newer glibc)"},
	{"futex", .why = "glibc and glib locks (never contended here, but unlock may wake)"},
	{"rt_sigprocmask", .why = "abort() blocks signals; glibc internals save and restore masks"},
	{"rt_sigreturn", .why = "returning from a signal handler"},
	{"getpid", .why = "abort() signals its own process"},
	{"gettid", .why = "abort() signals its own thread"},
	{"tgkill", ONE_OF(0, OWN_PID),
	 .why = "abort() (g_error, assertions) raises SIGABRT: a core dump, not SIGSYS"},

	/* the end: SIGTERM (read from the signalfd), exit fd, tap gone, or die() */
	{"unlinkat", ONE_OF(2, 0), .why = "the API and bess.c remove their socket files through "
	                                  "their directory fds"},
	{"exit_group", .why = "exit() and _exit()"},
	{"exit", .why = "glibc's _exit() falls back to it"},

#ifdef WITH_ASAN
	/* AddressSanitizer (--enable-sanitizers): the daemon's own work needs nothing more, but
	 * an error report looks up module paths (gcc) or forks a symbolizer (clang): failing
	 * those instead of killing lets the report come out whole, unsymbolized. LeakSanitizer
	 * runs before the filter (sandbox_leak_check_now). Test builds only. */
	{"sigaltstack", .why = "ASan: its signal stack, looked at again when _exit() runs"},
	{"readlink", .errnum = EPERM, .why = "ASan report: module paths"},
	{"readlinkat", .errnum = EPERM, .why = "ASan report: module paths (ABIs without readlink)"},
	{"fork", .errnum = EPERM, .why = "ASan report: an external symbolizer"},
	{"clone", .errnum = EPERM, .why = "ASan report: an external symbolizer (ABIs without fork)"},
#endif
};
/* clang-format on */

/* The build host's secondary ABIs: calls through them meet the same table (see the top). */
static const uint32_t secondary_arches[] = {
#if defined(__x86_64__) && !defined(__ILP32__)
    SCMP_ARCH_X86,
    SCMP_ARCH_X32,
#elif defined(__aarch64__)
    SCMP_ARCH_ARM,
#elif defined(__s390x__)
    SCMP_ARCH_S390,
#endif
};

static void release_ctx(scmp_filter_ctx *ctx)
{
	if (*ctx != NULL)
		seccomp_release(*ctx);
}
#define autorelease_ctx __attribute__((cleanup(release_ctx)))

static uint32_t kill_action(void)
{
	/* API level 3: the kernel and libseccomp know SECCOMP_RET_KILL_PROCESS (Linux 4.14). */
	return seccomp_api_get() >= 3 ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_KILL;
}

static int add_row(scmp_filter_ctx ctx, const struct allow *a, int nr, pid_t pid)
{
	uint32_t action = a->errnum ? SCMP_ACT_ERRNO((uint32_t)a->errnum) : SCMP_ACT_ALLOW;
	if (a->test == ARG_ANY)
		return seccomp_rule_add(ctx, action, nr, 0);
	if (a->test == ARG_CLEARED)
		return seccomp_rule_add(ctx, action, nr, 1,
		                        SCMP_CMP(a->arg, SCMP_CMP_MASKED_EQ, a->values[0], 0));
	for (unsigned i = 0; i < a->nvalues; i++) {
		uint64_t v = a->values[i] == OWN_PID ? (uint64_t)pid : a->values[i];
		int rc = seccomp_rule_add(ctx, action, nr, 1,
		                          SCMP_CMP(a->arg, SCMP_CMP_MASKED_EQ, 0xffffffffu, v));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* What a filter is built for: how it kills, and the process that tgkill() may signal. */
struct target {
	uint32_t kill; /* SCMP_ACT_KILL_PROCESS or SCMP_ACT_KILL */
	pid_t pid;
};

/*
 * A filter for one ABI (native when arch is 0). The native filter must take every row whose
 * name the native ABI has; a secondary one takes what libseccomp can express there.
 */
static scmp_filter_ctx filter_for(uint32_t arch, const struct target *t, GError **err)
{
	autorelease_ctx scmp_filter_ctx ctx = seccomp_init(t->kill);
	if (ctx == NULL)
		return set_error(err, 0, "seccomp: seccomp_init failed"), NULL;
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, t->kill);
#if SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 5)
	/* A binary search over the calls: the daemon makes many, each one goes through this. */
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
#endif
	if (rc == 0 && arch != 0) {
		rc = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE);
		if (rc == 0)
			rc = seccomp_arch_add(ctx, arch);
	}
	if (rc < 0)
		return set_error(err, -rc, "seccomp: set up the filter"), NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(allowlist); i++) {
		const struct allow *a = &allowlist[i];
		int nr = seccomp_syscall_resolve_name(a->name);
		if (nr == __NR_SCMP_ERROR)
			continue; /* libseccomp does not know it here */
		rc = add_row(ctx, a, nr, t->pid);
		if (rc < 0 && arch == 0)
			return set_error(err, -rc, "seccomp: allow %s", a->name), NULL;
	}
	scmp_filter_ctx out = ctx;
	ctx = NULL;
	return out;
}

static scmp_filter_ctx build(const struct target *t, GError **err)
{
	autorelease_ctx scmp_filter_ctx ctx = filter_for(0, t, err);
	if (ctx == NULL)
		return NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(secondary_arches); i++) {
		if (seccomp_arch_exist(ctx, secondary_arches[i]) == 0)
			continue; /* native already */
		scmp_filter_ctx sub = filter_for(secondary_arches[i], t, err);
		if (sub == NULL)
			return NULL;
		int rc = seccomp_merge(ctx, sub); /* takes sub, on success only */
		if (rc < 0) {
			seccomp_release(sub);
			return set_error(err, -rc, "seccomp: add secondary architecture %#x",
			                 secondary_arches[i]),
			       NULL;
		}
	}
	scmp_filter_ctx out = ctx;
	ctx = NULL;
	return out;
}

/* This process, with the strongest kill action the kernel and libseccomp offer. */
static struct target this_process(void)
{
	return (struct target){.kill = kill_action(), .pid = getpid()};
}

/*
 * The build-time copy (seccomp-gen writes src/seccomp-bpf.c, which only the daemon and the
 * tests link): &seccomp_prebuilt is NULL in a program without it.
 */
extern const struct seccomp_prebuilt seccomp_prebuilt __attribute__((weak));

struct sock_filter *seccomp_prebuilt_program(size_t *len)
{
	if (&seccomp_prebuilt == NULL)
		return NULL;
	struct target t = this_process();
	const struct seccomp_bpf *b = t.kill == SCMP_ACT_KILL_PROCESS
	                                  ? &seccomp_prebuilt.kill_process
	                                  : &seccomp_prebuilt.kill_thread;
	if (b->insns == NULL)
		return NULL; /* the build could not make this one */
	struct sock_filter *prog = g_new(struct sock_filter, b->len);
	memcpy(prog, b->insns, b->len * sizeof(*prog));
	for (size_t i = 0; i < b->npid; i++)
		prog[b->pid_at[i]].k = (uint32_t)t.pid;
	*len = b->len;
	return prog;
}

/* What seccomp_load() does with libseccomp's default attributes (no TSYNC, LOG or SSB). */
static bool load_program(struct sock_filter *insns, size_t len, GError **err)
{
	struct sock_fprog prog = {.len = (unsigned short)len, .filter = insns};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return set_error(err, errno, "seccomp: prctl(PR_SET_NO_NEW_PRIVS)");
	long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
	if (rc < 0 && errno == ENOSYS)
		rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
	if (rc < 0)
		return set_error(err, errno, "seccomp: load the filter");
	return true;
}

bool seccomp_apply(GError **err)
{
	sandbox_leak_check_now();
	size_t len = 0;
	g_autofree struct sock_filter *prebuilt = seccomp_prebuilt_program(&len);
	if (prebuilt != NULL)
		return load_program(prebuilt, len, err);
	struct target t = this_process();
	autorelease_ctx scmp_filter_ctx ctx = build(&t, err);
	if (ctx == NULL)
		return false;
	int rc = seccomp_load(ctx);
	if (rc < 0)
		return set_error(err, -rc, "seccomp: load the filter");
	return true;
}

bool seccomp_write_bpf(int fd, bool kill_process, pid_t pid, GError **err)
{
	struct target t = {.kill = kill_process ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_KILL,
	                   .pid = pid};
	autorelease_ctx scmp_filter_ctx ctx = build(&t, err);
	if (ctx == NULL)
		return false;
	int rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0)
		return set_error(err, -rc, "seccomp: generate the filter");
	return true;
}

bool seccomp_export(int fd, GError **err)
{
	struct target t = this_process();
	autorelease_ctx scmp_filter_ctx ctx = build(&t, err);
	if (ctx == NULL)
		return false;
	int rc = seccomp_export_pfc(ctx, fd);
	if (rc < 0)
		return set_error(err, -rc, "seccomp: export the filter");
	return true;
}
