/*
 * The next definition (libc's, or another preloaded library's) of every
 * function the library replaces. Looked up on first use, not only in the
 * constructor: another library's constructor may call close() before ours
 * has run.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdatomic.h>

#include "preload.h"

static struct real_fns fns;
static atomic_bool resolved;

static void *
real_next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/* Two threads may race here; both store the same values. */
static void
real_resolve(void)
{
	*(void **)&fns.bind = real_next("bind");
	*(void **)&fns.listen = real_next("listen");
	*(void **)&fns.close = real_next("close");
	*(void **)&fns.close_range = real_next("close_range");
	*(void **)&fns.dup2 = real_next("dup2");
	*(void **)&fns.dup3 = real_next("dup3");
	*(void **)&fns.unlink = real_next("unlink");
	*(void **)&fns.unlinkat = real_next("unlinkat");
	*(void **)&fns.remove = real_next("remove");
	atomic_store(&resolved, true);
}

const struct real_fns *
real(void)
{
	if (!atomic_load(&resolved))
		real_resolve();
	return &fns;
}
