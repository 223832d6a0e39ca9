// SPDX-License-Identifier: GPL-2.0
/*
 * mmsb-tool stats: the counters of a bus and of its pages, as text for
 * people or as one JSON object for programs (Documentation/tool-json.md),
 * and --watch, a view of every bus's rates redrawn each interval.
 *
 * --watch reads the counters of the bus named by --bus through
 * BUS_INFO, attached read-only, or without --bus those of every bus from
 * the module's debugfs file, which only root can read.  The module keeps
 * no reader's position where another process can see it, so the view
 * cannot show how far behind the slowest reader is; it shows the
 * overruns, the readers that fell so far behind that they lost records,
 * instead.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mmsb-tool.h"

/* The module's list of buses and their counters (kmod/bus.c). */
#define DEBUGFS_BUSES	"/sys/kernel/debug/mmsb/buses"

#define INTERVAL_MIN	0.01
#define INTERVAL_MAX	86400.0

/* The ids of the pages to show: those named, or every live page. */
static int page_ids(struct mmsb_bus *bus, int argc, char **argv,
		    uint64_t **idsp, size_t *nrp)
{
	uint64_t *ids = NULL, *bigger, after = 0;
	size_t nr = 0, cap = 0;
	int i, n;

	if (argc) {
		ids = calloc(argc, sizeof(*ids));
		if (!ids)
			return tool_fail(-ENOMEM, "page ids");
		for (i = 0; i < argc; i++)
			tool_parse_id(argv[i], &ids[i]);
		*idsp = ids;
		*nrp = argc;
		return TOOL_OK;
	}
	/* PAGE_LIST a batch at a time, each starting after the last id. */
	do {
		if (cap - nr < 256) {
			cap = cap ? cap * 2 : 256;
			bigger = realloc(ids, cap * sizeof(*ids));
			if (!bigger) {
				free(ids);
				return tool_fail(-ENOMEM, "page ids");
			}
			ids = bigger;
		}
		n = mmsb_page_list(bus, after, ids + nr, 256);
		if (n < 0) {
			free(ids);
			return tool_fail(n, "listing the pages");
		}
		nr += n;
		if (n)
			after = ids[nr - 1];
	} while (n == 256);
	*idsp = ids;
	*nrp = nr;
	return TOOL_OK;
}

static void print_page_row(const struct mmsb_page_info *pi)
{
	printf("%8" PRIu64 " %12" PRIu64 " %8" PRIu64 " %5" PRIu64 " %6" PRIu64
	       " %10" PRIu64 " %8" PRIu64 " %8" PRIu64 " %12" PRIu64
	       " %12" PRIu64 "\n",
	       (uint64_t)pi->page_id, (uint64_t)pi->size, (uint64_t)pi->epoch,
	       (uint64_t)pi->map_count, (uint64_t)pi->dirty_chunks,
	       (uint64_t)pi->wp_faults, (uint64_t)pi->commits,
	       (uint64_t)pi->records, (uint64_t)pi->record_bytes,
	       (uint64_t)pi->bytes_diffed);
}

static void print_page_json(const struct mmsb_page_info *pi, bool first)
{
	printf("%s{\"page\":%" PRIu64 ",\"size\":%" PRIu64 ",\"epoch\":%"
	       PRIu64 ",\"map_count\":%" PRIu64 ",\"dirty_chunks\":%" PRIu64
	       ",\"wp_faults\":%" PRIu64 ",\"commits\":%" PRIu64
	       ",\"records\":%" PRIu64 ",\"record_bytes\":%" PRIu64
	       ",\"bytes_diffed\":%" PRIu64 "}", first ? "" : ",",
	       (uint64_t)pi->page_id, (uint64_t)pi->size, (uint64_t)pi->epoch,
	       (uint64_t)pi->map_count, (uint64_t)pi->dirty_chunks,
	       (uint64_t)pi->wp_faults, (uint64_t)pi->commits,
	       (uint64_t)pi->records, (uint64_t)pi->record_bytes,
	       (uint64_t)pi->bytes_diffed);
}

/*
 * Everything the text form shows, every field named.  The name is one of
 * [A-Za-z0-9._-] (tool_open_bus() checked), so it needs no escaping.
 */
static int print_bus_json(struct mmsb_bus *bus, const char *name)
{
	struct mmsb_bus_info bi;
	int ret;

	ret = mmsb_bus_info(bus, &bi);
	if (ret)
		return tool_fail(ret, "bus info of '%s'", name);
	printf("{\"bus\":\"%s\",\"bus_id\":%" PRIu64 ",\"backend\":\"%s\""
	       ",\"attached\":%" PRIu32 ",\"nr_pages\":%" PRIu64
	       ",\"bytes\":%" PRIu64 ",\"ring_size\":%" PRIu64
	       ",\"last_seq\":%" PRIu64 ",\"wp_faults\":%" PRIu64
	       ",\"commits\":%" PRIu64 ",\"bytes_diffed\":%" PRIu64
	       ",\"records\":%" PRIu64 ",\"record_bytes\":%" PRIu64
	       ",\"overruns\":%" PRIu64, name, (uint64_t)bi.bus_id,
	       mmsb_bus_backend(bus), bi.attached, (uint64_t)bi.nr_pages,
	       (uint64_t)bi.bytes, (uint64_t)bi.ring_size,
	       (uint64_t)bi.last_seq, (uint64_t)bi.wp_faults,
	       (uint64_t)bi.commits, (uint64_t)bi.bytes_diffed,
	       (uint64_t)bi.records, (uint64_t)bi.record_bytes,
	       (uint64_t)bi.overruns);
	return TOOL_OK;
}

/*
 * The bus, then its pages.  A page that cannot be read (freed since it
 * was listed, or never there) is said on stderr and left out; the rest
 * is still shown, and valid JSON.
 */
static int print_stats(struct mmsb_bus *bus, int argc, char **argv,
		       bool json)
{
	struct mmsb_page_info pi;
	bool first = true;
	uint64_t *ids = NULL;
	size_t nr = 0, i;
	int ret, err;

	/* Ids first: if they cannot be had, nothing is printed. */
	ret = page_ids(bus, argc, argv, &ids, &nr);
	if (ret)
		return ret;
	if (json)
		ret = print_bus_json(bus, tool_bus_name);
	else
		ret = tool_print_bus_info(bus, tool_bus_name);
	if (ret) {
		free(ids);
		return ret;
	}
	if (json)
		printf(",\"pages\":[");
	else
		printf("\n%8s %12s %8s %5s %6s %10s %8s %8s %12s %12s\n",
		       "page", "size", "epoch", "maps", "dirty", "wp-faults",
		       "commits", "records", "record-bytes", "bytes-diffed");
	for (i = 0; i < nr; i++) {
		err = mmsb_page_info(bus, ids[i], &pi);
		if (err) {
			ret = tool_fail(err, "page %" PRIu64, ids[i]);
			continue;
		}
		if (json)
			print_page_json(&pi, first);
		else
			print_page_row(&pi);
		first = false;
	}
	if (json)
		printf("]}\n");
	free(ids);
	return ret;
}

/* What --watch shows of one bus; the counters as BUS_INFO gives them. */
struct bus_sample {
	uint64_t id;
	char name[MMSB_BUS_NAME_MAX];
	uint64_t readers;	/* attached files, this tool's left out */
	uint64_t last_seq, wp_faults, commits, records, record_bytes,
		 overruns;
};

struct sample {
	struct bus_sample *buses;
	size_t nr, cap;
	struct timespec when;	/* CLOCK_MONOTONIC, when they were read */
};

static struct bus_sample *sample_add(struct sample *s)
{
	struct bus_sample *bigger;

	if (s->nr == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		bigger = realloc(s->buses, s->cap * sizeof(*bigger));
		if (!bigger)
			return NULL;
		s->buses = bigger;
	}
	memset(&s->buses[s->nr], 0, sizeof(s->buses[0]));
	return &s->buses[s->nr++];
}

/* The bus --watch is attached to; it counts itself among the attached. */
static int sample_bus(struct mmsb_bus *bus, struct sample *s)
{
	struct mmsb_bus_info bi;
	struct bus_sample *b;
	int ret;

	ret = mmsb_bus_info(bus, &bi);
	if (ret)
		return tool_fail(ret, "bus info of '%s'", tool_bus_name);
	b = sample_add(s);
	if (!b)
		return tool_fail(-ENOMEM, "bus counters");
	b->id = bi.bus_id;
	snprintf(b->name, sizeof(b->name), "%s", tool_bus_name);
	b->readers = bi.attached ? bi.attached - 1 : 0;
	b->last_seq = bi.last_seq;
	b->wp_faults = bi.wp_faults;
	b->commits = bi.commits;
	b->records = bi.records;
	b->record_bytes = bi.record_bytes;
	b->overruns = bi.overruns;
	return TOOL_OK;
}

/* The columns of the debugfs file that --watch needs, found by name. */
enum {
	COL_ID, COL_NAME, COL_ATTACHED, COL_LAST_SEQ, COL_WP_FAULTS,
	COL_COMMITS, COL_RECORDS, COL_RECORD_BYTES, COL_OVERRUNS, NR_COLS
};

static const char *const col_names[NR_COLS] = {
	"id", "name", "attached", "last_seq", "wp_faults", "commits",
	"records", "record_bytes", "overruns",
};

#define MAX_FIELDS	64

/* Splits @line at spaces in place; returns the number of fields. */
static int split_fields(char *line, char *fields[MAX_FIELDS])
{
	char *save, *tok;
	int n = 0;

	for (tok = strtok_r(line, " \n", &save); tok && n < MAX_FIELDS;
	     tok = strtok_r(NULL, " \n", &save))
		fields[n++] = tok;
	return n;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && end != s && !*end && *s != '-';
}

/* One line of the debugfs file into @b; false if it is not one. */
static bool parse_bus_line(char *line, const int col[NR_COLS],
			   struct bus_sample *b)
{
	uint64_t *const vals[NR_COLS] = {
		[COL_ID] = &b->id, [COL_ATTACHED] = &b->readers,
		[COL_LAST_SEQ] = &b->last_seq, [COL_WP_FAULTS] = &b->wp_faults,
		[COL_COMMITS] = &b->commits, [COL_RECORDS] = &b->records,
		[COL_RECORD_BYTES] = &b->record_bytes,
		[COL_OVERRUNS] = &b->overruns,
	};
	char *fields[MAX_FIELDS];
	int n, i;

	n = split_fields(line, fields);
	for (i = 0; i < NR_COLS; i++) {
		if (col[i] >= n)
			return false;
		if (i == COL_NAME)
			snprintf(b->name, sizeof(b->name), "%s", fields[col[i]]);
		else if (!parse_u64(fields[col[i]], vals[i]))
			return false;
	}
	return true;
}

/*
 * Every bus, from the debugfs file: a header line naming the columns,
 * then a line per bus.  Returns 0 or -errno; -EPROTO if the file is not
 * what this tool expects.
 */
static int sample_debugfs(struct sample *s)
{
	char *line = NULL, *fields[MAX_FIELDS];
	int col[NR_COLS], n, i, j, ret = 0;
	struct bus_sample *b;
	size_t len = 0;
	FILE *f;

	f = fopen(DEBUGFS_BUSES, "re");
	if (!f)
		return -errno;
	if (getline(&line, &len, f) < 0) {
		ret = ferror(f) ? -errno : -EPROTO;
		goto out;
	}
	n = split_fields(line, fields);
	for (i = 0; i < NR_COLS; i++) {
		for (j = 0; j < n && strcmp(fields[j], col_names[i]); j++)
			;
		if (j == n) {
			ret = -EPROTO;
			goto out;
		}
		col[i] = j;
	}
	while (getline(&line, &len, f) >= 0) {
		b = sample_add(s);
		if (!b) {
			ret = -ENOMEM;
			goto out;
		}
		if (!parse_bus_line(line, col, b)) {
			ret = -EPROTO;
			goto out;
		}
	}
	if (ferror(f))
		ret = -EIO;
out:
	free(line);
	fclose(f);
	return ret;
}

static int by_id(const void *a, const void *b)
{
	const struct bus_sample *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Reads the counters now: of @bus, or with @bus NULL of every bus. */
static int take_sample(struct mmsb_bus *bus, struct sample *s)
{
	int ret;

	s->nr = 0;
	if (bus) {
		ret = sample_bus(bus, s);
	} else {
		ret = sample_debugfs(s);
		if (ret)
			ret = tool_fail(ret, "reading %s", DEBUGFS_BUSES);
		else
			qsort(s->buses, s->nr, sizeof(s->buses[0]), by_id);
	}
	clock_gettime(CLOCK_MONOTONIC, &s->when);
	return ret;
}

static double seconds_between(const struct timespec *a,
			      const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

/* @now - @then per second; a counter never goes back, but be sure. */
static double rate(uint64_t now, uint64_t then, double secs)
{
	return now > then ? (now - then) / secs : 0;
}

/*
 * One block: a line saying when, the column names, a row per bus.  A bus
 * that was not there at the last sample came to be since, with every
 * counter at 0, so its rates are over the interval too.
 */
static void print_rates(const struct sample *prev, const struct sample *cur,
			double interval, bool tty)
{
	static const struct bus_sample none;
	const struct bus_sample *b, *p;
	double secs = seconds_between(&prev->when, &cur->when);
	struct timespec real;
	size_t i, j;

	if (secs <= 0)
		secs = 1e-9;
	if (tty)
		fputs("\033[H\033[2J", stdout);
	clock_gettime(CLOCK_REALTIME, &real);
	tool_print_time(stdout, (uint64_t)real.tv_sec * 1000000000 + real.tv_nsec);
	printf("  %zu bus%s, rates over %.3f s (every %g s)\n", cur->nr,
	       cur->nr == 1 ? "" : "es", secs, interval);
	printf("%7s %10s %12s %9s %9s %10s %10s  %s\n", "readers",
	       "records/s", "bytes/s", "faults/s", "commits/s", "overruns/s",
	       "last-seq", "bus");
	for (i = 0; i < cur->nr; i++) {
		b = &cur->buses[i];
		p = &none;
		for (j = 0; j < prev->nr; j++)
			if (prev->buses[j].id == b->id)
				p = &prev->buses[j];
		printf("%7" PRIu64 " %10.1f %12.0f %9.1f %9.1f %10.1f %10" PRIu64
		       "  %s\n", b->readers, rate(b->records, p->records, secs),
		       rate(b->record_bytes, p->record_bytes, secs),
		       rate(b->wp_faults, p->wp_faults, secs),
		       rate(b->commits, p->commits, secs),
		       rate(b->overruns, p->overruns, secs), b->last_seq,
		       b->name);
	}
	if (!tty)
		putchar('\n');
}

/*
 * SIGINT and SIGTERM end the watch: they are blocked and waited for
 * between samples, so none is missed between a check and the sleep.  A
 * handler takes them back from a shell that starts background jobs with
 * SIGINT ignored, which would discard it even while blocked.
 */
static void on_stop_signal(int sig)
{
	(void)sig;
}

static int block_stop_signals(sigset_t *set)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigprocmask(SIG_BLOCK, set, NULL))
		return tool_fail(-errno, "setting up the signals");
	return TOOL_OK;
}

/* Waits until @deadline; true if a stop signal came first. */
static bool wait_until(const sigset_t *set, const struct timespec *deadline)
{
	struct timespec now, left;
	double secs;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		secs = seconds_between(&now, deadline);
		if (secs < 0)
			secs = 0;
		left.tv_sec = (time_t)secs;
		left.tv_nsec = (long)((secs - left.tv_sec) * 1e9);
		if (sigtimedwait(set, NULL, &left) >= 0)
			return true;
		if (errno == EAGAIN)
			return false;
		/* EINTR: another signal's handler ran; wait on. */
	}
}

static void add_seconds(struct timespec *t, double secs)
{
	time_t whole = (time_t)secs;	/* @secs is positive */

	t->tv_sec += whole;
	t->tv_nsec += (long)((secs - whole) * 1e9);
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

/*
 * Every @interval seconds, the rates since the last sample, @count times
 * (UINT64_MAX: until a stop signal).  The deadlines are fixed from the
 * start, so the view does not drift by the time each block takes.
 */
static int watch_rates(struct mmsb_bus *bus, double interval, uint64_t count)
{
	struct sample a = { }, b = { }, *prev = &a, *cur = &b, *t;
	bool tty = isatty(STDOUT_FILENO);
	struct timespec deadline;
	sigset_t set;
	int ret;

	ret = block_stop_signals(&set);
	if (!ret)
		ret = take_sample(bus, prev);
	deadline = prev->when;
	while (!ret && count) {
		add_seconds(&deadline, interval);
		if (wait_until(&set, &deadline))
			break;
		ret = take_sample(bus, cur);
		if (ret)
			break;
		print_rates(prev, cur, interval, tty);
		if (fflush(stdout)) {
			ret = tool_fail(-errno, "writing the output");
			break;
		}
		t = prev;
		prev = cur;
		cur = t;
		if (count != UINT64_MAX)
			count--;
	}
	free(a.buses);
	free(b.buses);
	return ret;
}

static bool parse_interval(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && !*end && isfinite(*out) &&
	       *out >= INTERVAL_MIN && *out <= INTERVAL_MAX;
}

/*
 * --watch without --bus: every bus, if this process may read the
 * module's list of them.  Said as a usage error, since --bus is what is
 * missing.
 */
static int check_debugfs(void)
{
	struct sample s = { };
	int ret;

	ret = sample_debugfs(&s);
	free(s.buses);
	if (!ret)
		return TOOL_OK;
	if (ret == -EPROTO)
		return tool_fail(ret, "%s is not the list this tool reads",
				 DEBUGFS_BUSES);
	return tool_usage_error(&cmd_stats, "no bus: give --bus NAME (listing every bus needs root: %s: %s)",
				DEBUGFS_BUSES, strerror(-ret));
}

static int stats_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	bool json = false, watch = false, timed = false;
	uint64_t id, count = UINT64_MAX;
	struct mmsb_bus *bus = NULL;
	double interval = 1.0;
	int i, opt, ret;

	while ((opt = getopt_long(argc, argv, "jwi:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'w':
			watch = true;
			break;
		case 'i':
			if (!parse_interval(optarg, &interval))
				return tool_usage_error(&cmd_stats, "bad interval '%s': seconds, %g to %g",
							optarg, INTERVAL_MIN, INTERVAL_MAX);
			timed = true;
			break;
		case 'n':
			if (!tool_parse_id(optarg, &count))
				return tool_usage_error(&cmd_stats, "bad count '%s'", optarg);
			timed = true;
			break;
		default:
			return tool_common_option(&cmd_stats, opt);
		}
	}
	if (timed && !watch)
		return tool_usage_error(&cmd_stats, "--interval and --count are for --watch");
	if (watch && json)
		return tool_usage_error(&cmd_stats, "--json and --watch exclude each other");
	if (watch && optind != argc)
		return tool_usage_error(&cmd_stats, "--watch shows buses, not pages");
	for (i = optind; i < argc; i++)
		if (!tool_parse_id(argv[i], &id))
			return tool_usage_error(&cmd_stats, "bad page id '%s'",
						argv[i]);

	if (watch && !tool_bus_name) {
		ret = check_debugfs();
		return ret ? ret : watch_rates(NULL, interval, count);
	}
	ret = tool_open_bus(&cmd_stats, NULL, MMSB_OPEN_RDONLY, NULL, &bus);
	if (ret)
		return ret;
	if (watch)
		ret = watch_rates(bus, interval, count);
	else
		ret = print_stats(bus, argc - optind, argv + optind, json);
	mmsb_bus_close(bus);
	return ret;
}

const struct tool_cmd cmd_stats = {
	.name = "stats",
	.summary = "show the counters of the bus and of its pages, or every bus's rates",
	.synopsis = "[-j] [PAGE...]\n"
		    "       mmsb-tool [--bus NAME] stats -w [-i SECS] [-n COUNT]",
	.options = "  PAGE                 only these pages (default: every live page)\n"
		   "  -j, --json           one JSON object, the bus's counters and its\n"
		   "                       pages' (Documentation/tool-json.md)\n"
		   "  -w, --watch          the rates of the bus, or without --bus of every\n"
		   "                       bus (root only: debugfs), every interval\n"
		   "  -i, --interval SECS  seconds between samples (default 1)\n"
		   "  -n, --count COUNT    stop after COUNT intervals (default: at SIGINT\n"
		   "                       or SIGTERM)\n"
		   "  -h, --help           this text\n\n"
		   "dirty counts 4 KiB chunks stored to since the last commit;\n"
		   "maps counts mappings of every process.  --watch shows readers (the\n"
		   "attached files, its own left out), records/s, bytes/s of records,\n"
		   "faults/s, commits/s and overruns/s: the module shows no reader's\n"
		   "position to another process, so a reader's lag shows only once it\n"
		   "loses records.  On a terminal the screen is redrawn; otherwise each\n"
		   "interval is a block of lines followed by an empty line.",
	.run = stats_run,
};
