// SPDX-License-Identifier: GPL-2.0
/*
 * mmsb-tool log: record a bus into a transaction log on disk (libmmsb's
 * mmsb_log.h), and look at such a log: its state, a check of every byte
 * of it, its frames, the pages it holds at a seq, and one page's records;
 * and checkpoint it, so that later replays start nearer their seq.
 *
 *	mmsb-tool --bus NAME log record [OPTIONS] DIR
 *	mmsb-tool log status DIR
 *	mmsb-tool log verify DIR
 *	mmsb-tool log dump|show [--from SEQ | --since TIME_NS] [--json] DIR
 *	mmsb-tool log replay ... (mmsb-tool-log-replay.c)
 *	mmsb-tool log checkpoint DIR
 *	mmsb-tool log compact --before SEQ DIR
 *	mmsb-tool log history --page ID [--json] DIR
 *
 * record runs until SIGINT or SIGTERM and then closes the log cleanly; a
 * recorder that dies any other way leaves a log whose next opening cuts
 * the torn tail.  With --ack-fd it tells another process, a line at a
 * time, up to which seq the records are synced: only those are promised
 * to survive a crash, so a script that must not lose a record waits for
 * its line.
 *
 * checkpoint and compact write to the log as record does; the library
 * lets one handle at a time open a log to write, so they fail with EBUSY
 * while a recorder records into it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mmsb_log.h>

#include "mmsb-tool.h"
#include "mmsb-tool-log.h"

/* Bytes of each run a dumped record shows, as watch shows them. */
#define DUMP_SHOWN_BYTES	32

/*
 * A segment as the library's messages name it: its file in the log,
 * called by the first seq it holds in 16 hex digits.
 */
#define SEGMENT_NAME_MAX	24

static void segment_name(char buf[SEGMENT_NAME_MAX], uint64_t first_seq)
{
	snprintf(buf, SEGMENT_NAME_MAX, "%016" PRIx64 ".seg", first_seq);
}

int log_fail(struct mmsb_log *log, int err, const char *what,
	     const char *dir)
{
	return tool_fail(err, "%s log '%s': %s", what, dir, mmsb_log_error(log));
}

/* Why the log could not be opened, in the library's words where it has some. */
static int open_failed(int err, const char *dir,
		       const struct mmsb_log_recovery *rec)
{
	if (rec->detail[0])
		return tool_fail(err, "cannot open log '%s': %s", dir,
				 rec->detail);
	return tool_fail(err, "cannot open log '%s'", dir);
}

/* "SEG, offset O, B bytes" of a torn tail, and the frames cut with it. */
static void print_torn_tail(FILE *f, const struct mmsb_log_recovery *rec)
{
	char seg[SEGMENT_NAME_MAX];

	segment_name(seg, rec->torn_segment);
	fprintf(f, "%s, offset %" PRIu64 ", %" PRIu64 " bytes", seg,
		rec->torn_offset, rec->torn_bytes);
	/* A torn write leaves no whole frame behind it; bit rot may. */
	if (rec->intact_beyond)
		fprintf(f, " and %" PRIu64 " whole frames beyond the damage",
			rec->intact_beyond);
}

static bool recovery_found_torn_tail(const struct mmsb_log_recovery *rec)
{
	return rec->torn_bytes || rec->intact_beyond;
}

/* What opening the log to write did to it, on stderr. */
static void say_recovered(const char *dir, const struct mmsb_log_recovery *rec)
{
	if (recovery_found_torn_tail(rec)) {
		fprintf(stderr, "mmsb-tool: log '%s': torn tail cut: ", dir);
		print_torn_tail(stderr, rec);
		fputc('\n', stderr);
	}
	if (rec->index_rebuilt)
		fprintf(stderr, "mmsb-tool: log '%s': a sealed segment's index was"
			" missing or damaged: rebuilt\n", dir);
}

int open_log(const char *dir, unsigned int flags, struct mmsb_log **log)
{
	struct mmsb_log_recovery rec;
	int ret = mmsb_log_open(log, dir, flags, NULL, &rec);

	if (ret)
		return open_failed(ret, dir, &rec);
	if (!(flags & MMSB_LOG_RDONLY))
		say_recovered(dir, &rec);
	return TOOL_OK;
}

int log_no_options(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	int opt = getopt_long(argc, argv, "h", opts, NULL);

	return opt == -1 ? -1 : tool_common_option(&cmd_log, opt);
}

int log_close(struct mmsb_log *log, const char *dir, int ret)
{
	int err = mmsb_log_close(log);

	if (err && ret == TOOL_OK)
		ret = tool_fail(err, "closing log '%s'", dir);
	return ret;
}

struct recording {
	int ack_fd;			/* -1: no --ack-fd */
	int ack_err;			/* the first failed write to it */
	struct mmsb_log_info last;	/* at the last rates line */
	struct timespec last_time;	/* CLOCK_MONOTONIC of that line */
};

/* One line per sync, unbuffered: the reader acts on it at once. */
static void on_durable(void *arg, uint64_t seq)
{
	struct recording *r = arg;

	if (r->ack_err)
		return;
	if (dprintf(r->ack_fd, "durable %" PRIu64 "\n", seq) < 0)
		r->ack_err = -errno;
	if (r->ack_err)
		tool_stop = 1;
}

static double seconds_since(const struct timespec *then,
			    const struct timespec *now)
{
	return (now->tv_sec - then->tv_sec) +
	       (now->tv_nsec - then->tv_nsec) / 1e9;
}

static void on_second(void *arg, const struct mmsb_log_info *info,
		      uint64_t lag)
{
	struct recording *r = arg;
	struct timespec now;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = seconds_since(&r->last_time, &now);
	if (secs > 0)
		fprintf(stderr, "mmsb-tool: %.0f records/s, %.2f MB/s, lag %"
			PRIu64 " records, durable seq %" PRIu64 "\n",
			(info->records - r->last.records) / secs,
			(info->bytes - r->last.bytes) / secs / 1e6, lag,
			info->durable_seq);
	r->last = *info;
	r->last_time = now;
}

static bool parse_sync(const char *s, enum mmsb_log_sync *sync)
{
	static const struct {
		const char *name;
		enum mmsb_log_sync sync;
	} modes[] = {
		{ "always", MMSB_LOG_SYNC_ALWAYS },
		{ "batch", MMSB_LOG_SYNC_BATCH },
		{ "none", MMSB_LOG_SYNC_NONE },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		if (!strcmp(s, modes[i].name)) {
			*sync = modes[i].sync;
			return true;
		}
	}
	return false;
}

/*
 * --checkpoint-every N[r|b|s]: records (the default), bytes of log (with
 * k, m or g before the b) or seconds.
 */
static bool parse_checkpoint_every(const char *s, struct mmsb_log_recorder *r)
{
	size_t len = strlen(s);
	char unit = len ? s[len - 1] : 0, num[32];
	uint64_t n;

	if (unit != 'r' && unit != 'b' && unit != 's')
		unit = 0;
	len -= !!unit;
	if (!len || len >= sizeof(num))
		return false;
	memcpy(num, s, len);
	num[len] = 0;
	if (unit == 'b')
		return tool_parse_size(num, &r->checkpoint_bytes) &&
		       r->checkpoint_bytes;
	if (!tool_parse_id(num, &n))
		return false;
	if (unit == 's') {
		if (n > UINT64_MAX / 1000)
			return false;
		r->checkpoint_ms = n * 1000;
	} else {
		r->checkpoint_records = n;
	}
	return true;
}

/* An open file descriptor, as a number. */
static bool parse_fd(const char *s, int *fd)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > INT_MAX || fcntl((int)v, F_GETFD) < 0)
		return false;
	*fd = (int)v;
	return true;
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* What this recording added, and where the log stands; on stdout. */
static void print_summary(const char *name, const char *dir,
			  const struct mmsb_log_info *start,
			  const struct mmsb_log_info *end)
{
	uint64_t records = end->records - start->records;
	uint64_t snapshots = end->snapshots - start->snapshots;
	uint64_t gaps = end->gaps - start->gaps;

	printf("bus '%s' -> %s: %" PRIu64 " record%s, %" PRIu64
	       " snapshot%s, %" PRIu64 " gap%s recorded; the log holds seq %"
	       PRIu64 " to %" PRIu64 ", durable to %" PRIu64 ", in %" PRIu64
	       " segment%s, %" PRIu64 " bytes\n", name, dir,
	       records, plural(records), snapshots, plural(snapshots),
	       gaps, plural(gaps), end->base_seq, end->last_seq,
	       end->durable_seq, end->nr_segments, plural(end->nr_segments),
	       end->bytes);
}

/*
 * Records @bus into @log until a signal, checkpointing as @checkpoints
 * says; returns a TOOL_* code.
 */
static int record_bus(struct mmsb_log *log, struct mmsb_bus *bus,
		      const char *name, const char *dir,
		      struct recording *r, bool quiet,
		      const struct mmsb_log_recorder *checkpoints)
{
	struct mmsb_log_recorder recorder = *checkpoints;
	struct mmsb_log_info start, end;
	int ret, err;

	recorder.stop = &tool_stop;
	recorder.on_durable = r->ack_fd >= 0 ? on_durable : NULL;
	recorder.on_second = quiet ? NULL : on_second;
	recorder.arg = r;

	mmsb_log_info(log, &start);
	r->last = start;
	clock_gettime(CLOCK_MONOTONIC, &r->last_time);
	err = mmsb_log_record(log, bus, &recorder);
	ret = err ? log_fail(log, err, "recording into", dir) : TOOL_OK;
	mmsb_log_info(log, &end);
	print_summary(name, dir, &start, &end);
	if (r->ack_err)
		ret = tool_fail(r->ack_err, "writing to --ack-fd %d", r->ack_fd);
	return ret;
}

static int record_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sync", required_argument, NULL, 's' },
		{ "batch-ms", required_argument, NULL, 'm' },
		{ "batch-bytes", required_argument, NULL, 'B' },
		{ "segment-bytes", required_argument, NULL, 'g' },
		{ "checkpoint-every", required_argument, NULL, 'c' },
		{ "ack-fd", required_argument, NULL, 'a' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct mmsb_log_opts log_opts = { .sync = MMSB_LOG_SYNC_BATCH };
	struct mmsb_log_recorder checkpoints = {};
	struct recording r = { .ack_fd = -1 };
	struct mmsb_log_recovery rec;
	const char *name = NULL, *dir;
	struct mmsb_log *log;
	struct mmsb_bus *bus;
	bool quiet = false;
	uint64_t ms;
	int opt, ret, err;

	while ((opt = getopt_long(argc, argv, "s:m:B:g:c:a:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (!parse_sync(optarg, &log_opts.sync))
				return tool_usage_error(&cmd_log, "bad sync mode '%s': always, batch or none",
							optarg);
			break;
		case 'm':
			if (!tool_parse_id(optarg, &ms) || ms > UINT_MAX)
				return tool_usage_error(&cmd_log, "bad --batch-ms '%s'", optarg);
			log_opts.batch_ms = ms;
			break;
		case 'B':
			if (!tool_parse_size(optarg, &log_opts.batch_bytes) ||
			    !log_opts.batch_bytes)
				return tool_usage_error(&cmd_log, "bad --batch-bytes '%s'", optarg);
			break;
		case 'g':
			if (!tool_parse_size(optarg, &log_opts.segment_bytes) ||
			    !log_opts.segment_bytes)
				return tool_usage_error(&cmd_log, "bad --segment-bytes '%s'", optarg);
			break;
		case 'c':
			if (!parse_checkpoint_every(optarg, &checkpoints))
				return tool_usage_error(&cmd_log, "bad --checkpoint-every '%s': N records,"
							" Nb bytes or Ns seconds", optarg);
			break;
		case 'a':
			if (!parse_fd(optarg, &r.ack_fd))
				return tool_usage_error(&cmd_log, "bad --ack-fd '%s': not an open file descriptor",
							optarg);
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return tool_common_option(&cmd_log, opt);
		}
	}
	if (argc - optind == 2)
		name = argv[optind++];
	else if (argc - optind != 1)
		return tool_usage_error(&cmd_log, "expected [BUS] DIR");
	dir = argv[optind];

	/* The bus first: a bus that is not there leaves no log behind. */
	ret = tool_open_bus(&cmd_log, name, MMSB_OPEN_RDONLY, NULL, &bus);
	if (ret)
		return ret;
	name = name ? name : tool_bus_name;
	ret = tool_catch_stop_signals();
	if (ret) {
		mmsb_bus_close(bus);
		return tool_fail(ret, "setting the signal handlers");
	}
	ret = mmsb_log_open(&log, dir, MMSB_LOG_CREATE, &log_opts, &rec);
	if (ret) {
		mmsb_bus_close(bus);
		/* The flags are right: only an option can be out of range. */
		if (ret == -EINVAL)
			return tool_usage_error(&cmd_log, "the log refused the options"
						" (--segment-bytes is at least 4k)");
		return open_failed(ret, dir, &rec);
	}
	say_recovered(dir, &rec);
	ret = record_bus(log, bus, name, dir, &r, quiet, &checkpoints);
	mmsb_bus_close(bus);
	err = mmsb_log_close(log);
	if (err && !ret)
		ret = tool_fail(err, "closing log '%s'", dir);
	return ret;
}

/* A CLOCK_REALTIME stamp as ISO 8601 UTC, to the nanosecond. */
static void print_utc(const char *label, int64_t ns)
{
	time_t secs = ns / 1000000000;
	struct tm tm;
	char buf[32];

	/* A log whose only segment a crash left without a frame has none. */
	if (!ns) {
		printf("%-14s none\n", label);
		return;
	}
	gmtime_r(&secs, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("%-14s %s.%09uZ\n", label, buf, (unsigned int)(ns % 1000000000));
}

static int status_run(int argc, char **argv)
{
	struct mmsb_log_recovery rec;
	struct mmsb_log_info info;
	struct mmsb_log *log;
	const char *dir;
	int ret;

	ret = log_no_options(argc, argv);
	if (ret >= 0)
		return ret;
	if (argc - optind != 1)
		return tool_usage_error(&cmd_log, "expected DIR");
	dir = argv[optind];
	/* Read-only: a torn tail is reported in @rec, not cut. */
	ret = mmsb_log_open(&log, dir, MMSB_LOG_RDONLY, NULL, &rec);
	if (ret)
		return open_failed(ret, dir, &rec);
	mmsb_log_info(log, &info);
	printf("%-14s %s\n", "log:", dir);
	printf("%-14s %" PRIu64 "\n", "bus id:", info.bus_id);
	printf("%-14s %" PRIu64 "\n", "base seq:", info.base_seq);
	printf("%-14s %" PRIu64 "\n", "last seq:", info.last_seq);
	printf("%-14s %" PRIu64 "\n", "segments:", info.nr_segments);
	printf("%-14s %" PRIu64 "\n", "bytes:", info.bytes);
	printf("%-14s %" PRIu64 "\n", "records:", info.records);
	printf("%-14s %" PRIu64 "\n", "snapshots:", info.snapshots);
	printf("%-14s %" PRIu64 "\n", "gaps:", info.gaps);
	print_utc("first time:", info.first_time_ns);
	print_utc("last time:", info.last_time_ns);
	printf("%-14s ", "torn tail:");
	if (recovery_found_torn_tail(&rec)) {
		print_torn_tail(stdout, &rec);
		printf(": cut when the log is next opened to write\n");
	} else {
		printf("none\n");
	}
	if (rec.index_rebuilt)
		printf("%-14s missing or damaged in a sealed segment: rebuilt"
		       " when the log is next opened to write\n", "index:");
	mmsb_log_close(log);
	return TOOL_OK;
}

static void print_fault(void *arg, const char *msg)
{
	(void)arg;
	printf("%s\n", msg);
}

static int verify_run(int argc, char **argv)
{
	const char *dir;
	long faults;
	int ret;

	ret = log_no_options(argc, argv);
	if (ret >= 0)
		return ret;
	if (argc - optind != 1)
		return tool_usage_error(&cmd_log, "expected DIR");
	dir = argv[optind];
	faults = mmsb_log_verify(dir, print_fault, NULL);
	if (faults < 0)
		return tool_fail((int)faults, "cannot verify log '%s'", dir);
	printf("%ld fault%s\n", faults, plural(faults));
	return faults ? TOOL_FAIL : TOOL_OK;
}

/*
 * One line per frame: where it is, its kind, then a record as watch
 * prints it (with the time the bus committed it), or the time the log
 * took a snapshot or found records lost.  With --json, one object per
 * line: the frame's kind, seq, time and place, and a record as watch
 * --json prints it.
 */
static void print_frame(const struct mmsb_log_frame *f, bool json)
{
	static const char *const kinds[] = {
		[MMSB_LOG_RECORD] = "record", [MMSB_LOG_SNAPSHOT] = "snapshot",
		[MMSB_LOG_GAP] = "gap",
	};
	char seg[SEGMENT_NAME_MAX];

	segment_name(seg, f->segment);
	if (json) {
		printf("{\"frame\":\"%s\",\"seq\":%" PRIu64 ",\"time_ns\":%"
		       PRId64 ",\"segment\":\"%s\",\"offset\":%" PRIu64,
		       kinds[f->kind], f->seq, f->time_ns, seg, f->offset);
		if (f->kind == MMSB_LOG_GAP)
			printf(",\"lost\":%" PRIu64, f->lost);
		if (f->kind == MMSB_LOG_RECORD) {
			printf(",\"record\":");
			tool_print_record_json(stdout, f->rec);
		}
		printf("}\n");
		return;
	}
	printf("%s:%" PRIu64 " %s ", seg, f->offset, kinds[f->kind]);
	switch (f->kind) {
	case MMSB_LOG_RECORD:
		tool_print_record(stdout, f->rec, DUMP_SHOWN_BYTES);
		break;
	case MMSB_LOG_SNAPSHOT:
		tool_print_time(stdout, f->time_ns);
		printf(" seq %" PRIu64 "\n", f->seq);
		break;
	case MMSB_LOG_GAP:
		tool_print_time(stdout, f->time_ns);
		printf(" seq %" PRIu64 ": lost %" PRIu64 " records, to seq %"
		       PRIu64 "\n", f->seq, f->lost, f->seq + f->lost - 1);
		break;
	}
}

/*
 * A page's records, with every snapshot and gap: a gap is where its
 * history is missing records, and the snapshot after it where it resumes.
 */
static bool in_history(const struct mmsb_log_frame *f, uint64_t page_id)
{
	return !page_id || f->kind != MMSB_LOG_RECORD ||
	       f->rec->page_id == page_id;
}

/*
 * Prints the frames from @cur on (those of page @page_id, if not 0); the
 * frames before damage are printed, then where it is.
 */
static int print_frames(struct mmsb_log *log, const char *dir,
			struct mmsb_log_cursor *cur, uint64_t page_id, bool json)
{
	struct mmsb_log_frame f;
	int ret;

	while ((ret = mmsb_log_next(cur, &f)) > 0) {
		if (in_history(&f, page_id))
			print_frame(&f, json);
	}
	if (fflush(stdout))
		return tool_fail(-errno, "writing the output");
	if (ret < 0)
		return log_fail(log, ret, "reading", dir);
	return TOOL_OK;
}

/* dump (or show) and history: the frames, from a place or of a page. */
static int frames_run(int argc, char **argv, bool history)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "since", required_argument, NULL, 't' },
		{ "page", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	uint64_t from = 0, since = 0, page_id = 0;
	struct mmsb_log_cursor *cur;
	struct mmsb_log *log;
	bool json = false;
	const char *dir;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, history ? "p:jh" : "f:t:jh",
				  opts, NULL)) != -1) {
		/* Long options are taken whatever the short ones say. */
		if ((opt == 'p') != history && (opt == 'f' || opt == 't' || opt == 'p'))
			return tool_usage_error(&cmd_log, history ?
						"history takes --page and --json" :
						"--page is history's");
		switch (opt) {
		case 'f':
			if (!tool_parse_id(optarg, &from))
				return tool_usage_error(&cmd_log, "bad seq '%s'", optarg);
			break;
		case 't':
			if (!tool_parse_id(optarg, &since) || since > INT64_MAX)
				return tool_usage_error(&cmd_log, "bad time '%s': ns since the epoch",
							optarg);
			break;
		case 'p':
			if (!tool_parse_id(optarg, &page_id))
				return tool_usage_error(&cmd_log, "bad page id '%s'", optarg);
			break;
		case 'j':
			json = true;
			break;
		default:
			return tool_common_option(&cmd_log, opt);
		}
	}
	if (from && since)
		return tool_usage_error(&cmd_log, "--from and --since exclude each other");
	if (history && !page_id)
		return tool_usage_error(&cmd_log, "expected --page ID");
	if (argc - optind != 1)
		return tool_usage_error(&cmd_log, "expected DIR");
	dir = argv[optind];
	ret = open_log(dir, MMSB_LOG_RDONLY, &log);
	if (ret)
		return ret;
	ret = since ? mmsb_log_seek_time(log, (int64_t)since, &cur) :
		      mmsb_log_seek(log, from, &cur);
	if (ret) {
		ret = log_fail(log, ret, "seeking in", dir);
	} else {
		ret = print_frames(log, dir, cur, page_id, json);
		mmsb_log_cursor_close(cur);
	}
	mmsb_log_close(log);
	return ret;
}

static int dump_run(int argc, char **argv)
{
	return frames_run(argc, argv, false);
}

static int history_run(int argc, char **argv)
{
	return frames_run(argc, argv, true);
}

/* A net record, as dump prints a record: text, or with --json an object. */
static int print_net_record(void *arg, const struct mmsb_delta *d)
{
	if (*(const bool *)arg) {
		tool_print_record_json(stdout, d);
		putchar('\n');
	} else {
		tool_print_record(stdout, d, DUMP_SHOWN_BYTES);
	}
	return 0;
}

/* diff: the net change from one seq to another, a few records a page. */
static int diff_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	uint64_t from = 0, to = 0;
	struct mmsb_log *log;
	bool json = false;
	const char *dir;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "f:u:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
		case 'u':
			if (!tool_parse_id(optarg, opt == 'f' ? &from : &to))
				return tool_usage_error(&cmd_log, "bad seq '%s'", optarg);
			break;
		case 'j':
			json = true;
			break;
		default:
			return tool_common_option(&cmd_log, opt);
		}
	}
	if (!from)
		return tool_usage_error(&cmd_log, "expected --from SEQ");
	if (argc - optind != 1)
		return tool_usage_error(&cmd_log, "expected DIR");
	dir = argv[optind];
	ret = open_log(dir, MMSB_LOG_RDONLY, &log);
	if (ret)
		return ret;
	ret = mmsb_log_net(log, from, to, print_net_record, &json);
	if (ret)
		ret = log_fail(log, ret, "the net change of", dir);
	else if (fflush(stdout))
		ret = tool_fail(-errno, "writing the output");
	mmsb_log_close(log);
	return ret;
}

static int checkpoint_run(int argc, char **argv)
{
	struct mmsb_log_info info;
	struct mmsb_log *log;
	const char *dir;
	int ret;

	ret = log_no_options(argc, argv);
	if (ret >= 0)
		return ret;
	if (argc - optind != 1)
		return tool_usage_error(&cmd_log, "expected DIR");
	dir = argv[optind];
	/* Without MMSB_LOG_CREATE: a checkpoint of no log is a mistake. */
	ret = open_log(dir, 0, &log);
	if (ret)
		return ret;
	ret = mmsb_log_checkpoint(log);
	if (ret) {
		ret = log_fail(log, ret, "checkpointing", dir);
	} else {
		mmsb_log_info(log, &info);
		printf("log '%s': checkpoint at seq %" PRIu64 "\n", dir,
		       info.last_seq);
	}
	return log_close(log, dir, ret);
}

static int compact_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "before", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct mmsb_log_info before, after;
	struct mmsb_log *log;
	uint64_t seq = 0;
	const char *dir;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			if (!tool_parse_id(optarg, &seq))
				return tool_usage_error(&cmd_log, "bad seq '%s'", optarg);
			break;
		default:
			return tool_common_option(&cmd_log, opt);
		}
	}
	if (!seq)
		return tool_usage_error(&cmd_log, "expected --before SEQ");
	if (argc - optind != 1)
		return tool_usage_error(&cmd_log, "expected DIR");
	dir = argv[optind];
	ret = open_log(dir, 0, &log);
	if (ret)
		return ret;
	mmsb_log_info(log, &before);
	ret = mmsb_log_compact(log, seq);
	if (ret) {
		ret = log_fail(log, ret, "compacting", dir);
	} else {
		mmsb_log_info(log, &after);
		printf("log '%s': begins at seq %" PRIu64 " (was %" PRIu64
		       "), %" PRIu64 " bytes (was %" PRIu64 ")\n", dir,
		       after.base_seq, before.base_seq, after.bytes,
		       before.bytes);
	}
	return log_close(log, dir, ret);
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} log_actions[] = {
	{ "record", record_run },
	{ "status", status_run },
	{ "verify", verify_run },
	{ "dump", dump_run },
	{ "show", dump_run },
	{ "replay", log_replay_run },
	{ "checkpoint", checkpoint_run },
	{ "compact", compact_run },
	{ "history", history_run },
	{ "diff", diff_run },
};

static int log_run(int argc, char **argv)
{
	static char prog[32];
	size_t i;

	if (argc < 2)
		return tool_usage_error(&cmd_log, "expected record, status, verify, dump,"
					" show, replay, checkpoint, compact, history or diff");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return tool_help(&cmd_log);
	for (i = 0; i < ARRAY_SIZE(log_actions); i++) {
		if (strcmp(argv[1], log_actions[i].name))
			continue;
		/* The action's argv[0] names it in getopt's complaints. */
		snprintf(prog, sizeof(prog), "mmsb-tool log %s",
			 log_actions[i].name);
		argv[1] = prog;
		return log_actions[i].run(argc - 1, argv + 1);
	}
	return tool_usage_error(&cmd_log, "unknown action '%s'", argv[1]);
}

const struct tool_cmd cmd_log = {
	.name = "log",
	.summary = "record a bus into a crash-safe log on disk; read, replay, checkpoint or compact a log",
	.synopsis = "record [-s MODE] [-m MS] [-B BYTES] [-g BYTES] [-c N[rbs]] [-a FD] [-q]\n"
		    "                      [BUS] DIR\n"
		    "       mmsb-tool log status DIR\n"
		    "       mmsb-tool log verify DIR\n"
		    "       mmsb-tool log dump|show [-f SEQ | -t TIME_NS] [-j] DIR\n"
		    "       mmsb-tool log replay [-u SEQ | -T TIME_NS | -e PAGE:EPOCH]\n"
		    "                      [-V FILE | -V bus:NAME] DIR [FILE | -o OUTDIR | -b BUS]\n"
		    "       mmsb-tool log checkpoint DIR\n"
		    "       mmsb-tool log compact -b SEQ DIR\n"
		    "       mmsb-tool log history -p ID [-j] DIR\n"
		    "       mmsb-tool log diff -f SEQ [-u SEQ] [-j] DIR",
	.options = "  record            attach to the bus read-only and append every record\n"
		   "                    to the log in DIR (made if missing) until SIGINT\n"
		   "                    or SIGTERM; then print what was recorded\n"
		   "  status            the log's seqs, segments, sizes, counts and times,\n"
		   "                    and a torn tail that opening it to write would cut\n"
		   "  verify            check every checksum, index and snapshot of the log;\n"
		   "                    print each fault and their number, exit 1 if any\n"
		   "  dump, show        print the log's frames, one a line, records as\n"
		   "                    watch prints them\n"
		   "  replay            the pages of the log's bus as they were at a seq, a\n"
		   "                    time or a page's epoch (default: the log's last\n"
		   "                    seq), from the last snapshot before it: to FILE,\n"
		   "                    a snapshot file that restore reads (- for stdout),\n"
		   "                    to OUTDIR, or into a bus\n"
		   "  checkpoint        append a snapshot of the pages at the log's last\n"
		   "                    seq, so that replays start there\n"
		   "  compact           make the log begin at SEQ: a snapshot there, and\n"
		   "                    every record, segment and snapshot before it gone\n"
		   "  history           print the records of one page, and the log's\n"
		   "                    snapshots and gaps, as dump prints them\n"
		   "  diff              the net change from just after record --from to\n"
		   "                    just after --to (default: the log's last): per\n"
		   "                    page, its alloc, its deltas merged into one (the\n"
		   "                    later bytes win) and its free, as dump prints\n"
		   "                    records; applied to the pages at --from, they\n"
		   "                    give the pages at --to\n"
		   "  BUS               the bus to record (default: --bus)\n"
		   "  -s, --sync MODE   when records reach the disk: always (each batch\n"
		   "                    read from the bus), batch (the default: after MS\n"
		   "                    or BYTES), none (when the kernel writes, and at exit)\n"
		   "  -m, --batch-ms MS\n"
		   "                    batch: the longest a record waits for its sync\n"
		   "                    (default 10)\n"
		   "  -B, --batch-bytes BYTES\n"
		   "                    batch: sync once this many are waiting (default 1m)\n"
		   "  -g, --segment-bytes BYTES\n"
		   "                    start a new segment file past this, at least 4k\n"
		   "                    (default 64m)\n"
		   "  -c, --checkpoint-every N[r|b|s]\n"
		   "                    checkpoint once N records (r, the default), N\n"
		   "                    bytes of log (b; k, m, g allowed before it) or N\n"
		   "                    seconds (s) follow the last snapshot\n"
		   "  -a, --ack-fd FD   write \"durable SEQ\" to FD each time the records\n"
		   "                    up to SEQ are synced\n"
		   "  -q, --quiet       no line of rates on stderr each second\n"
		   "  -f, --from SEQ    dump from the first frame at SEQ or after; diff\n"
		   "                    from just after record SEQ\n"
		   "  -t, --since TIME_NS\n"
		   "                    dump from the first frame logged at TIME_NS or\n"
		   "                    later: ns since the epoch, as date +%s%N prints\n"
		   "  -j, --json        one JSON object per frame, records with every byte\n"
		   "  -u, --to-seq, --to SEQ\n"
		   "                    replay, or diff, to just after record SEQ\n"
		   "  -T, --to-time TIME_NS\n"
		   "                    replay to the last record logged at TIME_NS or before\n"
		   "  -e, --to-epoch PAGE:EPOCH\n"
		   "                    replay to the record that brought PAGE to EPOCH\n"
		   "  -o, --out OUTDIR  write each page to OUTDIR/ID, and OUTDIR/pages:\n"
		   "                    \"seq SEQ\", then \"ID SIZE EPOCH\" a line\n"
		   "  -b, --bus BUS     (replay) rebuild the pages in BUS, a new bus the\n"
		   "                    caller owns (bus hold): restored from the snapshot,\n"
		   "                    then the records submitted with CHECK_BASE\n"
		   "  -V, --verify FILE | bus:NAME\n"
		   "                    compare the replay with a snapshot file or a live\n"
		   "                    bus; print the first page and offset that differ\n"
		   "                    and exit 1 if any do\n"
		   "  -b, --before SEQ  (compact) the seq the log is to begin at\n"
		   "  -p, --page ID     the page whose history to print\n"
		   "  -h, --help        this text\n\n"
		   "A log starts with a snapshot of the bus, then holds its records in\n"
		   "order; a recorder that falls a ring behind, or resumes a log whose bus\n"
		   "went on without it, writes a gap and a fresh snapshot.  Each second,\n"
		   "record prints records/s, MB/s, its lag (records the bus has and the\n"
		   "log not yet) and the durable seq on stderr.  Opening a log to record,\n"
		   "checkpoint or compact cuts a torn tail left by a crash, and says so;\n"
		   "only one of them may have a log open at a time.",
	.run = log_run,
};
