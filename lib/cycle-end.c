/*
 * How graceful-run ends and how each reload ended: the exit status is
 * decided here alone, from one record (struct wrapper_end); the outcomes
 * of the last reloads are kept by number for whoever waits on one.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "graceful-run.h"

void
cycle_end_with(struct supervisor *sv, int status)
{
	if (sv->end.known || sv->end.gen != 0)
		return;
	sv->end.known = true;
	sv->end.status = status;
}

void
cycle_end_on_exit_of(struct supervisor *sv, const struct generation *g)
{
	if (sv->end.known || sv->end.gen != 0)
		return;
	sv->end.gen = g->id;
	sv->end.graceful = true;
}

void
cycle_end_gen_exited(struct supervisor *sv, const struct generation *g)
{
	if (!sv->end.known && sv->end.gen == g->id) {
		sv->end.known = true;
		sv->end.status = g->status;
	}
}

/*
 * DESIGN.md, "Exit status": the status of the generation that ended it;
 * after a graceful stop, 0 when it exited 0 or died of the stop signal.
 */
int
cycle_exit_status(const struct supervisor *sv)
{
	const struct wrapper_end *e = &sv->end;

	if (!e->known)
		return 0;
	if (e->graceful && (e->status == 0 ||
	    e->status == 128 + sv->cfg->stop_signal))
		return 0;
	return e->status;
}

void
cycle_record(struct supervisor *sv, unsigned seq, bool ok, unsigned gen,
    const char *fmt, ...)
{
	struct reload_outcome *o = &sv->outcomes[seq % RELOAD_OUTCOMES];
	va_list ap;

	memset(o, 0, sizeof(*o));
	o->seq = seq;
	o->ok = ok;
	o->gen = gen;
	o->ended_ns = clock_now();
	o->seconds = clock_seconds(o->ended_ns - sv->reload_started_ns);
	va_start(ap, fmt);
	vsnprintf(o->text, sizeof(o->text), fmt, ap);
	va_end(ap);
}

const struct reload_outcome *
cycle_outcome(const struct supervisor *sv, unsigned seq)
{
	const struct reload_outcome *o = &sv->outcomes[seq % RELOAD_OUTCOMES];

	return seq != 0 && o->seq == seq ? o : NULL;
}

/* Reloads asked for and not done get their answer: why none will be. */
void
cycle_refuse_reloads(struct supervisor *sv, const char *why)
{
	if (sv->reload_open)
		cycle_record(sv, sv->reload_seq, false, 0, "reload failed: %s",
		    why);
	if (sv->reload_pending)
		cycle_record(sv, sv->reload_seq + 1, false, 0,
		    "reload failed: %s", why);
	sv->reload_open = false;
	sv->reload_pending = false;
}

