// SPDX-License-Identifier: GPL-2.0-or-later
/* ctl_format.h - slirpnsctl's readable output of API answers (see ctl_format.c). */
#pragma once

#include <jansson.h>

/* The error text of an answer ({"error":{"desc":...}}), or NULL when it is not an error. */
const char *ctl_answer_error(json_t *answer);
/* The answer's "return" value (borrowed), or NULL. */
json_t *ctl_answer_return(json_t *answer);

/* "addr:port", "[v6]:port", "addr" when port is absent or null, "-" when addr is absent. */
char *ctl_format_endpoint(json_t *addr, json_t *port);

/* list_hostfwd's answer as a table: ID PROTO HOST GUEST (entries under return or the top). */
char *ctl_format_list(json_t *answer);
/* list_connections' return value as a table: PROTO STATE SRC DST RECV-Q SEND-Q PATH. */
char *ctl_format_connections(json_t *ret);
/* get_info's return value as indented "key: value" lines, nested objects as sections. */
char *ctl_format_info(json_t *ret);
