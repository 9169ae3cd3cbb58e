// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * netns.c - get a tap device out of the target network namespace.
 *
 * The daemon must stay in the host's namespaces (its sockets are the host side of every
 * connection), yet the tap has to be created inside the target's network namespace, with
 * privileges that only the target's user namespace grants an unprivileged user. So a short-lived
 * child does it: it opens the namespace files, joins the user namespace (unless it is already
 * there) and then the network namespace, opens /dev/net/tun with IFF_TAP|IFF_NO_PI (creating
 * TAPNAME or attaching to an existing one), configures the link with rtnetlink when -c was
 * given, and sends the fd back over a SOCK_SEQPACKET socketpair with SCM_RIGHTS. On failure it
 * sends the error text instead, so the parent reports one clean line. The parent reaps it.
 *
 * With -6 -c the IPv6 address and default route come from libslirp's router advertisements
 * (SLAAC). Before the tap goes up, the child makes sure the namespace's kernel will act on them:
 * IPv6 enabled, autoconf on, and accept_ra=2 when the namespace forwards IPv6 (container
 * runtimes often enable forwarding, and with forwarding on accept_ra=1 ignores advertisements).
 * /proc/sys/net shows the namespace of the process that opens it, and the tap's files belong to
 * the namespace's root, which the child is. Values that are already right are not rewritten, so
 * a read-only /proc/sys only matters when a change is needed; then it is a warning.
 *
 * With --netns-type=tapfd the caller already did all of that and hands us the fd.
 *
 * The tap fd itself keeps the namespace alive (the tun file pins the network namespace it was
 * opened in), so when the target process dies the tap does not go away and the fd reports
 * nothing. In pid mode netns_target_pidfd() gives the caller a pidfd to watch instead.
 */
#include "config.h"
#include "netns.h"
#include "netlink.h"
#include "tap.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static bool same_ns(int fd, const char *self)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(self, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* what: slirp4netns's words for a path given by the user that is not there, or NULL. */
static int open_ns(const char *path, const char *what, GError **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && what != NULL && errno == ENOENT)
		set_error(err, errno, "%s: %s", what, path);
	else if (fd < 0)
		set_error(err, errno, "open %s", path);
	return fd;
}

/* Join the target's namespaces: user namespace first (it grants the rights to join the other). */
bool netns_enter(const struct options *opt, GError **err)
{
	g_autofree char *netns_path = NULL;
	g_autofree char *userns_path = g_strdup(opt->userns_path);
	if (opt->netns_type == NETNS_PID) {
		netns_path = g_strdup_printf("/proc/%d/ns/net", (int)opt->target_pid);
		if (userns_path == NULL)
			userns_path = g_strdup_printf("/proc/%d/ns/user", (int)opt->target_pid);
	} else {
		netns_path = g_strdup(opt->target_path);
	}
	autoclose_fd int userns = -1;
	/* slirp4netns checks that the paths exist while it parses the command line. */
	const char *userns_what = opt->userns_path ? "userns path doesn't exist" : NULL;
	if (userns_path != NULL && (userns = open_ns(userns_path, userns_what, err)) < 0)
		return false;
	autoclose_fd int netns = open_ns(
	    netns_path,
	    opt->netns_type == NETNS_PATH ? "existing path expected when --netns-type=path" : NULL,
	    err);
	if (netns < 0)
		return false;
	if (userns >= 0 && !same_ns(userns, "/proc/self/ns/user") &&
	    setns(userns, CLONE_NEWUSER) < 0)
		return set_error(err, errno, "join user namespace %s", userns_path);
	if (setns(netns, CLONE_NEWNET) < 0)
		return set_error(err, errno, "join network namespace %s", netns_path);
	return true;
}

static int open_tap(const char *name, bool offload, GError **err)
{
	autoclose_fd int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		set_error(err, errno, "open /dev/net/tun");
		return -1;
	}
	struct ifreq ifr = {.ifr_flags = tap_open_flags(offload)};
	g_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		set_error(err, errno, "create tap %s (TUNSETIFF)", name);
		return -1;
	}
	g_autoptr(GError) off_err = NULL;
	/* Without TUNSETOFFLOAD the namespace just sends plain frames; we still send GSO. */
	if (offload && !tap_enable_offload(fd, &off_err))
		log_warn("%s: offloads unavailable: %s", name, off_err->message);
	int ret = fd;
	fd = -1;
	return ret;
}

/* Read a sysctl file holding one integer; false when it cannot be read or parsed. */
static bool sysctl_read(const char *path, int *value)
{
	char buf[32];
	autoclose_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	char *end;
	long v = strtol(buf, &end, 10);
	if (end == buf || v < INT_MIN || v > INT_MAX)
		return false;
	*value = (int)v;
	return true;
}

static bool sysctl_write(const char *path, int value, GError **err)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d\n", value);
	autoclose_fd int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return set_error(err, errno, "open %s", path);
	if (write(fd, buf, (size_t)len) != len)
		return set_error(err, errno, "write %d to %s", value, path);
	return true;
}

/* Set net.ipv6.conf.TAP.KNOB to want unless its value is already within [lo, hi]. */
static void ipv6_conf_ensure(const char *tap, const char *knob, int lo, int hi, int want)
{
	g_autofree char *path = g_strdup_printf("/proc/sys/net/ipv6/conf/%s/%s", tap, knob);
	g_autoptr(GError) err = NULL;
	int cur;
	if (sysctl_read(path, &cur) && cur >= lo && cur <= hi)
		return;
	if (!sysctl_write(path, want, &err))
		log_warn("-6: %s (IPv6 autoconfiguration of %s may not work)", err->message, tap);
}

/* -6 -c: let the kernel autoconfigure the tap from libslirp's router advertisements. */
static void ipv6_allow_slaac(const char *tap)
{
	g_autofree char *fwd_path = g_strdup_printf("/proc/sys/net/ipv6/conf/%s/forwarding", tap);
	int forwarding = 0;
	if (!sysctl_read(fwd_path, &forwarding)) {
		log_warn("-6: cannot read %s: %s (no IPv6 in the namespace?)", fwd_path,
		         g_strerror(errno));
		return;
	}
	ipv6_conf_ensure(tap, "disable_ipv6", 0, 0, 0);
	ipv6_conf_ensure(tap, "autoconf", 1, INT_MAX, 1);
	ipv6_conf_ensure(tap, "accept_ra", forwarding ? 2 : 1, 2, 2);
}

/* -c: lo up; tap MTU, MAC and up; network+100/prefix; default route via network+2. */
static bool configure(const struct options *opt, GError **err)
{
	autoclose_fd int nl = nl_open(err);
	if (nl < 0)
		return false;
	unsigned lo = if_nametoindex("lo");
	unsigned tap = if_nametoindex(opt->tapname);
	if (lo == 0 || tap == 0)
		return set_error(err, errno, "find interface %s", lo == 0 ? "lo" : opt->tapname);
	if (!nl_link_setup(nl, (int)lo, 0, NULL, err))
		return g_prefix_error(err, "lo: "), false;
	if (opt->ipv6)
		ipv6_allow_slaac(opt->tapname);
	if (!nl_link_setup(nl, (int)tap, opt->mtu, opt->has_mac ? opt->mac : NULL, err) ||
	    !nl_addr4_add(nl, (int)tap, addr4_offset(opt->net, 100), opt->prefix, err) ||
	    !nl_route4_default(nl, (int)tap, addr4_offset(opt->net, 2), err))
		return g_prefix_error(err, "%s: ", opt->tapname), false;
	return true;
}

static bool send_fd(int sock, int fd)
{
	return unix_send_fd(sock, "", 1, fd, 0) == 1;
}

/*
 * The child ran in the container's namespaces: check that what it sent is a tun/tap device
 * (a character device that answers TUNGETIFF, in tap mode) before the daemon uses it.
 */
static int check_tap_fd(int fd, GError **err)
{
	struct stat st;
	struct ifreq ifr = {0};
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || ioctl(fd, TUNGETIFF, &ifr) < 0 ||
	    !(ifr.ifr_flags & IFF_TAP)) {
		close(fd);
		set_error(err, 0, "receive tap fd: the namespace helper sent something else");
		return -1;
	}
	return fd;
}

/* Receive either an fd (one byte plus SCM_RIGHTS) or an error text. */
static int recv_fd(int sock, GError **err)
{
	char text[1024];
	int fd;
	ssize_t n = unix_recv_fd(sock, text, sizeof(text) - 1, &fd, 0, NULL);
	if (n < 0) {
		set_error(err, errno, "receive tap fd");
		return -1;
	}
	if (fd >= 0)
		return check_tap_fd(fd, err);
	text[n] = '\0';
	set_error(err, 0, "%s", n > 0 ? text : "namespace helper exited without a tap fd");
	return -1;
}

static G_NORETURN void child_main(const struct options *opt, int sock)
{
	g_autoptr(GError) err = NULL;
	int fd = -1;
	bool entered = netns_enter(opt, &err);
	if (entered)
		process_set_undumpable(); /* entering the user namespace may reset it (util.h) */
	if (entered && (fd = open_tap(opt->tapname, !opt->no_offload, &err)) >= 0 &&
	    (!opt->configure || configure(opt, &err)) && send_fd(sock, fd))
		_exit(0);
	const char *msg = err ? err->message : "send tap fd failed";
	if (send(sock, msg, strlen(msg), 0) < 0)
		_exit(2);
	_exit(1);
}

/* The child shares our memory, so it runs on a stack of its own; a guard page ends it. */
#define CHILD_STACK_SIZE (256 * 1024)

struct child_args {
	const struct options *opt;
	int sock;
};

static int child_entry(void *p)
{
	const struct child_args *a = p;
	child_main(a->opt, a->sock);
}

/*
 * Start child_main() as posix_spawn() starts a process: clone(CLONE_VM | CLONE_VFORK), a child
 * that shares our memory and suspends us until it exits. We wait for it anyway, and so skip
 * what fork() costs: copying the page tables, the copy-on-write faults after it, tearing the
 * copy down at exit. What the child allocates stays in our heap (a few bytes); what it prints
 * goes to stderr, which is unbuffered; its fds are its own (no CLONE_FILES).
 */
static pid_t spawn_child(const struct options *opt, int sock)
{
#ifdef WITH_ASAN
	/* AddressSanitizer cannot follow a task onto another stack (false reports): fork. */
	pid_t child = fork();
	if (child == 0)
		child_main(opt, sock);
	return child;
#endif
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	char *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -1;
	struct child_args args = {.opt = opt, .sock = sock};
	pid_t pid = -1;
	if (mprotect(stack, page, PROT_NONE) == 0)
		pid = clone(child_entry, stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD,
		            &args);
	int saved = errno;
	munmap(stack, CHILD_STACK_SIZE);
	errno = saved;
	return pid;
}

static int adopt_tapfd(int fd, GError **err)
{
	int flags = fcntl(fd, F_GETFD);
	if (flags < 0) {
		set_error(err, errno, "--netns-type=tapfd: fd %d", fd);
		return -1;
	}
	fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
	return fd;
}

int netns_open_tap(const struct options *opt, GError **err)
{
	int fd = -1;
	if (opt->netns_type == NETNS_TAPFD) {
		fd = adopt_tapfd(opt->target_tapfd, err);
	} else {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			return set_error(err, errno, "socketpair"), -1;
		pid_t pid = spawn_child(opt, sv[1]);
		if (pid < 0) {
			set_error(err, errno, "clone");
			close(sv[0]);
			close(sv[1]);
			return -1;
		}
		close(sv[1]);
		fd = recv_fd(sv[0], err);
		close(sv[0]);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (fd >= 0 && !fd_set_nonblock(fd, err)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int netns_target_pidfd(const struct options *opt)
{
#ifdef SYS_pidfd_open
	if (opt->netns_type != NETNS_PID)
		return -1;
	/* pidfd_open() fds are always close-on-exec. */
	return (int)syscall(SYS_pidfd_open, opt->target_pid, 0);
#else
	return -1;
#endif
}
