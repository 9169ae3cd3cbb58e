// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz.h - the two fuzz targets as plain functions.
 *
 * fuzz_api.c and fuzz_frame.c each define one input handler. Built for libFuzzer (make fuzz),
 * each also defines LLVMFuzzerTestOneInput calling it; built with -DFUZZ_REPLAY (make check),
 * they are linked together into tests/unit/test_fuzz_corpus, which feeds them every file of
 * tests/fuzz/corpus/ with the normal compiler, so the corpus (and every crash ever found,
 * kept there) is a regression suite without clang.
 *
 * A broken invariant (not just a crash) aborts with a message: FUZZ_CHECK.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int fuzz_api_one(const uint8_t *data, size_t size);
int fuzz_frame_one(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__,       \
			        #cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)
