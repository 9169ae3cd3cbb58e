// SPDX-License-Identifier: GPL-2.0-or-later
/* util.h - small shared helpers: error reporting and fd cleanup (see util.c). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Print "slirpns: <message>" on stderr. */
void log_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void log_warn(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/*
 * --debug: "slirpns: <UTC timestamp> debug: <message>" on stderr. The flag is tested before
 * the arguments are evaluated, so a call costs one branch when --debug is off. Never pass
 * packet payloads: addresses, ports, names and counts only.
 */
extern bool slirpns_debug;
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (G_UNLIKELY(slirpns_debug))                                                     \
			log_debug_print(__VA_ARGS__);                                              \
	} while (0)
void log_debug_print(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Print "slirpns: <message>" and exit 1. */
G_NORETURN void die(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Set a GError in the runtime domain, with strerror(errno) appended when errnum != 0. */
bool set_error(GError **err, int errnum, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

bool fd_set_nonblock(int fd, GError **err);

/*
 * Send len bytes over a Unix socket with fd attached (SCM_RIGHTS), or without one when fd < 0.
 * Returns what sendmsg() returns.
 */
ssize_t unix_send_fd(int sock, const void *data, size_t len, int fd, int flags);
/*
 * Receive up to len bytes and the fd attached to them, if any (*fd = -1 otherwise; received
 * fds are close-on-exec). Returns what recvmsg() returns (retrying on EINTR); *ctrunc tells
 * that an fd was sent but did not fit (we are out of fds). A peer that sends several fds gets
 * the first kept and the others closed. Check what the fd is before trusting it.
 */
ssize_t unix_recv_fd(int sock, void *data, size_t len, int *fd, int flags, bool *ctrunc);
/*
 * Up to max (at most FD_BATCH_MAX) messages of a datagram or seqpacket socket in one
 * recvmmsg(2), each as unix_recv_fd() would give it: its bytes (at most sizeof(data); the rest
 * of a longer message is lost), its first fd or -1, and whether fds did not fit. Returns the
 * count, or -1 with errno (EAGAIN with MSG_DONTWAIT: none waiting). A message of length 0
 * is the peer's end of file on a seqpacket socket.
 */
#define FD_BATCH_MAX 16
struct fd_msg {
	unsigned char data[8];
	size_t len;
	int fd;
	bool ctrunc;
};
int unix_recv_fd_batch(int sock, struct fd_msg *out, unsigned max, int flags);
/* fd is a socket of this domain, type and protocol (SO_DOMAIN, SO_TYPE, SO_PROTOCOL); a
 * negative value is not checked. */
bool fd_check_socket(int fd, int domain, int type, int protocol, GError **err);

/*
 * Make this process not dumpable (PR_SET_DUMPABLE 0): no process of the same uid may ptrace it
 * or read its /proc/PID/mem, environ, fd or maps, and it leaves no core dump. The kernel may
 * set the flag back to fs.suid_dumpable when our credentials change in a way it does not see
 * as a subset of the old ones (joining a user namespace that another uid owns, for example;
 * the tap child, the port fast path's helper and the sandbox all join or create one), so each
 * of them calls this again after such a step, before any seccomp filter forbids prctl().
 * One cost: our own /proc/self files then belong to root (the sandbox's new_userns() must
 * lift the flag for a moment to write its uid and gid maps).
 */
void process_set_undumpable(void);

/* Close *fd if it is open; for __attribute__((cleanup)). */
void close_fdp(int *fd);
#define autoclose_fd __attribute__((cleanup(close_fdp)))

/* WITH_ASAN: built with AddressSanitizer (GCC or clang). */
#if defined(__SANITIZE_ADDRESS__)
#define WITH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WITH_ASAN 1
#endif
#endif

/* A hash of n bytes (FNV-1a), for hash table keys that are zero-filled structs. */
guint hash_bytes(const void *p, size_t n);

/* A numeric IPv4 or IPv6 address and a port as a socket address; 0 if addr is neither. */
socklen_t sockaddr_parse(const char *addr, uint16_t port, struct sockaddr_storage *ss);
