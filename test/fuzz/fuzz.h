/*
 * What the libFuzzer drivers of test/fuzz/ share (fuzz.c): a C string from
 * raw input, the check that turns a broken invariant into a crash libFuzzer
 * keeps, and a probe for leaked fds.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

/* libFuzzer's entry points; each driver defines the second. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

noreturn void fuzz_fail(const char *, ...)
    __attribute__((format(printf, 1, 2)));
char *fuzz_cstring(const uint8_t *data, size_t size);
int fuzz_lowest_free_fd(void);

/* Not assert(): it stays on under NDEBUG and names the broken line. */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond))							\
		fuzz_fail("%s:%d: %s", __FILE__, __LINE__, #cond);	\
} while (0)

#endif
