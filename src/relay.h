// SPDX-License-Identifier: GPL-2.0-or-later
/* relay.h - move bytes between two connected stream sockets (see relay.c). */
#pragma once

#include "loop.h"

/* The relays of one owner: counted, and all closed together at the end. */
struct relay_set {
	unsigned long long active;
	unsigned long long total;
	GHashTable *relays; /* struct relay * -> itself */
};

void relay_set_init(struct relay_set *set);
/* Abort every relay still running and free the set's storage. */
void relay_set_clear(struct relay_set *set);

/*
 * Relay between a (connected) and b (connected, or with a non-blocking connect() in
 * progress) until both directions are closed; both fds are owned and closed by the relay.
 */
void relay_start(struct loop *l, int a, int b, struct relay_set *set);
