/*
 * What graceful-run is doing, as text for people and as one JSON object
 * for programs: its state, each generation (number, pid, state, age, how
 * it got ready, its last STATUS= text), the last reload's outcome and the
 * restart count. `graceful-run status` and --status-file both print this.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "graceful-run.h"

/* Wall-clock time = monotonic time + this, fixed once so it never jitters. */
static int64_t wall_offset_ns;

void
status_init(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	wall_offset_ns = (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec -
	    clock_now();
}

/* RFC 3339 in UTC with milliseconds. */
static void
status_time(int64_t mono_ns, char *out, size_t len)
{
	int64_t ns = mono_ns + wall_offset_ns;
	time_t secs = (time_t)(ns / NSEC_PER_SEC);
	struct tm tm;
	char date[32];

	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, len, "?");
		return;
	}
	snprintf(out, len, "%s.%03dZ", date,
	    (int)(ns % NSEC_PER_SEC / NSEC_PER_MSEC));
}

/* "0.31s", "2m03s", "5h02m": short and exact enough for a person. */
static void
status_duration(int64_t ns, char *out, size_t len)
{
	int64_t s = ns / NSEC_PER_SEC;

	if (ns < 0)
		ns = s = 0;
	if (s < 60)
		snprintf(out, len, "%.2fs", clock_seconds(ns));
	else if (s < 3600)
		snprintf(out, len, "%lldm%02llds", (long long)(s / 60),
		    (long long)(s % 60));
	else
		snprintf(out, len, "%lldh%02lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
}

/* The bytes of one UTF-8 sequence at p, or 0 when it is not valid. */
static size_t
status_utf8_len(const unsigned char *p)
{
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A JSON string; bytes that are not UTF-8 become '?'. */
static void
status_json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	fputc('"', f);
	while (*p != '\0') {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < ' ' || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else if ((n = status_utf8_len(p)) == 0)
			fputc('?', f);
		else {
			fwrite(p, 1, n, f);
			p += n;
			continue;
		}
		p++;
	}
	fputc('"', f);
}

static const char *
status_gen_state(const struct generation *g)
{
	switch (g->state) {
	case GEN_STARTING:
		return "starting";
	case GEN_READY:
		return "ready";
	case GEN_DRAINING:
		return "draining";
	}
	return "?";
}

/* The generations in the order they were started. */
static size_t
status_sorted(struct supervisor *sv, const struct generation **out)
{
	const struct generation *g;
	size_t i, j, n = 0;

	for (i = 0; i < MAX_GENERATIONS; i++) {
		if (sv->gens[i].id == 0)
			continue;
		g = &sv->gens[i];
		for (j = n; j > 0 && out[j - 1]->id > g->id; j--)
			out[j] = out[j - 1];
		out[j] = g;
		n++;
	}
	return n;
}

static void
status_text_gen(FILE *f, const struct generation *g, int64_t now)
{
	char age[32], d[32];

	status_duration(now - g->started_ns, age, sizeof(age));
	fprintf(f, "generation %u (pid %ld): %s", g->id, (long)g->pid,
	    status_gen_state(g));
	if (g->state == GEN_DRAINING && g->stop_ns != 0) {
		status_duration(now - g->stop_ns, d, sizeof(d));
		fprintf(f, " for %s", d);
	}
	fprintf(f, ", up %s", age);
	if (g->ready_ns != 0) {
		status_duration(g->ready_ns - g->started_ns, d, sizeof(d));
		fprintf(f, ", ready in %s (%s)", d, ready_how(g));
	}
	if (g->exited)
		fprintf(f, ", main process exited with status %d", g->status);
	if (g->status_text[0] != '\0')
		fprintf(f, ", status \"%s\"", g->status_text);
	fputc('\n', f);
}

/* The newest reload that has ended (the last one may be under way). */
static const struct reload_outcome *
status_last_reload(const struct supervisor *sv)
{
	const struct reload_outcome *o;
	unsigned seq;

	for (seq = sv->reload_seq; seq > 0 &&
	    seq + RELOAD_OUTCOMES > sv->reload_seq; seq--)
		if ((o = cycle_outcome(sv, seq)) != NULL)
			return o;
	return NULL;
}

/* "generation 5 (pid 4242) ready in 0.31s", "failed: ...". */
static const char *
status_outcome_text(const struct reload_outcome *o)
{
	if (strncmp(o->text, "reload: ", 8) == 0)
		return o->text + 8;
	if (strncmp(o->text, "reload failed: ", 15) == 0)
		return o->text + 7;
	return o->text;
}

static void
status_text(FILE *f, struct supervisor *sv)
{
	const struct generation *gens[MAX_GENERATIONS];
	const struct reload_outcome *o = status_last_reload(sv);
	int64_t now = clock_now();
	size_t i, n = status_sorted(sv, gens);
	char ago[32];

	fprintf(f, "graceful-run (pid %ld): %s", (long)getpid(),
	    cycle_state_name(sv->state));
	if (sv->state == WRAPPER_BACKOFF && sv->restart_at_ns != 0) {
		status_duration(sv->restart_at_ns - now, ago, sizeof(ago));
		fprintf(f, ", starting again in %s", ago);
	}
	fputc('\n', f);
	for (i = 0; i < n; i++)
		status_text_gen(f, gens[i], now);
	if (n == 0)
		fprintf(f, "no generation running\n");
	if (o != NULL) {
		status_duration(now - o->ended_ns, ago, sizeof(ago));
		fprintf(f, "last reload #%u (%s ago): %s\n", o->seq, ago,
		    status_outcome_text(o));
	} else
		fprintf(f, "no reload yet\n");
	if (sv->restarts > 0)
		fprintf(f, "restarts: %u\n", sv->restarts);
}

static void
status_json_time(FILE *f, const char *key, int64_t mono_ns)
{
	char t[64];

	if (mono_ns == 0) {
		fprintf(f, ",\"%s\":null", key);
		return;
	}
	status_time(mono_ns, t, sizeof(t));
	fprintf(f, ",\"%s\":\"%s\"", key, t);
}

static void
status_json_gen(FILE *f, const struct generation *g, bool live, int64_t now)
{
	fprintf(f, "{\"generation\":%u,\"pid\":%ld,\"state\":\"%s\"", g->id,
	    (long)g->pid, status_gen_state(g));
	status_json_time(f, "started_at", g->started_ns);
	status_json_time(f, "ready_at", g->ready_ns);
	if (g->ready_ns != 0) {
		fprintf(f, ",\"ready_in\":%.3f,\"ready_by\":",
		    clock_seconds(g->ready_ns - g->started_ns));
		status_json_string(f, ready_how(g));
	} else
		fprintf(f, ",\"ready_in\":null,\"ready_by\":null");
	status_json_time(f, "stopping_at", g->stop_ns);
	fprintf(f, ",\"exit_status\":");
	if (g->exited)
		fprintf(f, "%d", g->status);
	else
		fprintf(f, "null");
	fprintf(f, ",\"status\":");
	if (g->status_text[0] != '\0')
		status_json_string(f, g->status_text);
	else
		fprintf(f, "null");
	if (live)
		fprintf(f, ",\"age\":%.3f", clock_seconds(now - g->started_ns));
	fputc('}', f);
}

static void
status_json_outcome(FILE *f, const struct reload_outcome *o)
{
	if (o == NULL) {
		fprintf(f, "null");
		return;
	}
	fprintf(f, "{\"reload\":%u,\"ok\":%s", o->seq,
	    o->ok ? "true" : "false");
	if (o->gen != 0)
		fprintf(f, ",\"generation\":%u", o->gen);
	else
		fprintf(f, ",\"generation\":null");
	status_json_time(f, "ended_at", o->ended_ns);
	fprintf(f, ",\"duration\":%.3f,\"text\":", o->seconds);
	status_json_string(f, o->text);
	fputc('}', f);
}

static void
status_json(FILE *f, struct supervisor *sv, bool live)
{
	const struct generation *gens[MAX_GENERATIONS];
	int64_t now = clock_now();
	size_t i, n = status_sorted(sv, gens);

	fprintf(f, "{\"pid\":%ld,\"state\":\"%s\",\"serving\":%s,"
	    "\"generations\":[", (long)getpid(), cycle_state_name(sv->state),
	    cycle_current(sv) != NULL ? "true" : "false");
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', f);
		status_json_gen(f, gens[i], live, now);
	}
	fprintf(f, "],\"reloads\":%u,\"last_reload\":", sv->reload_seq);
	status_json_outcome(f, status_last_reload(sv));
	fprintf(f, ",\"restarts\":%u", sv->restarts);
	status_json_time(f, "restart_at", sv->state == WRAPPER_BACKOFF ?
	    sv->restart_at_ns : 0);
	fprintf(f, "}\n");
}

/*
 * The status in *text (malloc'd, newline-terminated): 1 when a generation
 * serves, 0 when none does, -1 when there was no memory for it. live adds
 * what changes with time alone (ages), which a file must not hold.
 */
int
status_format(struct supervisor *sv, bool json, bool live, char **text)
{
	size_t len;
	FILE *f;
	int bad;

	*text = NULL;
	if ((f = open_memstream(text, &len)) == NULL)
		return -1;
	if (json)
		status_json(f, sv, live);
	else
		status_text(f, sv);
	bad = ferror(f);
	if (fclose(f) == EOF || bad) {
		free(*text);
		*text = NULL;
		return -1;
	}
	return cycle_current(sv) != NULL;
}
