// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctl_format.c - slirpnsctl's readable output: API answers in, text out, no I/O.
 *
 * Tables (list, connections) are rows of cells, padded to the widest cell of each column and
 * separated by two spaces, with a header row. Answers may come from slirp4netns, which sends
 * fewer fields than slirpns (and list_hostfwd's entries at the top level rather than under
 * "return"), so every missing field prints as "-" rather than failing. get_info is printed
 * generically, key by key in the daemon's order, so keys added to it later show up too.
 */
#include "config.h"
#include "ctl_format.h"

#include <glib.h>
#include <string.h>

const char *ctl_answer_error(json_t *answer)
{
	json_t *e = json_object_get(answer, "error");
	if (e == NULL)
		return NULL;
	const char *desc = json_string_value(json_object_get(e, "desc"));
	return desc != NULL ? desc : "error without a description";
}

json_t *ctl_answer_return(json_t *answer)
{
	return json_object_get(answer, "return");
}

/* A scalar as text: strings bare, numbers and booleans as JSON, null and absent as "-". */
static char *scalar_text(json_t *v)
{
	if (v == NULL || json_is_null(v))
		return g_strdup("-");
	if (json_is_string(v))
		return g_strdup(json_string_value(v));
	if (json_is_integer(v))
		return g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	char *g = g_strdup(s != NULL ? s : "?");
	free(s);
	return g;
}

char *ctl_format_endpoint(json_t *addr, json_t *port)
{
	const char *a = json_string_value(addr);
	if (a == NULL)
		return g_strdup("-");
	if (port == NULL || json_is_null(port))
		return g_strdup(a);
	g_autofree char *p = scalar_text(port);
	if (strchr(a, ':') != NULL)
		return g_strdup_printf("[%s]:%s", a, p);
	return g_strdup_printf("%s:%s", a, p);
}

/* A table: rows of NULL-terminated string vectors, all with ncols cells. */
struct table {
	GPtrArray *rows;
	size_t ncols;
};

static void table_init(struct table *t, const char *const *header, size_t ncols)
{
	t->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	t->ncols = ncols;
	g_ptr_array_add(t->rows, g_strdupv((char **)header));
}

/* Add a row; takes the cells (ncols of them, each g_malloc'd). */
static void table_add(struct table *t, char **cells)
{
	char **row = g_new0(char *, t->ncols + 1);
	memcpy(row, cells, t->ncols * sizeof(char *));
	g_ptr_array_add(t->rows, row);
}

/* Render and free the table. */
static char *table_finish(struct table *t)
{
	g_autofree size_t *width = g_new0(size_t, t->ncols);
	for (guint r = 0; r < t->rows->len; r++) {
		char **row = g_ptr_array_index(t->rows, r);
		for (size_t c = 0; c < t->ncols; c++)
			width[c] = MAX(width[c], (size_t)g_utf8_strlen(row[c], -1));
	}
	GString *out = g_string_new(NULL);
	for (guint r = 0; r < t->rows->len; r++) {
		char **row = g_ptr_array_index(t->rows, r);
		for (size_t c = 0; c < t->ncols; c++) {
			g_string_append(out, row[c]);
			if (c + 1 == t->ncols)
				break;
			size_t pad = width[c] - (size_t)g_utf8_strlen(row[c], -1) + 2;
			for (size_t i = 0; i < pad; i++)
				g_string_append_c(out, ' ');
		}
		g_string_append_c(out, '\n');
	}
	g_ptr_array_unref(t->rows);
	return g_string_free(out, FALSE);
}

static json_t *list_entries(json_t *answer)
{
	json_t *entries = json_object_get(ctl_answer_return(answer), "entries");
	if (!json_is_array(entries))
		entries = json_object_get(answer, "entries");
	return json_is_array(entries) ? entries : NULL;
}

char *ctl_format_list(json_t *answer)
{
	static const char *const header[] = {"ID", "PROTO", "HOST", "GUEST", NULL};
	struct table t;
	table_init(&t, header, 4);
	size_t i;
	json_t *e;
	json_array_foreach(list_entries(answer), i, e)
	{
		char *cells[] = {
		    scalar_text(json_object_get(e, "id")),
		    scalar_text(json_object_get(e, "proto")),
		    ctl_format_endpoint(json_object_get(e, "host_addr"),
		                        json_object_get(e, "host_port")),
		    ctl_format_endpoint(json_object_get(e, "guest_addr"),
		                        json_object_get(e, "guest_port")),
		};
		table_add(&t, cells);
	}
	return table_finish(&t);
}

char *ctl_format_connections(json_t *ret)
{
	static const char *const header[] = {"PROTO",  "STATE",  "SRC",  "DST",
	                                     "RECV-Q", "SEND-Q", "PATH", NULL};
	struct table t;
	table_init(&t, header, 7);
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(ret, "connections"), i, c)
	{
		json_t *path = json_object_get(c, "path");
		char *cells[] = {
		    scalar_text(json_object_get(c, "proto")),
		    scalar_text(json_object_get(c, "state")),
		    ctl_format_endpoint(json_object_get(c, "src_addr"),
		                        json_object_get(c, "src_port")),
		    ctl_format_endpoint(json_object_get(c, "dst_addr"),
		                        json_object_get(c, "dst_port")),
		    scalar_text(json_object_get(c, "recv_q")),
		    scalar_text(json_object_get(c, "send_q")),
		    json_is_string(path) ? g_strdup(json_string_value(path)) : g_strdup("slirp"),
		};
		table_add(&t, cells);
	}
	return table_finish(&t);
}

/* An array of scalars as "a, b, c"; anything nested as compact JSON. */
static char *array_text(json_t *a)
{
	GString *s = g_string_new(NULL);
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		g_autofree char *t = json_is_object(v) || json_is_array(v) ? NULL : scalar_text(v);
		if (t == NULL) {
			char *d = json_dumps(v, JSON_COMPACT);
			t = g_strdup(d != NULL ? d : "?");
			free(d);
		}
		g_string_append_printf(s, "%s%s", i > 0 ? ", " : "", t);
	}
	return g_string_free(s, FALSE);
}

static void info_object(GString *out, json_t *obj, int indent)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		if (json_is_object(v)) {
			g_string_append_printf(out, "%*s%s:\n", indent, "", key);
			info_object(out, v, indent + 2);
			continue;
		}
		g_autofree char *t = json_is_array(v) ? array_text(v) : scalar_text(v);
		g_string_append_printf(out, "%*s%s: %s\n", indent, "", key, t);
	}
}

char *ctl_format_info(json_t *ret)
{
	GString *out = g_string_new(NULL);
	info_object(out, ret, 0);
	return g_string_free(out, FALSE);
}
