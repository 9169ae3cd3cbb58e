// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * seccomp_gen.c - seccomp-gen, run by the build: write src/seccomp-bpf.c, the daemon's seccomp
 * filter as BPF generated at build time (src/seccomp.c says why).
 *
 * usage: seccomp-gen > seccomp-bpf.c
 *
 * For each kill action (SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD) libseccomp generates
 * the filter twice, for two made-up pids. The two programs must be the same but for the
 * constant of some "jump if equal" instructions, where one has the first pid and the other the
 * second: those are where the daemon puts its own pid. Anything else (a libseccomp that cannot
 * make the variant, say because the build host's kernel lacks KILL_PROCESS, or programs that
 * differ otherwise) leaves that variant out with a warning, and the daemon then has libseccomp
 * build the filter at startup. The output is C: the instructions, the pid positions, and the
 * struct seccomp_prebuilt that seccomp.c looks for.
 */
#include "config.h"
#include "seccomp.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Above any pid the kernel hands out (PID_MAX_LIMIT is 2^22), and unlike each other. */
#define PID_A 0x5eed0001u
#define PID_B 0x5eed0002u

struct program {
	struct sock_filter *insns;
	size_t len;
};

/* libseccomp's BPF for one kill action and pid, read back from a memory file. */
static bool generate(bool kill_process, uint32_t pid, struct program *out)
{
	g_autoptr(GError) err = NULL;
	int fd = memfd_create("seccomp-gen", MFD_CLOEXEC);
	if (fd < 0 || !seccomp_write_bpf(fd, kill_process, (pid_t)pid, &err)) {
		fprintf(stderr, "seccomp-gen: %s\n", err ? err->message : g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	off_t size = lseek(fd, 0, SEEK_END);
	out->len = size > 0 ? (size_t)size / sizeof(struct sock_filter) : 0;
	out->insns = g_new0(struct sock_filter, out->len);
	bool ok = out->len > 0 && pread(fd, out->insns, (size_t)size, 0) == size;
	close(fd);
	return ok;
}

/* Where a and b differ, which must be only in pid constants; false if elsewhere. */
static bool find_pid_slots(const struct program *a, const struct program *b, GArray *slots)
{
	if (a->len != b->len)
		return false;
	for (size_t i = 0; i < a->len; i++) {
		const struct sock_filter *x = &a->insns[i], *y = &b->insns[i];
		if (memcmp(x, y, sizeof(*x)) == 0)
			continue;
		if (x->code != (BPF_JMP | BPF_JEQ | BPF_K) || x->code != y->code ||
		    x->jt != y->jt || x->jf != y->jf || x->k != PID_A || y->k != PID_B)
			return false;
		g_array_append_val(slots, i);
	}
	return slots->len > 0;
}

static void print_variant(const char *name, const struct program *p, GArray *slots)
{
	printf("static const struct sock_filter %s[] = {\n", name);
	for (size_t i = 0; i < p->len; i++)
		printf("\t{0x%04x, %u, %u, 0x%08x},\n", p->insns[i].code, p->insns[i].jt,
		       p->insns[i].jf, p->insns[i].k);
	printf("};\n\nstatic const size_t %s_pid_at[] = {", name);
	for (guint i = 0; i < slots->len; i++)
		printf("%s%zu", i ? ", " : "", g_array_index(slots, size_t, i));
	printf("};\n\n");
}

/* Generate and print one variant; false (and nothing printed) if it cannot be prebuilt. */
static bool variant(const char *name, bool kill_process)
{
	struct program a = {0}, b = {0};
	g_autoptr(GArray) slots = g_array_new(FALSE, FALSE, sizeof(size_t));
	bool ok = generate(kill_process, PID_A, &a) && generate(kill_process, PID_B, &b) &&
	          find_pid_slots(&a, &b, slots);
	if (ok)
		print_variant(name, &a, slots);
	else
		fprintf(stderr,
		        "seccomp-gen: warning: no prebuilt %s filter; the daemon will "
		        "build it at startup\n",
		        name);
	g_free(a.insns);
	g_free(b.insns);
	return ok;
}

static void print_member(const char *name, bool have)
{
	if (have)
		printf("\t.%s = {%s, G_N_ELEMENTS(%s), %s_pid_at, G_N_ELEMENTS(%s_pid_at)},\n",
		       name, name, name, name, name);
	else
		printf("\t.%s = {NULL, 0, NULL, 0},\n", name);
}

int main(void)
{
	printf(
	    "/*\n * seccomp-bpf.c - the daemon's seccomp filter as BPF, generated at build time "
	    "by\n * seccomp-gen (src/seccomp_gen.c) with libseccomp %u.%u.%u. Do not edit.\n */\n"
	    "#include \"config.h\"\n#include \"src/seccomp.h\"\n\n",
	    SCMP_VER_MAJOR, SCMP_VER_MINOR, SCMP_VER_MICRO);
	bool process = variant("kill_process", true);
	bool thread = variant("kill_thread", false);
	printf("const struct seccomp_prebuilt seccomp_prebuilt = {\n");
	print_member("kill_process", process);
	print_member("kill_thread", thread);
	printf("};\n");
	return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
