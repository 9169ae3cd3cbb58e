/* util.h - small shared helpers: error reporting and fd cleanup (see util.c). */
#pragma once

#include <glib.h>
#include <stdbool.h>

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

/* Close *fd if it is open; for __attribute__((cleanup)). */
void close_fdp(int *fd);
#define autoclose_fd __attribute__((cleanup(close_fdp)))
