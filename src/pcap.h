// SPDX-License-Identifier: GPL-2.0-or-later
/* pcap.h - --pcap: a bounded capture of every frame to a pcap file (see pcap.c). */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

struct pcap;

/*
 * Create (or truncate) path, mode 0600, and write the pcap file header. Call before the
 * sandbox: afterwards only writes to the open fd are needed. NULL with *err on failure.
 */
struct pcap *pcap_open(const char *path, uint64_t max_size, GError **err);
/* Append one Ethernet frame; once the file is full or a write failed, nothing more is written. */
void pcap_frame(struct pcap *p, const void *frame, size_t len);
void pcap_close(struct pcap *p);
