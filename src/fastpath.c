// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fastpath.c - forwarded TCP connections from the host's loopback, relayed kernel to kernel.
 *
 * Through libslirp a forwarded connection crosses two TCP stacks and the tap. For the common
 * case, a client on the same host (curl localhost:8080), we instead take a TCP socket that
 * lives in the namespace's network stack, connect it to guest_addr:guest_port, and splice
 * bytes between it and the client's socket (relay.c). Clients from any other address stay on
 * libslirp, which shows their real address to the guest.
 *
 * Sockets in the namespace come from a helper process forked at startup, before the sandbox:
 * it joins the target's user and network namespaces, drops every capability, sets
 * NO_NEW_PRIVS and loads a seccomp filter that leaves it only socket(AF_INET/AF_INET6),
 * recv/send on its socketpair, close and exit. Each byte of a request ('4' or '6'; up to
 * BATCH_MAX in one message) asks for one socket; each gets its own answer: a status byte (0
 * or an errno), the request byte, and a fresh non-blocking TCP socket (SCM_RIGHTS) unless the
 * status says why not. A socket's network namespace is fixed at creation, so the daemon
 * connects it itself, with no privilege and under its own seccomp filter. The helper's first
 * answer (ready) carries an rtnetlink socket of the namespace, subscribed to link events
 * before the filter is loaded, which tells us when lo changes (ns_loopback_up()). Up to
 * POOL_TARGET sockets are kept in a pool so a new client does not wait for the helper
 * (refill()).
 *
 * The guest sees these connections coming from its own address (the namespace connects to
 * itself), never from a loopback address; services bound to the namespace's 127.0.0.1 stay
 * unreachable because we connect to guest_addr only - and only when guest_addr is one that
 * libslirp could reach too: a forward naming a loopback or unspecified guest address
 * (127.0.0.1, 0.0.0.0, ::1, ::, ::ffff:127.0.0.1), which through the tap the kernel drops, is
 * left to libslirp, as a connect() from inside the namespace would reach its loopback.
 *
 * Telling the two kinds of clients apart needs the listening socket, which libslirp owns and
 * accepts on. We interpose accept() and listen() for the whole process (definitions here take
 * precedence over the C library's for libslirp's calls): listen() on a socket that
 * slirp_add_hostxfwd() creates while fastpath_begin_listen() is in effect records it and makes
 * it non-blocking (and every listen() raises libslirp's backlog of 1 to SOMAXCONN, also with
 * the fast path off); accept() on a recorded socket
 * keeps loopback clients for us and returns the others to libslirp (or -1/EAGAIN, which
 * libslirp handles by dropping its half-made connection).
 *
 * While every client of a listener can be taken (the helper is ready, the namespace's lo is
 * up, tcpout.c knows the guest's MAC, the guest address is reachable), we accept on it
 * ourselves from a loop watch, and engine.c hides its readiness from libslirp
 * (fastpath_owns_listener()): libslirp's accept path allocates a socket and two socket
 * buffers before it calls accept(), all wasted on a client we keep. Otherwise libslirp
 * accepts as usual and the interposed accept() below sorts the clients.
 *
 * With --port-fast-path=tcp loopback clients are offered to tcpout.c as well, as if they came
 * from the gateway (take_as_gateway()); the relay then only takes what tcpout.c declines.
 *
 * Clients from other addresses are offered to tcpout.c (fastpath_set_tcpout()), which opens
 * the connection to the guest from the client's own address and port with its own TCP
 * endpoint, as libslirp would but without libslirp's copies; what it declines (no frame
 * seen from the namespace yet, address families that differ) stays with libslirp.
 */
#include "config.h"
#include "fastpath.h"
#include "netns.h"
#include "sandbox.h"
#include "tcpout.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define HELPER_READY (-2) /* recv_socket(): the helper's "ready" word */
#define POOL_TARGET  8    /* spare namespace sockets kept per family */
#define POOL_LOW     3    /* below this many, ask for a batch at once */
#define TOPUP_MS     20   /* a pool between the two is topped up this long after its last use */
#define BATCH_MAX    64   /* requests in one message (the helper reads this many) */

struct target {
	int listen_fd;
	struct sockaddr_storage guest;
	socklen_t guest_len;
	struct loop_watch *watch; /* we accept here ourselves while every client can be taken */
};

struct pending {
	int client;
	struct sockaddr_storage guest;
	socklen_t guest_len;
};

struct fastpath {
	struct loop *loop;
	int sock; /* SOCK_SEQPACKET to the helper */
	pid_t helper;
	struct loop_watch *watch;
	GQueue pool[2];           /* spare namespace sockets: [0] IPv4, [1] IPv6 */
	unsigned outstanding[2];  /* requests sent, answers not yet received */
	bool behind[2];           /* refill() stopped at a full socketpair: again on answers */
	struct loop_watch *topup; /* deadline: top the pools up once clients stop coming */
	bool used[2];             /* refill() was called for this family: keep its pool full */
	GQueue waiting[2];        /* clients waiting for a socket (struct pending *) */
	GHashTable *targets;      /* listening fd -> struct target * */
	struct target *capture;   /* between begin_listen and end_listen */
	struct relay_set relays;
	struct fastpath_stats stats;
	bool ready; /* the helper said it is in the namespace and confined */
	int links;  /* rtnetlink socket of the namespace, link events; or -1 */
	struct loop_watch *links_watch;
	bool lo_up;            /* the namespace's lo, as of the last link event */
	struct tcpout *tcpout; /* takes the non-loopback clients, or NULL */
	bool via_tcpout;       /* --port-fast-path=tcp: and the loopback ones (take_as_gateway()) */
	struct in_addr gateway4;
	struct in6_addr gateway6;
};

/* The interposed accept()/listen() need to find us. There is one daemon per process. */
static struct fastpath *the_fastpath;

/* ---- the helper process, inside the namespace ------------------------------------------ */

static bool helper_confine(void)
{
	/* The bounding set where we may (it matters only to execve(), which the filter forbids). */
	sandbox_drop_bounding_set(-1, NULL);
	if (!sandbox_drop_capabilities(-1, NULL) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return false;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL)
		return false;
	int rc = 0;
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	                       SCMP_A0(SCMP_CMP_EQ, AF_INET));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	                       SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	const int calls[] = {SCMP_SYS(recvfrom), SCMP_SYS(recvmsg),      SCMP_SYS(sendmsg),
	                     SCMP_SYS(close),    SCMP_SYS(exit_group),   SCMP_SYS(exit),
	                     SCMP_SYS(read),     SCMP_SYS(rt_sigreturn), SCMP_SYS(restart_syscall)};
	for (size_t i = 0; i < G_N_ELEMENTS(calls); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);
	rc |= seccomp_load(ctx);
	seccomp_release(ctx);
	return rc == 0;
}

/* A socket told of every link change in the namespace we are in (lo going up or down). */
static int open_link_events(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void helper_answer(int sock, int fd, int err, unsigned char req)
{
	unsigned char answer[2] = {(unsigned char)err, req};
	unix_send_fd(sock, answer, sizeof(answer), fd, MSG_NOSIGNAL);
}

static G_NORETURN void helper_main(const struct options *opt, int sock)
{
	g_autoptr(GError) err = NULL;
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* Hold nothing of the daemon's but our socket: not its ready fd (whose reader waits for
	 * EOF), exit fd, tap or API socket. */
	if (sock > 3)
		close_range(3, (unsigned)sock - 1, 0);
	close_range((unsigned)sock + 1, ~0U, 0);
	if (!netns_enter(opt, &err)) {
		helper_answer(sock, -1, 255, 0);
		_exit(1);
	}
	process_set_undumpable(); /* setns() into the user namespace may reset it (util.h) */
	int links = open_link_events();
	if (!helper_confine()) {
		helper_answer(sock, -1, 254, 0);
		_exit(1);
	}
	helper_answer(sock, links, 0, 0); /* ready, with the link events if we have them */
	if (links >= 0)
		close(links);
	for (;;) {
		unsigned char req[BATCH_MAX];
		ssize_t n = recv(sock, req, sizeof(req), 0);
		if (n <= 0)
			_exit(0);
		for (ssize_t i = 0; i < n; i++) {
			int family = req[i] == '6' ? AF_INET6 : AF_INET;
			int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			helper_answer(sock, fd, fd < 0 ? errno : 0, req[i]);
			if (fd >= 0)
				close(fd);
		}
	}
}

/* ---- the daemon's side -------------------------------------------------------------------- */

static int fam_index(int family)
{
	return family == AF_INET6 ? 1 : 0;
}

/* Ask for n sockets of family idx in one message: the helper makes them in one wake-up. */
static bool request_sockets(struct fastpath *fp, int idx, unsigned n)
{
	unsigned char req[BATCH_MAX];
	n = MIN(n, sizeof(req));
	memset(req, idx ? '6' : '4', n);
	if (send(fp->sock, req, n, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n)
		return false;
	fp->outstanding[idx] += n;
	return true;
}

/*
 * Keep the pool topped up: spare sockets plus those already asked for, against POOL_TARGET
 * plus the clients waiting. Each request wakes the helper, which on two CPUs competes with
 * the very server a new client is waiting for; so while clients keep coming we ask only once
 * the pool runs low, for a whole batch, and a pool left between POOL_LOW and POOL_TARGET is
 * topped up TOPUP_MS after its last use (on_topup()). When the socketpair is full (a burst of
 * hundreds of clients) we stop; on_helper() asks for the rest as the helper's answers come
 * in, so no waiting client is forgotten and the pool ends up full again.
 */
static void refill(struct fastpath *fp, int idx, bool now)
{
	unsigned have = fp->pool[idx].length + fp->outstanding[idx];
	unsigned want = POOL_TARGET + fp->waiting[idx].length;
	fp->behind[idx] = false;
	fp->used[idx] = true;
	if (have >= want)
		return;
	if (!now && have >= POOL_LOW + fp->waiting[idx].length) {
		if (fp->topup != NULL)
			loop_watch_set_deadline(fp->topup, loop_now_ms() + TOPUP_MS);
		return;
	}
	while (have < want) {
		unsigned n = MIN(want - have, BATCH_MAX);
		if (!request_sockets(fp, idx, n)) {
			fp->behind[idx] = true;
			break;
		}
		have += n;
	}
}

static void on_topup(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct fastpath *fp = data;
	loop_watch_set_deadline(w, INT64_MAX);
	for (int i = 0; i < 2; i++)
		if (fp->stats.enabled && fp->used[i])
			refill(fp, i, true);
}

/* --debug: a loopback client relayed to guest (or not, with the errno of the connect). */
static void log_fast(const struct sockaddr *guest, int errnum)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;
	if (guest->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)guest;
		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		port = ntohs(in->sin_port);
	} else if (guest->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)guest;
		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		port = ntohs(in6->sin6_port);
	}
	if (errnum == 0)
		log_debug("fast path: loopback client spliced to %s port %u in the namespace", addr,
		          port);
	else
		log_debug("fast path: loopback client to %s port %u refused: %s", addr, port,
		          g_strerror(errnum));
}

static void start_relay(struct fastpath *fp, int client, int ns, const struct sockaddr *guest,
                        socklen_t len)
{
	if (connect(ns, guest, len) < 0 && errno != EINPROGRESS) {
		if (slirpns_debug)
			log_fast(guest, errno);
		/* Refused at once (nothing listens): the client sees a reset, promptly. */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(client);
		close(ns);
		fp->stats.fast_total++; /* refused, but it took the fast path */
		return;
	}
	fp->stats.fast_total++;
	if (slirpns_debug)
		log_fast(guest, 0);
	relay_start(fp->loop, client, ns, &fp->relays);
}

/*
 * The helper lives in the container's namespaces: what it sends is checked before it is used,
 * as a compromised helper could send a file, a pipe or a socket of another kind. Closed if not.
 */
static bool trusted_fd(int fd, int domain, int type, int protocol, const char *what)
{
	g_autoptr(GError) err = NULL;
	if (fd_check_socket(fd, domain, type, protocol, &err))
		return true;
	log_warn("port fast path: the helper sent a bad %s fd, ignored: %s", what, err->message);
	close(fd);
	return false;
}

/*
 * One answer from the helper: the socket, or -1 with *status -1 (the helper is gone: its end
 * of file), HELPER_READY (its first word) or an errno (no socket for this request, or the
 * helper could not start). *idx says which family it answers.
 */
static int parse_answer(const struct fd_msg *m, int *status, int *idx)
{
	int fd = m->fd;
	if (m->len == 0) {
		if (fd >= 0)
			close(fd);
		*status = -1;
		return -1;
	}
	*status = m->data[0];
	*idx = m->len > 1 && m->data[1] == '6' ? 1 : 0;
	if (m->len < 2 || m->data[1] == 0) { /* the helper's first word: ready (0, maybe with
		                              * the link events socket) or why not */
		*status = *status == 0 ? HELPER_READY : *status;
		if (fd >= 0 && !trusted_fd(fd, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, "link events"))
			fd = -1; /* then lo is checked per client, as without the socket */
		return fd;
	}
	/* Stream and TCP make it a TCP socket (a raw one fails SO_TYPE); its family is not asked,
	 * which saves a getsockopt() per connection: a TCP socket of the other family fails the
	 * connect() to the guest's address (EINVAL, EAFNOSUPPORT) and the client is reset. */
	if (fd >= 0 && !trusted_fd(fd, -1, SOCK_STREAM, IPPROTO_TCP, "namespace socket")) {
		*status = EBADMSG;
		return -1;
	}
	/* No socket: the helper's errno, or none came through (we are out of fds). */
	if (fd < 0 && *status == 0)
		*status = m->ctrunc ? EMFILE : EBADMSG;
	return fd;
}

static void disable(struct fastpath *fp, const char *why)
{
	if (!fp->stats.enabled)
		return;
	log_warn("port fast path disabled: %s", why);
	fp->stats.enabled = false;
	for (int i = 0; i < 2; i++) {
		struct pending *p;
		while ((p = g_queue_pop_head(&fp->waiting[i])) != NULL) {
			close(p->client);
			g_free(p);
		}
	}
}

static void watch_links(struct fastpath *fp, int fd);

/* No socket for a client's request: the client is reset, not left waiting (nor is the request
 * asked again at once, which could spin). */
static void no_socket(struct pending *p, int status)
{
	static bool warned;
	if (!warned)
		log_warn("port fast path: no socket from the namespace (%s); such clients are "
		         "reset (logged once)",
		         g_strerror(status));
	warned = true;
	if (p != NULL) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(p->client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(p->client);
		g_free(p);
	}
}

/* The helper is gone or useless: stop listening to it, and every client goes to libslirp. */
static void helper_lost(struct fastpath *fp, const char *why)
{
	loop_unwatch(fp->loop, fp->watch);
	fp->watch = NULL;
	disable(fp, why);
}

/* One answer: false when the fast path stopped (the helper is gone or did not start). */
static bool take_answer(struct fastpath *fp, const struct fd_msg *m)
{
	int status, idx = 0;
	int fd = parse_answer(m, &status, &idx);
	if (fd < 0 && status == -1) {
		helper_lost(fp, "namespace helper exited");
		return false;
	}
	if (!fp->ready) { /* the helper's first word */
		if (status != HELPER_READY) {
			if (fd >= 0)
				close(fd);
			helper_lost(fp, "the namespace helper did not start");
			return false;
		}
		fp->ready = true;
		watch_links(fp, fd);
		return true;
	}
	if (fp->outstanding[idx] > 0)
		fp->outstanding[idx]--;
	struct pending *p = g_queue_pop_head(&fp->waiting[idx]);
	if (fd < 0) {
		no_socket(p, status);
	} else if (p != NULL) {
		start_relay(fp, p->client, fd, (struct sockaddr *)&p->guest, p->guest_len);
		g_free(p);
	} else {
		g_queue_push_tail(&fp->pool[idx], GINT_TO_POINTER(fd + 1)); /* 0 is NULL */
	}
	return true;
}

/*
 * The helper's answers, up to FD_BATCH_MAX in one recvmmsg(): a burst of clients costs one
 * system call per batch of sockets, not one per socket. A batch that is not full took all
 * there was (poll() is level-triggered and reports the next answers).
 */
static void on_helper(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct fastpath *fp = data;
	struct fd_msg batch[FD_BATCH_MAX];
	int n;
	do {
		n = unix_recv_fd_batch(fp->sock, batch, G_N_ELEMENTS(batch), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return helper_lost(fp, "namespace helper exited");
		for (int i = 0; i < n; i++) {
			if (take_answer(fp, &batch[i]))
				continue;
			for (int j = i + 1; j < n; j++)
				if (batch[j].fd >= 0)
					close(batch[j].fd);
			return;
		}
	} while (n == (int)G_N_ELEMENTS(batch));
	/* Ask for what a full socketpair refused earlier (see refill()). */
	for (int i = 0; i < 2; i++)
		if (fp->behind[i])
			refill(fp, i, true);
}

/* Not loopback or unspecified: an address libslirp reaches through the tap as well (above). */
static bool guest_reachable(const struct sockaddr *guest)
{
	uint32_t v4;
	if (guest->sa_family == AF_INET) {
		v4 = ntohl(((const struct sockaddr_in *)guest)->sin_addr.s_addr);
	} else if (guest->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)guest)->sin6_addr;
		if (!IN6_IS_ADDR_V4MAPPED(a))
			return !IN6_IS_ADDR_LOOPBACK(a) && !IN6_IS_ADDR_UNSPECIFIED(a);
		memcpy(&v4, &a->s6_addr[12], sizeof(v4));
		v4 = ntohl(v4);
	} else {
		return false;
	}
	return v4 != INADDR_ANY && (v4 >> 24) != IN_LOOPBACKNET;
}

bool fastpath_take(struct fastpath *fp, int client, const struct sockaddr *guest, socklen_t len)
{
	if (fp == NULL || !fp->stats.enabled || !fp->ready || fp->loop == NULL ||
	    !guest_reachable(guest))
		return false;
	int idx = fam_index(guest->sa_family);
	if (fp->pool[idx].length > 0) {
		int ns = GPOINTER_TO_INT(g_queue_pop_head(&fp->pool[idx])) - 1;
		start_relay(fp, client, ns, guest, len);
	} else {
		struct pending *p = g_new0(struct pending, 1);
		p->client = client;
		memcpy(&p->guest, guest, len);
		p->guest_len = len;
		g_queue_push_tail(&fp->waiting[idx], p);
	}
	refill(fp, idx, false);
	return true;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family != AF_INET6)
		return false;
	const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/*
 * The namespace reaches its own address through its lo device: with lo down our connect()
 * would wait in SYN-SENT for ever, where libslirp still gets through. The helper gives us an
 * rtnetlink socket of the namespace subscribed to link events: lo's state is asked (an ioctl
 * answers for the socket's network namespace) once at the start and again after each event,
 * not for every client. Without it, a spare socket of the namespace is asked each time; with
 * none at hand, lo is assumed up, as -c and every container runtime leave it.
 */
static bool query_lo(int fd)
{
	struct ifreq ifr = {0};
	g_strlcpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return true;
	return (ifr.ifr_flags & IFF_UP) != 0;
}

static void on_links(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct fastpath *fp = data;
	char buf[8192];
	for (;;) { /* what changed does not matter; ENOBUFS (events lost) neither */
		ssize_t n = recv(fp->links, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != ENOBUFS && errno != EINTR))
			break;
	}
	fp->lo_up = query_lo(fp->links);
}

static void watch_links(struct fastpath *fp, int fd)
{
	fp->links = fd;
	if (fd < 0)
		return;
	fp->links_watch = loop_watch_fd(fp->loop, fd, POLLIN, on_links, fp);
	fp->lo_up = query_lo(fd); /* after subscribing: no change can fall in between */
}

static bool ns_loopback_up(struct fastpath *fp)
{
	if (fp->links >= 0)
		return fp->lo_up;
	for (int i = 0; i < 2; i++) {
		gpointer head = g_queue_peek_head(&fp->pool[i]);
		if (head != NULL)
			return query_lo(GPOINTER_TO_INT(head) - 1);
	}
	return true;
}

/*
 * Can every client of t's listener be taken, whatever its address? Then we accept on it
 * ourselves (on_listener()) and libslirp does not see it readable (fastpath_owns_listener()):
 * libslirp's accept path would first allocate a socket and two socket buffers, only to free
 * them when our accept() keeps the client.
 */
static bool takes_all(struct fastpath *fp, const struct target *t)
{
	return fp->stats.enabled && fp->ready && fp->loop != NULL && tcpout_ready(fp->tcpout) &&
	       guest_reachable((const struct sockaddr *)&t->guest) && ns_loopback_up(fp);
}

static bool claim(int listen_fd, int client, const struct sockaddr_storage *peer);

static void on_listener(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct fastpath *fp = the_fastpath;
	struct target *t = data;
	for (int i = 0; i < 64 && fp != NULL && takes_all(fp, t); i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int s = accept4(t->listen_fd, (struct sockaddr *)&ss, &len,
		                SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s < 0)
			break;
		if (!claim(t->listen_fd, s, &ss)) {
			/* Not possible while takes_all(); never leave a client hanging. */
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(s);
		}
	}
}

bool fastpath_owns_listener(struct fastpath *fp, int fd)
{
	if (fp == NULL)
		return false;
	struct target *t = g_hash_table_lookup(fp->targets, GINT_TO_POINTER(fd));
	return t != NULL && t->watch != NULL && takes_all(fp, t);
}

/*
 * --port-fast-path=tcp: a loopback client goes to tcpout.c as if it came from the gateway
 * (network+2, or ::2 of the prefix) at its own port, which is how libslirp and slirp4netns show
 * such clients. The guest's TCP then ends in our endpoint, with frames through the tap: per
 * request that costs less than relaying between two kernel sockets (one TCP sender fewer),
 * per byte of bulk more (a copy where splice() moves pages). Two loopback clients on one port
 * (127.0.0.1 and 127.0.0.2) would look the same to the guest: the second is relayed.
 */
static bool take_as_gateway(struct fastpath *fp, int client, const struct sockaddr_storage *peer,
                            const struct sockaddr *guest)
{
	struct sockaddr_storage gw;
	memcpy(&gw, peer, sizeof(gw));
	if (peer->ss_family == AF_INET && guest->sa_family == AF_INET) {
		((struct sockaddr_in *)&gw)->sin_addr = fp->gateway4;
	} else if (peer->ss_family == AF_INET6 && guest->sa_family == AF_INET6 &&
	           IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)peer)->sin6_addr)) {
		((struct sockaddr_in6 *)&gw)->sin6_addr = fp->gateway6;
	} else {
		return false; /* across families, or ::ffff:127.x: the relay takes it */
	}
	return tcpout_take(fp->tcpout, client, (const struct sockaddr *)&gw, guest);
}

/* accept() on one of libslirp's forward listeners: true if the client was taken. */
static bool claim(int listen_fd, int client, const struct sockaddr_storage *peer)
{
	struct fastpath *fp = the_fastpath;
	if (fp == NULL)
		return false;
	struct target *t = g_hash_table_lookup(fp->targets, GINT_TO_POINTER(listen_fd));
	if (t == NULL)
		return false;
	const struct sockaddr *guest = (const struct sockaddr *)&t->guest;
	if (is_loopback(peer)) {
		if (fp->via_tcpout && guest_reachable(guest) &&
		    take_as_gateway(fp, client, peer, guest))
			return true;
		if (ns_loopback_up(fp) && fastpath_take(fp, client, guest, t->guest_len))
			return true;
	} else if (guest_reachable(guest) &&
	           tcpout_take(fp->tcpout, client, (const struct sockaddr *)peer, guest)) {
		return true;
	}
	fp->stats.slirp_total++;
	return false;
}

int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int s = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s < 0)
			return -1;
		if (claim(fd, s, &ss))
			continue; /* ours; see whether libslirp has one too */
		if (addr != NULL && addrlen != NULL) {
			memcpy(addr, &ss, MIN(*addrlen, len));
			*addrlen = len;
		}
		return s;
	}
}

int listen(int fd, int backlog)
{
	struct fastpath *fp = the_fastpath;
	if (fp != NULL && fp->capture != NULL) {
		fp->capture->listen_fd = fd;
		fd_set_nonblock(fd, NULL); /* we accept in a loop until EAGAIN */
	}
	/* libslirp listens with a backlog of 1: a burst of clients would mostly be dropped and
	 * retry after 1, 3, 7... s. Every listener gets SOMAXCONN, fast path or not. */
	return (int)syscall(SYS_listen, fd, MAX(backlog, SOMAXCONN));
}

void fastpath_begin_listen(struct fastpath *fp, const struct sockaddr *guest, socklen_t len)
{
	if (fp == NULL)
		return;
	struct target *t = g_new0(struct target, 1);
	t->listen_fd = -1;
	memcpy(&t->guest, guest, len);
	t->guest_len = len;
	fp->capture = t;
}

int fastpath_end_listen(struct fastpath *fp)
{
	if (fp == NULL || fp->capture == NULL)
		return -1;
	struct target *t = g_steal_pointer(&fp->capture);
	int fd = t->listen_fd;
	if (fd < 0) {
		g_free(t);
		return -1;
	}
	if (fp->loop != NULL)
		t->watch = loop_watch_fd(fp->loop, fd, POLLIN, on_listener, t);
	g_hash_table_replace(fp->targets, GINT_TO_POINTER(fd), t);
	return fd;
}

void fastpath_forget(struct fastpath *fp, int listen_fd)
{
	if (fp == NULL || listen_fd < 0)
		return;
	struct target *t = g_hash_table_lookup(fp->targets, GINT_TO_POINTER(listen_fd));
	if (t != NULL && t->watch != NULL)
		loop_unwatch(fp->loop, t->watch);
	g_hash_table_remove(fp->targets, GINT_TO_POINTER(listen_fd));
}

/* Fork the helper; it answers when it is ready, see on_helper(). */
static bool spawn_helper(struct fastpath *fp, const struct options *opt)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return false;
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return false;
	}
	if (pid == 0) {
		close(sv[0]);
		helper_main(opt, sv[1]);
	}
	close(sv[1]);
	fp->sock = sv[0];
	fp->helper = pid;
	/* Its first word (ready, or why not) is read by on_helper(): joining the namespace and
	 * loading its filter run on the other CPU while we finish starting. */
	return true;
}

struct fastpath *fastpath_new(const struct options *opt)
{
	if (opt->port_fast_path_off || opt->netns_type == NETNS_TAPFD)
		return NULL;
	struct fastpath *fp = g_new0(struct fastpath, 1);
	fp->sock = -1;
	fp->links = -1;
	fp->targets = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	fp->via_tcpout = opt->port_fast_path_tcp;
	fp->gateway4 = addr4_offset(opt->net, 2);
	fp->gateway6 = opt->net6;
	fp->gateway6.s6_addr[15] = 2; /* the prefix's ::2, as libslirp's vhost6 */
	relay_set_init(&fp->relays);
	for (int i = 0; i < 2; i++) {
		g_queue_init(&fp->pool[i]);
		g_queue_init(&fp->waiting[i]);
	}
	if (!spawn_helper(fp, opt)) {
		log_warn("port fast path unavailable: the namespace helper did not start");
		close(fp->sock);
		fp->sock = -1;
		if (fp->helper > 0)
			waitpid(fp->helper, NULL, 0);
		fastpath_free(fp);
		return NULL;
	}
	fp->stats.enabled = true;
	the_fastpath = fp;
	return fp;
}

void fastpath_attach(struct fastpath *fp, struct loop *l)
{
	if (fp == NULL)
		return;
	fp->loop = l;
	fp->watch = loop_watch_fd(l, fp->sock, POLLIN, on_helper, fp);
	fp->topup = loop_watch_fd(l, -1, 0, on_topup, fp);
	refill(fp, 0, true);
}

void fastpath_set_tcpout(struct fastpath *fp, struct tcpout *t)
{
	if (fp != NULL)
		fp->tcpout = t;
}

void fastpath_free(struct fastpath *fp)
{
	if (fp == NULL)
		return;
	if (the_fastpath == fp)
		the_fastpath = NULL;
	if (fp->relays.relays)
		relay_set_clear(&fp->relays);
	for (int i = 0; i < 2; i++) {
		gpointer fd;
		while ((fd = g_queue_pop_head(&fp->pool[i])) != NULL)
			close(GPOINTER_TO_INT(fd) - 1);
		struct pending *p;
		while ((p = g_queue_pop_head(&fp->waiting[i])) != NULL) {
			close(p->client);
			g_free(p);
		}
	}
	if (fp->watch)
		loop_unwatch(fp->loop, fp->watch);
	if (fp->topup)
		loop_unwatch(fp->loop, fp->topup);
	if (fp->links_watch)
		loop_unwatch(fp->loop, fp->links_watch);
	if (fp->links >= 0)
		close(fp->links);
	/* The helper sees EOF and exits. It is not waited for: seccomp allows no wait4(), and
	 * the daemon is exiting anyway (a failed start is reaped in fastpath_new()). */
	if (fp->sock >= 0)
		close(fp->sock);
	g_free(fp->capture);
	g_hash_table_unref(fp->targets);
	g_free(fp);
}

struct fastpath_stats fastpath_stats(const struct fastpath *fp)
{
	struct fastpath_stats s = {0};
	if (fp != NULL) {
		s = fp->stats;
		s.fast_active = fp->relays.active;
	}
	return s;
}
