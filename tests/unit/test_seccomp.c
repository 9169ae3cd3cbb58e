// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_seccomp.c - unit tests for the system call filter (src/seccomp.c), plus the sandbox's
 * one pure part, the walk that decides which directories DNS needs (src/sandbox.c).
 *
 * Each filter test forks a child that loads the filter and then makes the calls under test; the
 * parent looks at the child's wait status: exit 0 when the allowed calls worked, death by
 * SIGSYS when a forbidden call was made (the filter kills; no handler can intervene). Children
 * leave with _exit() so that nothing but the call under test runs after the filter is loaded.
 * The build-time filter (src/seccomp-bpf.c) must be what libseccomp generates at run time.
 * The path-walk tests build resolv.conf layouts (plain, systemd-resolved, NixOS, dangling,
 * looping) in a temporary directory.
 */
#include "config.h"
#include "sandbox.h"
#include "seccomp.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- running code under the filter ------------------------------------------------------- */

static int netns_fd = -1; /* opened before the filter, for setns() */
static pid_t parent_pid;  /* the test process, which a child may not signal */

static int run_filtered(void (*fn)(void))
{
	fflush(NULL);
	parent_pid = getpid();
	pid_t pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		GError *err = NULL;
		if (!seccomp_apply(&err)) {
			fprintf(stderr, "%s\n", err->message);
			_exit(100);
		}
		fn();
		_exit(0);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	return status;
}

static void describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status %#x", status);
}

#define assert_survives(fn)                                                                        \
	do {                                                                                       \
		char how_[128];                                                                    \
		int st_ = run_filtered(fn);                                                        \
		describe(st_, how_, sizeof(how_));                                                 \
		cr_assert(WIFEXITED(st_) && WEXITSTATUS(st_) == 0, #fn ": child %s", how_);        \
	} while (0)

#define assert_killed(fn)                                                                          \
	do {                                                                                       \
		char how_[128];                                                                    \
		int st_ = run_filtered(fn);                                                        \
		describe(st_, how_, sizeof(how_));                                                 \
		cr_assert(WIFSIGNALED(st_) && WTERMSIG(st_) == SIGSYS,                             \
		          #fn ": child %s, expected death by SIGSYS", how_);                       \
	} while (0)

static void setup(void)
{
	netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
}

static void teardown(void)
{
	if (netns_fd >= 0)
		close(netns_fd);
}

TestSuite(seccomp, .init = setup, .fini = teardown);

/* ---- what the daemon does keeps working ------------------------------------------------------ */

#define CHECK(n, cond)                                                                             \
	do {                                                                                       \
		if (!(cond))                                                                       \
			_exit(n);                                                                  \
	} while (0)

static void daemon_calls(void)
{
	int p[2];
	CHECK(1, pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
	CHECK(2, write(p[1], "x", 1) == 1);
	struct pollfd pfd = {.fd = p[0], .events = POLLIN};
	CHECK(3, poll(&pfd, 1, 1000) == 1);
	char c;
	CHECK(4, read(p[0], &c, 1) == 1);
	struct timespec ts;
	CHECK(5, syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) == 0);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(6, s >= 0);
	int n;
	CHECK(7, ioctl(s, FIONREAD, &n) == 0);
	int fl = fcntl(s, F_GETFL);
	CHECK(8, fl >= 0 && fcntl(s, F_SETFL, fl | O_NONBLOCK) == 0);
	int one = 1;
	CHECK(9, setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
	CHECK(10, close(s) == 0);
	s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(11, s >= 0 && close(s) == 0);
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* fopen(..., "r") */
	CHECK(12, fd >= 0 && close(fd) == 0);
	void *big = malloc(4 << 20); /* mmap */
	CHECK(13, big != NULL);
	memset(big, 1, 4 << 20);
	free(big); /* munmap */
	CHECK(14, getpid() > 0);
}

Test(seccomp, daemon_calls_are_allowed)
{
	assert_survives(daemon_calls);
}

/* libslirp logs through glib; the daemon's own messages go through stdio. */
static void logging(void)
{
	g_warning("a glib warning under the filter (expected in the test output)");
	g_message("a glib message under the filter (expected in the test output)");
	fprintf(stderr, "a stdio message under the filter (expected in the test output)\n");
}

Test(seccomp, logging_is_allowed)
{
	assert_survives(logging);
}

/* libslirp calls if_nametoindex() for "nameserver fe80::1%lo": AF_UNIX fails, AF_INET works. */
static void nameserver_scope(void)
{
	CHECK(1, if_nametoindex("lo") > 0);
}

Test(seccomp, if_nametoindex_works)
{
	assert_survives(nameserver_scope);
}

/* g_error() and failed assertions abort(): that must stay SIGABRT (a core dump, a clear cause). */
static void do_abort(void)
{
	abort();
}

Test(seccomp, abort_is_sigabrt)
{
	struct rlimit none = {0,
	                      0}; /* no core file from the test (this process is the test's own) */
	setrlimit(RLIMIT_CORE, &none);
	int st = run_filtered(do_abort);
	char how[128];
	describe(st, how, sizeof(how));
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "abort(): child %s", how);
}

/* The daemon's way out: exit() with its atexit handlers and stdio flush. */
static void leave_by_exit(void)
{
	printf("buffered output, flushed at exit\n");
	exit(0);
}

Test(seccomp, exit_is_allowed)
{
	assert_survives(leave_by_exit);
}

/* if_nametoindex() tries AF_UNIX first: that must fail cleanly, not kill. */
static void unix_socket_fails(void)
{
	CHECK(1, socket(AF_UNIX, SOCK_DGRAM, 0) == -1 && errno == EAFNOSUPPORT);
}

Test(seccomp, unix_socket_fails_without_killing)
{
	assert_survives(unix_socket_fails);
}

/* ---- what it never does kills it ---------------------------------------------------------------
 */

static void do_execve(void)
{
	char *argv[] = {"true", NULL}, *envp[] = {NULL};
	syscall(SYS_execve, "/bin/true", argv, envp);
}

static void do_ptrace(void)
{
	syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL);
}

static void do_mount(void)
{
	syscall(SYS_mount, "none", "/tmp", "tmpfs", 0UL, NULL);
}

static void do_unshare(void)
{
	syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS);
}

static void do_setns(void)
{
	syscall(SYS_setns, netns_fd, CLONE_NEWNET);
}

Test(seccomp, execve_kills)
{
	assert_killed(do_execve);
}

Test(seccomp, ptrace_kills)
{
	assert_killed(do_ptrace);
}

Test(seccomp, mount_kills)
{
	assert_killed(do_mount);
}

Test(seccomp, unshare_kills)
{
	assert_killed(do_unshare);
}

Test(seccomp, setns_kills)
{
	cr_assert_geq(netns_fd, 0, "open /proc/self/ns/net: %s", strerror(errno));
	assert_killed(do_setns);
}

/* ---- allowed calls with arguments outside their row --------------------------------------- */

static void netlink_socket(void)
{
	syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0);
}

static void tiocsti(void)
{
	char c = 'x';
	syscall(SYS_ioctl, 0, TIOCSTI, &c);
}

static void open_for_writing(void)
{
	syscall(SYS_openat, AT_FDCWD, "/tmp/slirpns-seccomp-test", O_WRONLY | O_CREAT, 0600);
}

static void mmap_exec(void)
{
	syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void mprotect_exec(void)
{
	static char page[8192] __attribute__((aligned(4096)));
	syscall(SYS_mprotect, page, 4096, PROT_READ | PROT_EXEC);
}

static void signal_another_process(void)
{
	syscall(SYS_tgkill, parent_pid, parent_pid, 0);
}

static void remove_directory(void)
{
	syscall(SYS_unlinkat, AT_FDCWD, "/tmp/slirpns-seccomp-test.d", AT_REMOVEDIR);
}

Test(seccomp, netlink_socket_kills)
{
	assert_killed(netlink_socket);
}

Test(seccomp, tty_ioctl_kills)
{
	assert_killed(tiocsti);
}

Test(seccomp, open_for_writing_kills)
{
	assert_killed(open_for_writing);
}

Test(seccomp, executable_mmap_kills)
{
	assert_killed(mmap_exec);
}

Test(seccomp, executable_mprotect_kills)
{
	assert_killed(mprotect_exec);
}

Test(seccomp, signalling_others_kills)
{
	assert_killed(signal_another_process);
}

Test(seccomp, rmdir_kills)
{
	assert_killed(remove_directory);
}

/* ---- the secondary ABIs of x86_64 ----------------------------------------------------------- */

#if defined(__x86_64__) && !defined(__ILP32__)
#define X32_BIT     0x40000000L
#define X32_EXECVE  (X32_BIT | 520)
#define I386_GETPID 20
#define I386_EXECVE 11
#define I386_PTRACE 26

static long int80(long nr)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(0L), "c"(0L), "d"(0L) : "memory");
	return ret;
}

static bool have_i386_abi(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(int80(I386_GETPID) == getpid() ? 0 : 1);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void i386_getpid(void)
{
	CHECK(1, int80(I386_GETPID) == getpid());
}

static void i386_execve(void)
{
	int80(I386_EXECVE);
}

static void i386_ptrace(void)
{
	int80(I386_PTRACE);
}

static void x32_execve(void)
{
	syscall(X32_EXECVE, 0L, 0L, 0L);
}

Test(seccomp, i386_abi_follows_the_table)
{
	if (!have_i386_abi())
		cr_skip_test("the kernel runs no i386 code (int $0x80)");
	assert_survives(i386_getpid);
	assert_killed(i386_execve);
	assert_killed(i386_ptrace);
}

Test(seccomp, x32_execve_kills)
{
	assert_killed(x32_execve);
}
#endif

/* ---- the filter as libseccomp sees it ------------------------------------------------------- */

Test(seccomp, export_lists_no_dangerous_call)
{
	char path[] = "/tmp/slirpns-pfc.XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	GError *err = NULL;
	cr_assert(seccomp_export(fd, &err), "%s", err ? err->message : "");
	lseek(fd, 0, SEEK_SET);
	GString *pfc = g_string_new(NULL);
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		g_string_append_len(pfc, buf, n);
	close(fd);
	cr_assert(strstr(pfc->str, "\"poll\"") != NULL, "poll missing from:\n%s", pfc->str);
	static const char *const never[] = {
	    "\"execve\"",     "\"execveat\"",   "\"ptrace\"", "\"mount\"", "\"unshare\"",
	    "\"setns\"",      "\"pivot_root\"", "\"kill\"",   "\"bpf\"",   "\"process_vm_writev\"",
	    "\"init_module\""};
	for (size_t i = 0; i < G_N_ELEMENTS(never); i++)
		cr_assert(strstr(pfc->str, never[i]) == NULL, "%s is in the filter", never[i]);
#if defined(__x86_64__) && !defined(__ILP32__)
	cr_assert(strstr(pfc->str, "arch x86 ") != NULL, "no i386 part:\n%s", pfc->str);
#endif
	g_string_free(pfc, TRUE);
}

/* ---- the build-time copy (src/seccomp-bpf.c, written by seccomp-gen) ----------------------- */

extern const struct seccomp_prebuilt seccomp_prebuilt __attribute__((weak));

/* The prebuilt variant completed for pid must be what libseccomp generates now for pid. */
static void check_variant(const struct seccomp_bpf *b, bool kill_process, pid_t pid)
{
	if (b->insns == NULL)
		return; /* the build left it to startup */
	struct sock_filter *mine = g_new(struct sock_filter, b->len);
	memcpy(mine, b->insns, b->len * sizeof(*mine));
	for (size_t i = 0; i < b->npid; i++)
		mine[b->pid_at[i]].k = (uint32_t)pid;
	int fd = memfd_create("test-seccomp", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	GError *err = NULL;
	cr_assert(seccomp_write_bpf(fd, kill_process, pid, &err), "%s", err ? err->message : "");
	off_t size = lseek(fd, 0, SEEK_END);
	cr_assert_eq((size_t)size, b->len * sizeof(*mine),
	             "libseccomp: %zu instructions, prebuilt: %zu", (size_t)size / sizeof(*mine),
	             b->len);
	struct sock_filter *now = g_malloc((size_t)size);
	cr_assert_eq(pread(fd, now, (size_t)size, 0), size);
	cr_assert(memcmp(mine, now, (size_t)size) == 0, "the prebuilt %s filter differs",
	          kill_process ? "kill_process" : "kill_thread");
	close(fd);
	g_free(now);
	g_free(mine);
}

Test(seccomp, prebuilt_is_what_libseccomp_generates)
{
	if (&seccomp_prebuilt == NULL)
		cr_skip_test("no build-time filter (cross build or --disable-seccomp-prebuilt)");
	check_variant(&seccomp_prebuilt.kill_process, true, 4242);
	check_variant(&seccomp_prebuilt.kill_thread, false, 4242);
	check_variant(&seccomp_prebuilt.kill_process, true, getpid());
	size_t len = 0;
	g_autofree struct sock_filter *prog = seccomp_prebuilt_program(&len);
	cr_assert(prog != NULL || seccomp_prebuilt.kill_process.insns == NULL ||
	              seccomp_prebuilt.kill_thread.insns == NULL,
	          "seccomp_apply() would not use the prebuilt filter");
}

/* ---- which directories DNS needs (sandbox_lookup_dirs) --------------------------------------- */

static char *top; /* a temporary directory, symlink-free */

static void fs_setup(void)
{
	char *tmp = g_dir_make_tmp("slirpns-walk.XXXXXX", NULL);
	cr_assert_not_null(tmp);
	top = realpath(tmp, NULL);
	g_free(tmp);
}

static void fs_teardown(void)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", top);
	cr_assert_eq(system(cmd), 0);
	free(top);
}

TestSuite(walk, .init = fs_setup, .fini = fs_teardown);

static char *at(const char *rel)
{
	return g_strconcat(top, "/", rel, NULL);
}

static void mkdirs(const char *rel)
{
	g_autofree char *p = at(rel);
	cr_assert_eq(g_mkdir_with_parents(p, 0755), 0);
}

static void mkfile(const char *rel)
{
	g_autofree char *p = at(rel);
	cr_assert(g_file_set_contents(p, "nameserver 127.0.0.1\n", -1, NULL));
}

/* target: relative as given, or absolute inside top when it starts with '/' */
static void mklink(const char *rel, const char *target)
{
	g_autofree char *p = at(rel);
	g_autofree char *t = target[0] == '/' ? g_strconcat(top, target, NULL) : g_strdup(target);
	cr_assert_eq(symlink(t, p), 0, "symlink %s: %s", p, strerror(errno));
}

/* Walk top/etc/resolv.conf; expect exactly the given directories (relative to top). */
static void expect_dirs(const char *const *want, size_t n)
{
	g_autofree char *path = at("etc/resolv.conf");
	g_autoptr(GPtrArray) root = NULL;
	g_autoptr(GPtrArray) dirs = sandbox_lookup_dirs(path, &root);
	GString *got = g_string_new(NULL);
	for (guint i = 0; i < dirs->len; i++)
		g_string_append_printf(got, "%s ", (char *)g_ptr_array_index(dirs, i));
	cr_expect_eq(dirs->len, n, "got %s", got->str);
	for (size_t i = 0; i < n && i < dirs->len; i++) {
		g_autofree char *w = at(want[i]);
		cr_expect_str_eq(g_ptr_array_index(dirs, i), w);
	}
	cr_expect_eq(root->len, 0, "entries in / reported for a path below %s", top);
	g_string_free(got, TRUE);
}
#define EXPECT_DIRS(...)                                                                           \
	do {                                                                                       \
		const char *const want_[] = {__VA_ARGS__};                                         \
		expect_dirs(want_, G_N_ELEMENTS(want_));                                           \
	} while (0)

Test(walk, plain_file)
{
	mkdirs("etc");
	mkfile("etc/resolv.conf");
	EXPECT_DIRS("etc");
}

Test(walk, missing_file_keeps_its_directory)
{
	mkdirs("etc");
	EXPECT_DIRS("etc");
}

Test(walk, systemd_resolved)
{
	mkdirs("etc");
	mkdirs("run/systemd/resolve");
	mkfile("run/systemd/resolve/stub-resolv.conf");
	mklink("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf");
	EXPECT_DIRS("etc", "run/systemd/resolve");
}

Test(walk, nixos_chain)
{
	mkdirs("etc");
	mkdirs("nix/store/aaa-etc/etc");
	mkfile("nix/store/bbb-resolv.conf");
	mklink("etc/resolv.conf", "/etc/static/resolv.conf");
	mklink("etc/static", "/nix/store/aaa-etc/etc");
	mklink("nix/store/aaa-etc/etc/resolv.conf", "/nix/store/bbb-resolv.conf");
	/* nix/store/aaa-etc/etc is inside nix/store: one bind covers both */
	EXPECT_DIRS("etc", "nix/store");
}

Test(walk, dangling_link_keeps_the_deepest_existing_directory)
{
	mkdirs("etc");
	mkdirs("run");
	mklink("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf");
	EXPECT_DIRS("etc", "run");
}

Test(walk, link_loop_ends)
{
	mkdirs("etc");
	mklink("etc/resolv.conf", "loop");
	mklink("etc/loop", "resolv.conf");
	EXPECT_DIRS("etc");
}

Test(walk, dot_and_dotdot)
{
	mkdirs("etc");
	mkdirs("a/b");
	mkfile("a/b/r");
	mklink("etc/resolv.conf", "./../a/./b/../b/r");
	EXPECT_DIRS("a/b", "etc");
}
