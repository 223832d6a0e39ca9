// SPDX-License-Identifier: GPL-2.0
/*
 * mmsb-tool log replay: the pages of a log's bus as they were at a seq, a
 * time or a page's epoch, written as a snapshot file, as one file per
 * page, or rebuilt as a bus; and checked against a snapshot file or a
 * live bus.
 *
 *	mmsb-tool log replay [--to-seq SEQ | --to-time NS | --to-epoch PAGE:E]
 *		[--verify FILE | --verify bus:NAME]
 *		DIR [FILE | --out OUTDIR | --bus NAME]
 *
 * The replay starts at the last snapshot at or before the target (a
 * checkpoint, when there is one), not at the start of the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmsb-tool.h"
#include "mmsb-tool-log.h"

/* What the replay is to: one of these. */
struct target {
	uint64_t seq;			/* --to-seq; 0: the log's position */
	int64_t time_ns;		/* --to-time */
	uint64_t page_id, epoch;	/* --to-epoch */
	enum { TO_SEQ, TO_TIME, TO_EPOCH } kind;
	int given;
};

static bool parse_epoch_target(const char *s, struct target *t)
{
	char *colon = strchr(s, ':'), page[32];
	size_t len = colon ? (size_t)(colon - s) : 0;

	if (!colon || len >= sizeof(page))
		return false;
	memcpy(page, s, len);
	page[len] = 0;
	if (!tool_parse_id(page, &t->page_id))
		return false;
	/* Epoch 0 is a page's first: tool_parse_id() refuses 0. */
	if (!strcmp(colon + 1, "0")) {
		t->epoch = 0;
		return true;
	}
	return tool_parse_id(colon + 1, &t->epoch);
}

/* The seq the target names, in the log's words when it names none. */
static int resolve(struct mmsb_log *log, const char *dir,
		   const struct target *t, uint64_t *seq)
{
	struct mmsb_log_info info;
	int ret = 0;

	switch (t->kind) {
	case TO_SEQ:
		mmsb_log_info(log, &info);
		*seq = t->seq ? t->seq : info.last_seq;
		return TOOL_OK;
	case TO_TIME:
		ret = mmsb_log_seq_at_time(log, t->time_ns, seq);
		break;
	case TO_EPOCH:
		ret = mmsb_log_seq_of_epoch(log, t->page_id, t->epoch, seq);
		break;
	}
	return ret ? log_fail(log, ret, "finding the replay's seq in", dir) :
		     TOOL_OK;
}

/*
 * Prints to @out the first place where @got (the replay) and @want (what
 * it is checked against, called @what) differ, pages by ascending id;
 * true if they hold the same pages with the same sizes, epochs and bytes.
 */
static bool same_pages(FILE *out, const struct mmsb_snap *got,
		       const struct mmsb_snap *want, const char *what)
{
	const struct mmsb_snapshot_page *a, *b;
	const unsigned char *x, *y;
	unsigned int i = 0, j = 0;
	uint64_t off, id;

	for (; i < got->nr_pages && j < want->nr_pages; i++, j++) {
		a = &got->pages[i];
		b = &want->pages[j];
		id = a->page_id;
		if (a->page_id != b->page_id) {
			fprintf(out, "page %" PRIu64 ": in %s only\n",
			       id < b->page_id ? id : (uint64_t)b->page_id,
			       id < b->page_id ? "the replay" : what);
			return false;
		}
		if (a->size != b->size) {
			fprintf(out, "page %" PRIu64 ": %" PRIu64 " bytes in the replay, %"
			       PRIu64 " in %s\n", id, (uint64_t)a->size,
			       (uint64_t)b->size, what);
			return false;
		}
		if (a->epoch != b->epoch) {
			fprintf(out, "page %" PRIu64 ": epoch %" PRIu64 " in the replay, %"
			       PRIu64 " in %s\n", id, (uint64_t)a->epoch,
			       (uint64_t)b->epoch, what);
			return false;
		}
		x = (const unsigned char *)got->bytes + a->offset;
		y = (const unsigned char *)want->bytes + b->offset;
		if (!memcmp(x, y, a->size))
			continue;
		for (off = 0; x[off] == y[off]; off++)
			;
		fprintf(out, "page %" PRIu64 ", offset %" PRIu64 ": 0x%02x in the replay,"
		       " 0x%02x in %s\n", id, off, x[off], y[off], what);
		return false;
	}
	if (i < got->nr_pages || j < want->nr_pages) {
		fprintf(out, "page %" PRIu64 ": in %s only\n",
		       i < got->nr_pages ? (uint64_t)got->pages[i].page_id :
					   (uint64_t)want->pages[j].page_id,
		       i < got->nr_pages ? "the replay" : what);
		return false;
	}
	return true;
}

/* What --verify names: a snapshot file, or with "bus:", a live bus. */
static int load_expected(const char *source, struct mmsb_snap **snap)
{
	struct mmsb_bus *bus;
	int ret;

	if (strncmp(source, "bus:", 4))
		return tool_load_snapshot(source, snap);
	ret = tool_open_bus(&cmd_log, source + 4, MMSB_OPEN_RDONLY, NULL, &bus);
	if (ret)
		return ret;
	ret = mmsb_snapshot(bus, NULL, 0, snap);
	mmsb_bus_close(bus);
	return ret ? tool_fail(ret, "snapshot of bus '%s'", source + 4) : TOOL_OK;
}

/*
 * Checks the replay against @source; says so on @out (stderr when the
 * replay itself went to standard output).
 */
static int verify(FILE *out, const struct mmsb_snap *got, uint64_t seq,
		  const char *source)
{
	struct mmsb_snap *want = NULL;
	int ret = load_expected(source, &want);

	if (ret)
		return ret;
	if (same_pages(out, got, want, source)) {
		fprintf(out, "replay to seq %" PRIu64 " matches %s: %u pages, %"
			PRIu64 " bytes\n", seq, source, got->nr_pages,
			tool_snap_page_bytes(got));
	} else {
		fprintf(stderr, "mmsb-tool: replay to seq %" PRIu64
			" differs from %s\n", seq, source);
		ret = TOOL_FAIL;
	}
	mmsb_snap_free(want);
	return ret;
}

static int write_all(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n = 0;

	if (fd < 0)
		return -errno;
	for (; len; buf = (const char *)buf + n, len -= n) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0)
			break;
	}
	if (close(fd) || n < 0)
		return -errno;
	return 0;
}

/*
 * --out: each page's bytes in OUTDIR/<id>, and OUTDIR/pages listing
 * "id size epoch" a line, after a line "seq SEQ".
 */
static int write_pages(const struct mmsb_snap *snap, const char *dir,
		       const char *out)
{
	char path[4096];
	unsigned int i;
	FILE *list;
	int ret;

	if (mkdir(out, 0755) && errno != EEXIST)
		return tool_fail(-errno, "cannot make '%s'", out);
	for (i = 0; i < snap->nr_pages; i++) {
		const struct mmsb_snapshot_page *pg = &snap->pages[i];

		snprintf(path, sizeof(path), "%s/%" PRIu64, out,
			 (uint64_t)pg->page_id);
		ret = write_all(path, (const char *)snap->bytes + pg->offset,
				pg->size);
		if (ret)
			return tool_fail(ret, "writing '%s'", path);
	}
	snprintf(path, sizeof(path), "%s/pages", out);
	list = fopen(path, "w");
	if (!list)
		return tool_fail(-errno, "writing '%s'", path);
	fprintf(list, "seq %" PRIu64 "\n", snap->seq);
	for (i = 0; i < snap->nr_pages; i++)
		fprintf(list, "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			(uint64_t)snap->pages[i].page_id,
			(uint64_t)snap->pages[i].size,
			(uint64_t)snap->pages[i].epoch);
	if (fclose(list))
		return tool_fail(-errno, "writing '%s'", path);
	printf("log '%s': %u pages, %" PRIu64 " bytes, seq %" PRIu64 " -> %s/\n",
	       dir, snap->nr_pages, tool_snap_page_bytes(snap), snap->seq, out);
	return TOOL_OK;
}

/* --bus: the log's bus rebuilt in NAME, which must be new and the caller's. */
static int rebuild_bus(struct mmsb_log *log, const char *dir, uint64_t seq,
		       const char *name, const char *verify_source)
{
	struct mmsb_snap *got;
	struct mmsb_bus *bus;
	int ret;

	ret = tool_open_bus(&cmd_log, name, 0, NULL, &bus);
	if (ret)
		return ret;
	ret = mmsb_log_replay_bus(log, seq, bus);
	if (ret) {
		ret = tool_fail(ret, "replaying log '%s' into bus '%s': %s", dir,
				name, mmsb_log_error(log));
		goto out;
	}
	ret = mmsb_snapshot(bus, NULL, 0, &got);
	if (ret) {
		ret = tool_fail(ret, "snapshot of bus '%s'", name);
		goto out;
	}
	printf("log '%s': bus '%s' rebuilt: %u pages, %" PRIu64
	       " bytes, as of seq %" PRIu64 " of the log\n", dir, name,
	       got->nr_pages, tool_snap_page_bytes(got), seq);
	if (verify_source)
		ret = verify(stdout, got, seq, verify_source);
	mmsb_snap_free(got);
out:
	mmsb_bus_close(bus);
	return ret;
}

int log_replay_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to-seq", required_argument, NULL, 'u' },
		{ "to-time", required_argument, NULL, 'T' },
		{ "to-epoch", required_argument, NULL, 'e' },
		{ "out", required_argument, NULL, 'o' },
		{ "bus", required_argument, NULL, 'b' },
		{ "verify", required_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *dir, *file = NULL, *out = NULL, *bus = NULL, *check = NULL;
	struct target t = { .kind = TO_SEQ };
	struct mmsb_snap *snap;
	struct mmsb_log *log;
	uint64_t seq, ns;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "u:T:e:o:b:V:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			if (!tool_parse_id(optarg, &t.seq))
				return tool_usage_error(&cmd_log, "bad seq '%s'", optarg);
			t.kind = TO_SEQ;
			t.given++;
			break;
		case 'T':
			if (!tool_parse_id(optarg, &ns) || ns > INT64_MAX)
				return tool_usage_error(&cmd_log, "bad time '%s': ns since the epoch",
							optarg);
			t.time_ns = (int64_t)ns;
			t.kind = TO_TIME;
			t.given++;
			break;
		case 'e':
			if (!parse_epoch_target(optarg, &t))
				return tool_usage_error(&cmd_log, "bad --to-epoch '%s': PAGE:EPOCH",
							optarg);
			t.kind = TO_EPOCH;
			t.given++;
			break;
		case 'o':
			out = optarg;
			break;
		case 'b':
			bus = optarg;
			break;
		case 'V':
			check = optarg;
			break;
		default:
			return tool_common_option(&cmd_log, opt);
		}
	}
	if (t.given > 1)
		return tool_usage_error(&cmd_log, "--to-seq, --to-time and --to-epoch exclude each other");
	if (argc - optind == 2)
		file = argv[optind + 1];
	else if (argc - optind != 1)
		return tool_usage_error(&cmd_log, "expected DIR [FILE]");
	if (!!file + !!out + !!bus > 1)
		return tool_usage_error(&cmd_log, "FILE, --out and --bus exclude each other");
	if (!file && !out && !bus && !check)
		return tool_usage_error(&cmd_log, "expected FILE, --out DIR, --bus NAME or --verify");
	dir = argv[optind];

	ret = open_log(dir, MMSB_LOG_RDONLY, &log);
	if (ret)
		return ret;
	ret = resolve(log, dir, &t, &seq);
	if (ret)
		goto out;
	if (bus) {
		ret = rebuild_bus(log, dir, seq, bus, check);
		goto out;
	}
	ret = mmsb_log_replay(log, seq, &snap);
	if (ret) {
		ret = log_fail(log, ret, "replaying", dir);
		goto out;
	}
	if (file)
		ret = tool_write_snapshot(snap, file, "log", dir);
	else if (out)
		ret = write_pages(snap, dir, out);
	if (!ret && check)
		ret = verify(file && !strcmp(file, "-") ? stderr : stdout, snap,
			     snap->seq, check);
	mmsb_snap_free(snap);
out:
	mmsb_log_close(log);
	return ret;
}
