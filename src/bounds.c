// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bounds.c - the bounds on what a guest can make the daemon hold.
 *
 * The guest is untrusted, and every connection or flow it opens costs the daemon a host
 * socket (a descriptor and kernel memory) and some of its own memory. So each instance has
 * four caps, set with --max-tcp, --max-half-open, --max-udp and --max-buffered:
 *  - TCP connections at once. The outbound fast path (tcpout.c) refuses a SYN beyond it
 *    with a RST, as a host out of descriptors would. libslirp's TCP (forwards through it,
 *    DNS over TCP, everything with --outbound-fast-path=off) shares the socket total below.
 *  - Half-open connections: a SYN whose connect() is still under way, a SYN-ACK the guest
 *    has not answered, a forwarded client's SYN the guest has not answered. A SYN flood
 *    fills exactly this, so beyond it the oldest half-open connection is reset, the way a
 *    kernel's SYN queue drops the oldest request: a real client, which answers within a
 *    round trip, is never the oldest for long.
 *  - UDP flows: libslirp opens one host socket per guest address and port that sends, and
 *    keeps it until 240 s after the last datagram either way (10 s after a DNS answer).
 *    admit.c mirrors that table; beyond the cap, a datagram that would open a new flow is
 *    dropped until one expires (what conntrack does when its table is full). Datagrams of
 *    flows that exist always pass.
 *  - Bytes held for the host on behalf of all TCP connections (the stashes and
 *    out-of-order queues of tcpout.c): beyond it the window shrinks and new data waits in
 *    the guest. Host -> guest bytes are never copied into the daemon.
 * libslirp's sockets in all (TCP, UDP and ICMP echo) may reach --max-tcp plus --max-udp;
 * beyond that admit.c stops SYNs, new UDP flows and echo requests on their way to it.
 * The caps are made to fit the descriptor limit (raised to its hard limit by main.c) with
 * BOUND_FD_RESERVE to spare, so the limit itself is never what stops the daemon.
 */
#include "config.h"
#include "bounds.h"

void bounds_default(struct bounds *l)
{
	*l = (struct bounds){.tcp = BOUND_TCP_DEFAULT,
	                     .half_open = BOUND_HALF_OPEN_DEFAULT,
	                     .udp = BOUND_UDP_DEFAULT,
	                     .buffered = BOUND_BUFFERED_DEFAULT};
}

unsigned bounds_sockets(const struct bounds *l)
{
	return l->tcp + l->udp;
}

static unsigned scaled(unsigned v, uint64_t room, uint64_t want)
{
	uint64_t s = (uint64_t)v * room / want;
	return s < 1 ? 1 : (unsigned)s;
}

bool bounds_fit(struct bounds *l, rlim_t nofile)
{
	/* The fast path's connections and libslirp's sockets may both be full at once. */
	uint64_t want = (uint64_t)l->tcp + bounds_sockets(l);
	if (nofile == RLIM_INFINITY || nofile >= want + BOUND_FD_RESERVE)
		return false;
	uint64_t room = nofile > 2 * BOUND_FD_RESERVE ? nofile - BOUND_FD_RESERVE : nofile / 2;
	l->tcp = scaled(l->tcp, room, want);
	l->udp = scaled(l->udp, room, want);
	if (l->half_open > l->tcp)
		l->half_open = l->tcp;
	return true;
}
