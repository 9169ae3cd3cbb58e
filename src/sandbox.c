// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sandbox.c - --enable-sandbox: once every fd is open, the daemon gives up its file system
 * and its privileges.
 *
 * Theory of operation
 *
 * 1. A mount namespace of our own. Root, or a daemon that already holds CAP_SYS_ADMIN in its
 *    user namespace (podman starts us inside its rootless namespace), simply unshares one, and
 *    so keeps its capabilities in the namespaces it started in (root keeps binding ports below
 *    1024). An unprivileged daemon may not, so it first joins the target's user namespace
 *    (--userns-path, or /proc/PID/ns/user with a PID target), which its user owns and where it
 *    therefore holds every capability, as slirp4netns does. With no target user namespace
 *    (--netns-type=path without --userns-path, or tapfd) it creates a user namespace of its own
 *    that maps just its uid and gid. Joining a user namespace changes neither our uid as the
 *    kernel sees it nor our network namespace: sockets, ping sockets and file access work as
 *    before. Mount events are then made to flow only inward (MS_SLAVE): the host's later mounts
 *    still reach the directories we keep, ours never reach the host.
 *
 * 2. What the new root holds. libslirp forwards DNS to the first nameserver of
 *    /etc/resolv.conf, which it stat()s at most once a second and re-reads (fopen) when the
 *    device, inode, size or mtime of the file it resolves to changed. That path is the only
 *    file the daemon opens after startup, so it is all the new root carries - but it must keep
 *    resolving to what the host's /etc/resolv.conf resolves to *later*, too: tools replace the
 *    file by rename (a bind mount of the file itself would pin the old inode) and chains of
 *    symlinks leave /etc (systemd-resolved: /etc/resolv.conf -> ../run/systemd/resolve/
 *    stub-resolv.conf; NixOS: /etc/resolv.conf -> /etc/static/resolv.conf, /etc/static ->
 *    /nix/store/...-etc/etc, whose resolv.conf -> /nix/store/...; slirp4netns binds /etc, /run
 *    and realpath(/etc/resolv.conf) and breaks on both). So we walk the path from "/" one
 *    component at a time, as the kernel does, and note every directory in which the walk
 *    follows a symlink or finds the last component (or finds nothing: a dangling link may be
 *    filled in later). Each such directory is bind-mounted (recursively, read-only) at its own
 *    path in the new root, so every hop of the chain resolves inside the sandbox exactly as
 *    outside, including after a rename, an edit, or the host pointing a link at another file
 *    in those directories. Directories inside another kept one are covered by it. "/" is
 *    never kept: an entry directly in "/" is copied instead (a symlink as a symlink, a file as
 *    a read-only bind of that file). A directory is the smallest thing that shows a renamed
 *    file, so the rest of its contents come along, read-only (they are world-readable files
 *    like /etc/hosts; /etc/shadow stays unreadable to the user, as outside). Typical results:
 *    /etc; /etc and /run/systemd/resolve; /etc and /nix/store. A directory the daemon cannot
 *    open is left out with a warning (DNS through it could not work outside either). With
 *    --disable-dns nothing is kept. What this cannot follow: the host re-pointing the chain
 *    into a directory that was not on it at startup (DNS then fails until the daemon is
 *    restarted). Besides, the root keeps slirp4netns's top-level shape: /etc and /run are
 *    always there, as empty directories (mode 0755) when nothing is kept in them, and /home,
 *    /root, /var and the like are not (unless the resolv.conf chain runs through them).
 *
 *    The root itself is an empty tmpfs (nosuid, nodev, noexec; read-only once built) mounted
 *    over /tmp in our namespace (or another existing directory if that fails). The directories
 *    to keep are opened (O_PATH) before it covers anything and bound from /proc/self/fd/N.
 *    Then pivot_root(".", ".") and a lazy unmount of the old root leave nothing else: not
 *    /proc, /dev, /home or the API socket's directory. The API server still removes its
 *    socket at exit through the directory fd it keeps (unlinkat), and fds opened before
 *    (tap, sockets, exit fd, signalfd) are unaffected.
 *
 * 3. Privileges. Every capability but CAP_NET_BIND_SERVICE leaves the bounding set, then the
 *    permitted/effective/inheritable sets are reduced to CAP_NET_BIND_SERVICE (if we had it),
 *    ambient capabilities are cleared and PR_SET_NO_NEW_PRIVS is set, so no execve() could
 *    ever regain anything. (For an unprivileged daemon CAP_NET_BIND_SERVICE counts only in
 *    the joined user namespace, not for the host's ports: forwards below 1024 then work when
 *    the host allows the user to bind them, net.ipv4.ip_unprivileged_port_start.)
 */
#include "config.h"
#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define WITH_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define WITH_LSAN 1
#endif
#endif
#ifdef WITH_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define RESOLV_CONF  "/etc/resolv.conf"
#define MAX_SYMLINKS 40 /* as the kernel's path walk */

/* Where the new root is built (the first that takes a tmpfs); hidden in our namespace only. */
static const char *const scratch_dirs[] = {"/tmp", "/mnt", "/run", "/var/tmp", "/dev"};

/* Directories every new root has, as slirp4netns's does (tools look for them). */
static const char *const top_dirs[] = {"/etc", "/run"};

/* ---- which directories DNS resolution needs ------------------------------------------------ */

struct walk {
	GPtrArray *dirs; /* directories in which a lookup mattered */
	GPtrArray *root; /* names in "/" whose lookup mattered */
};

static void add_unique(GPtrArray *a, const char *s)
{
	for (guint i = 0; i < a->len; i++)
		if (strcmp(g_ptr_array_index(a, i), s) == 0)
			return;
	g_ptr_array_add(a, g_strdup(s));
}

static void walk_note(struct walk *w, const char *dir, const char *name)
{
	if (strcmp(dir, "/") == 0)
		add_unique(w->root, name);
	else
		add_unique(w->dirs, dir);
}

/* Split the first component off *rest (leading slashes skipped); NULL when none is left. */
static char *next_component(const char **rest)
{
	const char *p = *rest;
	while (*p == '/')
		p++;
	if (*p == '\0')
		return NULL;
	const char *end = strchrnul(p, '/');
	*rest = end;
	return g_strndup(p, (gsize)(end - p));
}

static bool only_slashes(const char *s)
{
	return s[strspn(s, "/")] == '\0';
}

static void replace(char **slot, char *value)
{
	g_free(*slot);
	*slot = value;
}

/* Walk `path` from "/" as the kernel would, noting the lookups that matter (see sandbox.h). */
static void walk_path(struct walk *w, const char *path)
{
	g_autofree char *cur = g_strdup("/"); /* canonical: no symlinks, no dots */
	g_autofree char *rest = g_strdup(path);
	int links = 0;
	for (;;) {
		const char *after = rest;
		g_autofree char *name = next_component(&after);
		if (name == NULL)
			return;
		g_autofree char *tail = g_strdup(after);
		if (strcmp(name, "..") == 0)
			replace(&cur, g_path_get_dirname(cur));
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			replace(&rest, g_steal_pointer(&tail));
			continue;
		}
		g_autofree char *full = g_build_filename(cur, name, NULL);
		struct stat st;
		if (lstat(full, &st) < 0) {
			walk_note(w, cur, name); /* missing (for now): keep where it would appear */
			return;
		}
		if (S_ISLNK(st.st_mode)) {
			walk_note(w, cur, name);
			g_autofree char *target = g_file_read_link(full, NULL);
			if (target == NULL || ++links > MAX_SYMLINKS)
				return;
			if (target[0] == '/')
				replace(&cur, g_strdup("/"));
			replace(&rest, g_strconcat(target, "/", tail, NULL));
			continue;
		}
		if (only_slashes(tail) || !S_ISDIR(st.st_mode)) {
			walk_note(w, cur, name); /* the end of the walk */
			return;
		}
		replace(&cur, g_steal_pointer(&full));
		replace(&rest, g_steal_pointer(&tail));
	}
}

static bool is_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static gint compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort, and drop every directory that lies inside another one (a recursive bind covers it). */
static GPtrArray *outermost(GPtrArray *dirs)
{
	g_ptr_array_sort(dirs, compare_strings);
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < dirs->len; i++) {
		const char *d = g_ptr_array_index(dirs, i);
		bool covered = false;
		for (guint j = 0; j < out->len && !covered; j++)
			covered = is_within(d, g_ptr_array_index(out, j));
		if (!covered)
			g_ptr_array_add(out, g_strdup(d));
	}
	return out;
}

GPtrArray *sandbox_lookup_dirs(const char *path, GPtrArray **root_entries)
{
	struct walk w = {
	    .dirs = g_ptr_array_new_with_free_func(g_free),
	    .root = g_ptr_array_new_with_free_func(g_free),
	};
	walk_path(&w, path);
	GPtrArray *dirs = outermost(w.dirs);
	g_ptr_array_unref(w.dirs);
	if (root_entries != NULL)
		*root_entries = w.root;
	else
		g_ptr_array_unref(w.root);
	return dirs;
}

/* ---- the plan: what goes into the new root ----------------------------------------------- */

enum keep_kind { KEEP_BIND, KEEP_FILE, KEEP_SYMLINK };

struct keep {
	enum keep_kind kind;
	char *path;   /* absolute, the same outside and inside */
	int fd;       /* KEEP_BIND/KEEP_FILE: O_PATH fd of the source, opened before the tmpfs */
	char *target; /* KEEP_SYMLINK: the link's text */
};

static void keep_free(gpointer p)
{
	struct keep *k = p;
	close_fdp(&k->fd);
	g_free(k->path);
	g_free(k->target);
	g_free(k);
}

static void plan_add(GPtrArray *plan, enum keep_kind kind, const char *path, int fd, char *target)
{
	struct keep *k = g_new0(struct keep, 1);
	k->kind = kind;
	k->path = g_strdup(path);
	k->fd = fd;
	k->target = target;
	g_ptr_array_add(plan, k);
}

/* A directory we cannot open could not serve DNS outside either: warn and go on without it. */
static void plan_dir(GPtrArray *plan, const char *dir)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		log_warn("sandbox: %s (on the way to %s) stays outside: %s", dir, RESOLV_CONF,
		         g_strerror(errno));
		return;
	}
	plan_add(plan, KEEP_BIND, dir, fd, NULL);
}

/* An entry directly in "/": copy a symlink, bind a file or directory, skip what is missing. */
static bool plan_root_entry(GPtrArray *plan, const char *name, GError **err)
{
	g_autofree char *path = g_strconcat("/", name, NULL);
	struct stat st;
	if (lstat(path, &st) < 0)
		return true;
	if (S_ISLNK(st.st_mode)) {
		char *target = g_file_read_link(path, NULL);
		if (target != NULL)
			plan_add(plan, KEEP_SYMLINK, path, -1, target);
		return true;
	}
	if (S_ISDIR(st.st_mode)) {
		plan_dir(plan, path);
		return true;
	}
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return set_error(err, errno, "open %s", path);
	plan_add(plan, KEEP_FILE, path, fd, NULL);
	return true;
}

static GPtrArray *make_plan(const struct options *opt, GError **err)
{
	g_autoptr(GPtrArray) plan = g_ptr_array_new_with_free_func(keep_free);
	if (opt->disable_dns)
		return g_steal_pointer(&plan);
	g_autoptr(GPtrArray) root = NULL;
	g_autoptr(GPtrArray) dirs = sandbox_lookup_dirs(RESOLV_CONF, &root);
	for (guint i = 0; i < dirs->len; i++)
		plan_dir(plan, g_ptr_array_index(dirs, i));
	for (guint i = 0; i < root->len; i++)
		if (!plan_root_entry(plan, g_ptr_array_index(root, i), err))
			return NULL;
	return g_steal_pointer(&plan);
}

/* ---- building the new root --------------------------------------------------------------- */

/* The mount flags a bind inherits and that a remount in a user namespace must repeat. */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	if (statvfs(path, &sv) < 0)
		return 0;
	static const struct {
		unsigned long st, ms;
	} map[] = {
	    {ST_NOSUID, MS_NOSUID},   {ST_NODEV, MS_NODEV},           {ST_NOEXEC, MS_NOEXEC},
	    {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
	};
	unsigned long flags = 0;
	for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
		if (sv.f_flag & map[i].st)
			flags |= map[i].ms;
	return flags;
}

/* Make the bind at path read-only, with everything mounted below it when the kernel can. */
static bool make_readonly(const char *path, GError **err)
{
#if defined(__NR_mount_setattr) && defined(MOUNT_ATTR_SIZE_VER0)
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	if (syscall(__NR_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof(attr)) == 0)
		return true;
	if (errno != ENOSYS)
		return set_error(err, errno, "make %s read-only", path);
#endif
	/* Older kernels: only the top mount (sub-mounts keep their own flags). */
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(path);
	if (mount(NULL, path, NULL, flags, NULL) < 0)
		return set_error(err, errno, "make %s read-only", path);
	return true;
}

static bool bind_readonly(int fd, const char *target, GError **err)
{
	g_autofree char *src = g_strdup_printf("/proc/self/fd/%d", fd);
	if (mount(src, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		return set_error(err, errno, "bind-mount into the new root at %s", target);
	return make_readonly(target, err);
}

static bool make_parent(const char *path, GError **err)
{
	g_autofree char *parent = g_path_get_dirname(path);
	if (g_mkdir_with_parents(parent, 0755) < 0)
		return set_error(err, errno, "mkdir %s", parent);
	return true;
}

static bool place(const struct keep *k, const char *root, GError **err)
{
	g_autofree char *at = g_strconcat(root, k->path, NULL);
	if (!make_parent(at, err))
		return false;
	switch (k->kind) {
	case KEEP_SYMLINK:
		if (symlink(k->target, at) < 0)
			return set_error(err, errno, "symlink %s", at);
		return true;
	case KEEP_BIND:
		if (mkdir(at, 0755) < 0 && errno != EEXIST)
			return set_error(err, errno, "mkdir %s", at);
		break;
	case KEEP_FILE: {
		autoclose_fd int fd = open(at, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
		if (fd < 0)
			return set_error(err, errno, "create %s", at);
		break;
	}
	}
	return bind_readonly(k->fd, at, err);
}

/* Mount an empty tmpfs over the first scratch directory that takes one; return its path. */
static const char *mount_scratch(GError **err)
{
	int last = 0;
	for (size_t i = 0; i < G_N_ELEMENTS(scratch_dirs); i++) {
		if (mount("tmpfs", scratch_dirs[i], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		          "mode=0755,size=64k,nr_inodes=256") == 0)
			return scratch_dirs[i];
		last = errno;
	}
	set_error(err, last,
	          "mount a tmpfs for the new root (tried /tmp, /mnt, /run, /var/tmp, /dev)");
	return NULL;
}

/* The top-level shape of slirp4netns's root: /etc and /run always there, empty if nothing is kept
 * in them (an existing entry, a bind or a copied symlink, is left as it is). */
static bool make_top_dirs(const char *root, GError **err)
{
	for (size_t i = 0; i < G_N_ELEMENTS(top_dirs); i++) {
		g_autofree char *at = g_strconcat(root, top_dirs[i], NULL);
		if (mkdir(at, 0755) < 0) {
			if (errno == EEXIST)
				continue;
			return set_error(err, errno, "mkdir %s in the new root", top_dirs[i]);
		}
		if (chmod(at, 0755) < 0) /* whatever the umask */
			return set_error(err, errno, "chmod %s in the new root", top_dirs[i]);
	}
	return true;
}

static bool build_root(const char *root, GPtrArray *plan, GError **err)
{
	for (guint i = 0; i < plan->len; i++)
		if (!place(g_ptr_array_index(plan, i), root, err))
			return false;
	if (!make_top_dirs(root, err))
		return false;
	if (mount(NULL, root, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
	          NULL) < 0)
		return set_error(err, errno, "make the new root read-only");
	return true;
}

/* Make root the file system root and drop the old one (pivot_root(2): new_root == put_old). */
static bool pivot_into(const char *root, GError **err)
{
	if (chdir(root) < 0)
		return set_error(err, errno, "chdir %s", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return set_error(err, errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return set_error(err, errno, "detach the old root");
	if (chdir("/") < 0)
		return set_error(err, errno, "chdir /");
	return true;
}

/* ---- namespaces ------------------------------------------------------------------------- */

static bool write_file(const char *path, const char *text, GError **err)
{
	autoclose_fd int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return set_error(err, errno, "open %s", path);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len)
		return set_error(err, errno, "write %s", path);
	return true;
}

static bool join_userns(const char *path, GError **err)
{
	autoclose_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return set_error(err, errno, "open user namespace %s", path);
	if (setns(fd, CLONE_NEWUSER) < 0)
		return set_error(err, errno, "join user namespace %s", path);
	return true;
}

/* A user namespace of our own that maps only our uid and gid (to themselves). */
static bool new_userns(GError **err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER) < 0)
		return set_error(err, errno, "create a user namespace");
	g_autofree char *umap = g_strdup_printf("%u %u 1\n", (unsigned)uid, (unsigned)uid);
	g_autofree char *gmap = g_strdup_printf("%u %u 1\n", (unsigned)gid, (unsigned)gid);
	/* A non-dumpable process's /proc/self files belong to root, so not even we could write
	 * our maps: dumpable for these three writes only. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	bool ok = write_file("/proc/self/setgroups", "deny", err) &&
	          write_file("/proc/self/uid_map", umap, err) &&
	          write_file("/proc/self/gid_map", gmap, err);
	process_set_undumpable();
	return ok;
}

static bool enter_mount_namespace(const struct options *opt, GError **err)
{
	if (unshare(CLONE_NEWNS) == 0)
		return true;
	if (errno != EPERM)
		return set_error(err, errno, "create a mount namespace");
	g_autofree char *userns = options_target_userns(opt);
	if (userns != NULL ? !join_userns(userns, err) : !new_userns(err))
		return false;
	if (unshare(CLONE_NEWNS) < 0)
		return set_error(err, errno, "create a mount namespace in user namespace %s",
		                 userns ? userns : "(own)");
	return true;
}

/* ---- privileges ------------------------------------------------------------------------- */

bool sandbox_drop_bounding_set(int keep, GError **err)
{
	/* Capabilities are numbered from 0 up; past the kernel's last one the drop fails EINVAL. */
	for (int c = 0; c < 64; c++) {
		if (c == keep || prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == 0)
			continue;
		if (errno == EINVAL)
			return true;
		return set_error(err, errno, "drop capability %d from the bounding set", c);
	}
	return true;
}

bool sandbox_drop_capabilities(int keep, GError **err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {{0}};
	if (syscall(SYS_capget, &hdr, data) < 0)
		return set_error(err, errno, "read capabilities");
	uint32_t kept[_LINUX_CAPABILITY_U32S_3] = {0};
	if (keep >= 0 && data[CAP_TO_INDEX(keep)].permitted & CAP_TO_MASK(keep))
		kept[CAP_TO_INDEX(keep)] = CAP_TO_MASK(keep);
	for (size_t i = 0; i < G_N_ELEMENTS(data); i++)
		data[i] =
		    (struct __user_cap_data_struct){.permitted = kept[i], .effective = kept[i]};
	if (syscall(SYS_capset, &hdr, data) < 0)
		return set_error(err, errno, "drop capabilities");
	/* Kernels before 4.3 have no ambient set (EINVAL): nothing to clear there. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return set_error(err, errno, "clear ambient capabilities");
	return true;
}

static bool drop_privileges(GError **err)
{
	if (!sandbox_drop_bounding_set(CAP_NET_BIND_SERVICE, err) ||
	    !sandbox_drop_capabilities(CAP_NET_BIND_SERVICE, err))
		return false;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return set_error(err, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
	return true;
}

/* ---- the whole ------------------------------------------------------------------------- */

static bool enter(const struct options *opt, GError **err)
{
	if (!enter_mount_namespace(opt, err))
		return false;
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return set_error(err, errno, "make / a slave mount");
	g_autoptr(GPtrArray) plan = make_plan(opt, err);
	if (plan == NULL)
		return false;
	const char *root = mount_scratch(err);
	return root != NULL && build_root(root, plan, err) && pivot_into(root, err) &&
	       drop_privileges(err);
}

void sandbox_leak_check_now(void)
{
#ifdef WITH_LSAN
	__lsan_do_leak_check(); /* also turns the exit-time check off */
#endif
}

bool sandbox_enter(const struct options *opt, GError **err)
{
	sandbox_leak_check_now();
	if (!enter(opt, err)) {
		g_prefix_error(err, "sandbox: ");
		return false;
	}
	return true;
}
