// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_fuzz_corpus.c - replays the fuzz corpus (tests/fuzz/corpus/) through the fuzz targets,
 * built with the normal compiler, so every seed and every crash reproducer kept there is a
 * regression test in make check without clang or libFuzzer.
 *
 * fuzz_api.c and fuzz_frame.c are linked in with -DFUZZ_REPLAY (see tests/fuzz/fuzz.h); a
 * broken invariant or a crash in them fails the test that fed the file. The frame target
 * drives a real libslirp, which opens host sockets for what the frames ask (connects to the
 * gateway's host, DNS to the resolv.conf nameserver), so that test first moves into a private
 * network namespace of its own (criterion runs each test in its own process), where all of it
 * reaches nothing; it skips if it cannot make one.
 */
#include "config.h"
#include "../fuzz/fuzz.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <glib.h>
#include <sched.h>
#include <string.h>

#ifndef FUZZ_CORPUS
#error "FUZZ_CORPUS must name the corpus directory"
#endif

static unsigned replay(const char *name, int (*fn)(const uint8_t *, size_t))
{
	g_autofree char *dir = g_build_filename(FUZZ_CORPUS, name, NULL);
	g_autoptr(GError) err = NULL;
	GDir *d = g_dir_open(dir, 0, &err);
	cr_assert_not_null(d, "%s", err ? err->message : dir);
	g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
	const char *f;
	while ((f = g_dir_read_name(d)) != NULL)
		g_ptr_array_add(files, g_build_filename(dir, f, NULL));
	g_dir_close(d);
	for (guint i = 0; i < files->len; i++) {
		const char *path = g_ptr_array_index(files, i);
		g_autofree char *data = NULL;
		gsize len = 0;
		cr_assert(g_file_get_contents(path, &data, &len, &err), "%s", path);
		fprintf(stderr, "replay %s\n", path); /* names the file if the target aborts */
		fn((const uint8_t *)data, len);
	}
	return files->len;
}

Test(fuzz_corpus, api)
{
	cr_assert_geq(replay("api", fuzz_api_one), 10, "the API seed corpus went missing");
}

Test(fuzz_corpus, frame)
{
	if (unshare(CLONE_NEWNET) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)
		cr_skip_test("cannot make a private network namespace to run libslirp in");
	cr_assert_geq(replay("frame", fuzz_frame_one), 9, "the frame seed corpus went missing");
}
