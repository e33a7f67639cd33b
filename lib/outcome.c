/*
 * The outcome of each reload, kept by its sequence number for the last few
 * reloads: a control client holds the number of the reload that covers its
 * request (its ticket) and is answered once that number shows up here, so
 * several clients and HUPs can overlap and each learns its own outcome.
 */
#include "config.h"

#include <string.h>

#include "graceful-run.h"

void
outcome_record(struct reload_outcomes *ro, const struct reload_outcome *o)
{
	ro->v[o->seq % RELOAD_OUTCOMES] = *o;
	if (o->seq > ro->last)
		ro->last = o->seq;
}

/* NULL while the reload runs; also once it is too old to be kept. */
const struct reload_outcome *
outcome_find(const struct reload_outcomes *ro, uint64_t seq)
{
	const struct reload_outcome *o = &ro->v[seq % RELOAD_OUTCOMES];

	return seq != 0 && o->seq == seq ? o : NULL;
}

/* Whether reload seq ended so long ago that its outcome was overwritten. */
bool
outcome_lost(const struct reload_outcomes *ro, uint64_t seq)
{
	return seq != 0 && seq + RELOAD_OUTCOMES <= ro->last;
}

const struct reload_outcome *
outcome_last(const struct reload_outcomes *ro)
{
	return outcome_find(ro, ro->last);
}
