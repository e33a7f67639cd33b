/*
 * Monotonic time: deadlines survive wall-clock jumps.
 */
#include "config.h"

#include <time.h>

#include "graceful-run.h"

int64_t
clock_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

double
clock_seconds(int64_t ns)
{
	return (double)ns / (double)NSEC_PER_SEC;
}

/* The sooner of two deadlines, where 0 is "none". */
int64_t
clock_earliest(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}
