// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * startup.c - exec-to-ready of two or more daemons, started alternately (contrib/bench/startup.sh).
 *
 * usage: startup [-n ROUNDS] [-u UID:GID] [-m pid|path] [-o SAMPLES.csv] [-d DIR] NAME=BINARY...
 *
 * Every start gets a fresh container namespace: a child that (as UID:GID when -u is given, as
 * the bench and podman run it) unshares a user and a network namespace, maps itself to root
 * there (unshare --user --map-root-user --net) and sleeps. The daemon is then started with
 * podman's flags:
 *   pid:  --configure --mtu=65520 --enable-sandbox --enable-seccomp --enable-ipv6
 *         --disable-host-loopback -e 3 -r 4 --api-socket DIR/api.sock PID tap0
 *         (contrib/bench/contenders.sh, rootlesskit), started from the host's namespaces;
 *   path: the same with --netns-type=path /proc/PID/ns/net tap0, started inside the
 *         container's user namespace, as rootless podman starts slirp4netns from its own.
 * The time is taken with CLOCK_MONOTONIC just before posix_spawn() (a vfork: the launcher's
 * own size does not matter; path mode forks, joins the user namespace and execs) and again
 * when the ready fd (a pipe) yields the byte "1"; the launcher sleeps in poll() in between,
 * so it takes no CPU from the daemon. Then the exit fd is closed (the daemon exits 0), both
 * processes are reaped and the next contender starts.
 * Contenders alternate, and the order within a round rotates, so drift and caches hit all.
 *
 * Prints, per contender, the median, p10, p90, mean and minimum in ms, and each contender's
 * median over the first's; -o writes every sample (round,name,us).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONTENDERS 8

struct contender {
	const char *name;
	const char *bin;
	double *us;
	int n;
};

static int rounds = 100;
static uid_t run_uid;
static gid_t run_gid;
static int drop_user;
static int path_mode;
static const char *dir = "/tmp";
extern char **environ;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("startup: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		_exit(10);
	close(fd);
}

/* The container namespace: unshare --user --map-root-user --net sleep infinity. */
static pid_t new_ns(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		char map[64];
		uid_t uid = geteuid();
		gid_t gid = getegid();
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* gone with us, even if we die() */
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
			_exit(11);
		write_file("/proc/self/setgroups", "deny");
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		write_file("/proc/self/uid_map", map);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		write_file("/proc/self/gid_map", map);
		if (write(p[1], "1", 1) != 1)
			_exit(12);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	char c;
	if (read(p[0], &c, 1) != 1)
		die("the container namespace did not come up");
	close(p[0]);
	return pid;
}

static void reap(pid_t pid, const char *what)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid %s: %s", what, strerror(errno));
}

/* A pipe whose ends are above the fds the daemon gets (1-4): dup2() onto those is safe. */
static void high_pipe(int p[2])
{
	int low[2];
	if (pipe2(low, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		p[i] = fcntl(low[i], F_DUPFD_CLOEXEC, 10);
		if (p[i] < 0)
			die("fcntl: %s", strerror(errno));
		close(low[i]);
	}
}

static pid_t spawn(const posix_spawn_file_actions_t *fa, char **argv)
{
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], fa, NULL, argv, environ);
	if (rc != 0)
		die("spawn %s: %s", argv[0], strerror(rc));
	return pid;
}

static int open_userns(pid_t nspid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)nspid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	return fd;
}

/* Path mode: the daemon starts inside the container's user namespace, as under podman. */
static pid_t spawn_in_userns(int userns, char **argv, int exit_fd, int ready_fd, const char *log)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid > 0)
		return pid;
	/* Out of the way of 1-4 first (the pipes are already), so no dup2() closes a source. */
	int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	out = fcntl(out, F_DUPFD_CLOEXEC, 10);
	if (setns(userns, CLONE_NEWUSER) < 0 || out < 0 || dup2(exit_fd, 3) < 0 ||
	    dup2(ready_fd, 4) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(126);
	execve(argv[0], argv, environ);
	_exit(127);
}

/* One start of BIN against namespace NSPID; returns exec-to-ready in µs. */
static double start_once(const char *bin, pid_t nspid)
{
	char nsarg[64], api[4096], log[4096];
	int ready[2], exitp[2];
	snprintf(api, sizeof(api), "%s/api.sock", dir);
	snprintf(log, sizeof(log), "%s/daemon.log", dir);
	unlink(api);
	snprintf(nsarg, sizeof(nsarg), path_mode ? "/proc/%d/ns/net" : "%d", (int)nspid);
	char *argv[] = {(char *)bin,
	                "--configure",
	                "--mtu=65520",
	                "--enable-sandbox",
	                "--enable-seccomp",
	                "--enable-ipv6",
	                "--disable-host-loopback",
	                "-e",
	                "3",
	                "-r",
	                "4",
	                "--api-socket",
	                api,
	                path_mode ? "--netns-type=path" : nsarg,
	                path_mode ? nsarg : "tap0",
	                path_mode ? "tap0" : NULL,
	                NULL};
	high_pipe(ready);
	high_pipe(exitp);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, exitp[0], 3);
	posix_spawn_file_actions_adddup2(&fa, ready[1], 4);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	int userns = path_mode ? open_userns(nspid) : -1;
	double t0 = now_us();
	pid_t pid =
	    userns >= 0 ? spawn_in_userns(userns, argv, exitp[0], ready[1], log) : spawn(&fa, argv);
	if (userns >= 0)
		close(userns);
	close(ready[1]);
	close(exitp[0]);
	struct pollfd pfd = {.fd = ready[0], .events = POLLIN};
	char c = 0;
	while (poll(&pfd, 1, 20000) < 0 && errno == EINTR)
		;
	ssize_t n = read(ready[0], &c, 1);
	double t1 = now_us();
	posix_spawn_file_actions_destroy(&fa);
	if (n != 1 || c != '1')
		die("%s did not report ready (its output: %s)", bin, log);
	close(ready[0]);
	close(exitp[1]); /* the exit fd hangs up: the daemon exits */
	reap(pid, bin);
	return t1 - t0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int n, double p)
{
	double k = p * (n - 1);
	int i = (int)k;
	return i + 1 < n ? sorted[i] + (k - i) * (sorted[i + 1] - sorted[i]) : sorted[n - 1];
}

static void report(struct contender *c, int nc)
{
	double base = 0;
	printf("%-12s %8s %8s %8s %8s %8s %7s\n", "contender", "median", "p10", "p90", "mean",
	       "min", "ratio");
	for (int i = 0; i < nc; i++) {
		double sum = 0;
		for (int k = 0; k < c[i].n; k++)
			sum += c[i].us[k];
		qsort(c[i].us, (size_t)c[i].n, sizeof(double), cmp);
		double med = pct(c[i].us, c[i].n, 0.5);
		if (i == 0)
			base = med;
		printf("%-12s %8.3f %8.3f %8.3f %8.3f %8.3f %7.3f\n", c[i].name, med / 1e3,
		       pct(c[i].us, c[i].n, 0.1) / 1e3, pct(c[i].us, c[i].n, 0.9) / 1e3,
		       sum / c[i].n / 1e3, c[i].us[0] / 1e3, med / base);
	}
	printf("(ms over %d starts each; ratio = median / %s's median)\n", c[0].n, c[0].name);
}

static void become_user(void)
{
	if (!drop_user)
		return;
	if (setgroups(0, NULL) < 0 || setgid(run_gid) < 0 || setuid(run_uid) < 0)
		die("cannot become %u:%u: %s", (unsigned)run_uid, (unsigned)run_gid,
		    strerror(errno));
	/* setuid() made us undumpable: our /proc files (uid_map, ns/) would stay root's. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

static void parse_args(int argc, char **argv, struct contender *c, int *nc, FILE **samples)
{
	int opt;
	unsigned u, g;
	while ((opt = getopt(argc, argv, "n:u:m:o:d:")) != -1) {
		switch (opt) {
		case 'n':
			rounds = atoi(optarg);
			break;
		case 'u':
			if (sscanf(optarg, "%u:%u", &u, &g) != 2)
				die("-u UID:GID");
			run_uid = u, run_gid = g, drop_user = 1;
			break;
		case 'm':
			path_mode = strcmp(optarg, "path") == 0;
			break;
		case 'o':
			if ((*samples = fopen(optarg, "w")) == NULL)
				die("%s: %s", optarg, strerror(errno));
			break;
		case 'd':
			dir = optarg;
			break;
		default:
			die("usage: startup [-n N] [-u UID:GID] [-m pid|path] [-o CSV] [-d DIR] "
			    "NAME=BIN...");
		}
	}
	for (*nc = 0; optind < argc && *nc < MAX_CONTENDERS; optind++, (*nc)++) {
		char *eq = strchr(argv[optind], '=');
		if (eq == NULL)
			die("%s: expected NAME=BINARY", argv[optind]);
		*eq = '\0';
		c[*nc] = (struct contender){argv[optind], eq + 1,
		                            calloc((size_t)rounds, sizeof(double)), 0};
	}
	if (*nc == 0 || rounds < 1)
		die("nothing to measure");
}

int main(int argc, char **argv)
{
	struct contender c[MAX_CONTENDERS];
	int nc;
	FILE *samples = NULL;
	parse_args(argc, argv, c, &nc, &samples);
	signal(SIGPIPE, SIG_IGN);
	become_user();
	if (samples)
		fprintf(samples, "round,name,us\n");
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < nc; k++) {
			struct contender *x = &c[(r + k) % nc];
			pid_t ns = new_ns();
			double us = start_once(x->bin, ns);
			kill(ns, SIGKILL);
			reap(ns, "namespace");
			x->us[x->n++] = us;
			if (samples)
				fprintf(samples, "%d,%s,%.1f\n", r, x->name, us);
			usleep(20000); /* let helpers exit and the CPUs settle */
		}
	}
	if (samples)
		fclose(samples);
	report(c, nc);
	return 0;
}
