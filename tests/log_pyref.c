// SPDX-License-Identifier: GPL-2.0
/*
 * Description: examples/python/mmsb_log.py, a reader of the transaction
 * log written from Documentation/log-format.md, delta-format.md and
 * snapshot-format.md alone, agrees with libmmsb byte for byte.  Random
 * logs are made with the library: many small segments; DELTA records with
 * sparse runs and FULL chunks, PAGE_ALLOC and PAGE_FREE records, records
 * of a type no reader knows; checkpoints, one of them damaged; GAPs, each
 * followed by a snapshot; torn tails, cut short or zero filled; a
 * compacted log, and one whose compaction was cut short.  For each, libmmsb's cursor is printed as the script's
 * "dump --hex" prints a log, and the two texts must be equal; then
 * mmsb_log_replay() at a spread of seqs, saved with mmsb_snap_save(), must
 * equal the snapshot file the script's "replay" writes, or both must say
 * the seq is not in the log (-ERANGE, exit status 3) or cannot be
 * replayed (-EBADMSG, exit status 1).  Damage in a sealed segment must
 * stop both readers at the same frame.
 */
#include "log_util.h"

#include <sys/wait.h>

#include "mmsb_delta.h"

/* The model bus: a few pages, each a size, an epoch and bytes. */
#define PAGES_MAX	6
#define PAGE_MAX	20000
#define RUNS_MAX	8
#define RUN_MAX		48
#define CHUNK		4096
#define REC_MAX		(72 + 8 * (RUNS_MAX + 1) + RUNS_MAX * RUN_MAX + CHUNK)
/* Not a type of delta-format.md: readers skip it by its size. */
#define REC_UNKNOWN	9
#define BASE_SEQ	100
/* mmsb_log_replay() calls per log: each starts the script once. */
#define REPLAYS_MAX	32

struct model_page {
	uint64_t id, size, epoch;
	unsigned char bytes[PAGE_MAX];
};

struct model {
	struct model_page pages[PAGES_MAX];	/* by ascending id */
	unsigned int nr;
	uint64_t next_id, seq, state;
	union {
		struct mmsb_delta d;
		unsigned char b[REC_MAX];
	} rec;
	bool changed[PAGE_MAX];
};

/* What a log is made of; every test makes one. */
struct plan {
	enum mmsb_log_sync sync;	/* ALWAYS: segments kept zero filled */
	uint64_t segment_bytes;
	unsigned int records;		/* logged after the base */
	unsigned int checkpoint_every;	/* records; 0: no checkpoints */
	unsigned int gap_every;		/* records; 0: no GAPs */
	bool unknown;			/* records of type REC_UNKNOWN */
};

static uint32_t rnd(struct model *m, uint32_t below)
{
	return xorshift_next(&m->state) % below;
}

static void model_init(struct model *m, uint64_t seed)
{
	unsigned int i, j;

	memset(m, 0, sizeof(*m));
	m->state = seed * 0x9e3779b97f4a7c15ULL | 1;
	m->seq = BASE_SEQ;
	for (i = 0; i < 3; i++) {
		struct model_page *p = &m->pages[m->nr++];

		p->id = ++m->next_id;
		p->size = 1 + rnd(m, PAGE_MAX);
		p->epoch = rnd(m, 10);
		for (j = 0; j < p->size; j++)
			p->bytes[j] = rnd(m, 256);
	}
}

static void alloc_record(struct model *m, struct mmsb_delta *d)
{
	struct model_page *p = &m->pages[m->nr++];

	p->id = ++m->next_id;
	p->size = 1 + rnd(m, PAGE_MAX);
	p->epoch = 0;
	memset(p->bytes, 0, p->size);
	d->size = sizeof(*d);
	d->type = MMSB_REC_PAGE_ALLOC;
	d->page_id = p->id;
	d->page_size = p->size;
}

static void free_record(struct model *m, struct mmsb_delta *d)
{
	unsigned int i = rnd(m, m->nr);
	struct model_page *p = &m->pages[i];

	d->size = sizeof(*d);
	d->type = MMSB_REC_PAGE_FREE;
	d->page_id = p->id;
	d->epoch = p->epoch;
	d->page_size = p->size;
	memmove(p, p + 1, (m->nr - i - 1) * sizeof(*p));
	m->nr--;
}

/*
 * A delta of a few random runs, and with @full a whole 4 KiB chunk too:
 * the bytes it changes are marked, then taken as maximal runs, so that
 * runs that would touch come out as one, as the encoder must make them.
 */
static void delta_record(struct model *m, struct mmsb_delta *d, bool full)
{
	struct model_page *p = &m->pages[rnd(m, m->nr)];
	struct mmsb_run *runs = (struct mmsb_run *)(d + 1);
	unsigned int i, n = 1 + rnd(m, RUNS_MAX);
	unsigned char *payload;
	uint64_t off, len;

	memset(m->changed, 0, p->size);
	for (i = 0; i < n; i++) {
		off = rnd(m, p->size);
		len = 1 + rnd(m, RUN_MAX);
		while (len-- && off < p->size)
			m->changed[off++] = true;
	}
	if (full) {
		off = rnd(m, (p->size + CHUNK - 1) / CHUNK) * CHUNK;
		for (len = 0; len < CHUNK && off < p->size; len++)
			m->changed[off++] = true;
	}
	for (n = 0, off = 0; off < p->size; off++) {
		if (!m->changed[off])
			continue;
		if (!off || !m->changed[off - 1])
			runs[n++] = (struct mmsb_run){ .offset = off };
		runs[n - 1].len++;
	}

	payload = (unsigned char *)(runs + n);
	for (i = 0; i < n; i++)
		for (off = runs[i].offset; off < runs[i].offset + runs[i].len; off++) {
			p->bytes[off] = rnd(m, 256);
			*payload++ = p->bytes[off];
		}
	d->type = MMSB_REC_DELTA;
	d->flags = MMSB_DELTA_CAPTURED | (full ? MMSB_DELTA_FULL : 0);
	d->nr_runs = n;
	d->page_id = p->id;
	d->base_epoch = p->epoch;
	d->epoch = ++p->epoch;
	d->payload_len = payload - (unsigned char *)(runs + n);
	d->size = mmsb_delta_record_size(n, d->payload_len);
}

/*
 * A record of a type no reader knows: only its size, type and seq mean
 * anything; the rest is random.  (libmmsb logs one of 72 bytes or more.)
 */
static void unknown_record(struct model *m, struct mmsb_delta *d)
{
	unsigned int i;

	d->size = sizeof(*d) + 8 * rnd(m, 8);
	d->type = REC_UNKNOWN;
	for (i = 24; i < d->size; i++)
		m->rec.b[i] = rnd(m, 256);
}

/* The bus's next record, made and applied to the model. */
static const struct mmsb_delta *model_next(struct model *m, bool unknown)
{
	struct mmsb_delta *d = &m->rec.d;
	uint32_t r = rnd(m, 100);

	memset(m->rec.b, 0, sizeof(m->rec.b));
	if (unknown && r < 10)
		unknown_record(m, d);
	else if (r < 14 && m->nr < PAGES_MAX)
		alloc_record(m, d);
	else if (r < 18 && m->nr > 1)
		free_record(m, d);
	else
		delta_record(m, d, r < 40);
	d->seq = ++m->seq;
	d->pid = 4242;
	d->timestamp_ns = 1700000000000000000ULL + m->seq;
	return d;
}

static void append_model_snapshot(struct mmsb_log *log, const struct model *m)
{
	struct mmsb_snapshot_page pages[PAGES_MAX];
	unsigned char *bytes = xmalloc(PAGES_MAX * PAGE_MAX);
	struct mmsb_snap s = {
		.seq = m->seq, .bus_id = 7, .nr_pages = m->nr, .pages = pages,
		.bytes = bytes,
	};
	unsigned int i;

	for (i = 0; i < m->nr; i++) {
		const struct model_page *p = &m->pages[i];

		pages[i] = (struct mmsb_snapshot_page){
			.page_id = p->id, .size = p->size, .epoch = p->epoch,
			.offset = s.bytes_len,
		};
		memcpy(bytes + s.bytes_len, p->bytes, p->size);
		s.bytes_len += p->size;
	}
	ASSERT_EQ(0, mmsb_log_append_snapshot(log, &s)) TH_LOG("%s",
							mmsb_log_error(log));
	free(bytes);
}

/*
 * Records lost (the model moves on without logging them), a GAP that
 * says so and a snapshot; now and then at a seq past the GAP's end,
 * which the format allows.
 */
static void append_gap(struct mmsb_log *log, struct model *m)
{
	uint64_t first = m->seq + 1, lost = 1 + rnd(m, 20);
	uint64_t beyond = rnd(m, 3), i;

	for (i = 0; i < lost + beyond; i++)
		model_next(m, false);
	ASSERT_EQ(0, mmsb_log_append_gap(log, first, lost));
	append_model_snapshot(log, m);
}

static struct mmsb_log *open_log(const char *dir, unsigned int flags,
				 const struct plan *p,
				 struct mmsb_log_recovery *rec)
{
	struct mmsb_log_opts o = {
		.sync = p ? p->sync : MMSB_LOG_SYNC_NONE,
		.segment_bytes = p ? p->segment_bytes : 0,
	};
	struct mmsb_log *log;

	ASSERT_EQ(0, mmsb_log_open(&log, dir, flags, &o, rec)) TH_LOG("%s",
			rec ? rec->detail : dir);
	return log;
}

static void build_log(const char *dir, const struct plan *p, uint64_t seed)
{
	struct mmsb_log *log = open_log(dir, MMSB_LOG_CREATE, p, NULL);
	struct model *m = xmalloc(sizeof(*m));
	unsigned int i;

	model_init(m, seed);
	append_model_snapshot(log, m);
	for (i = 1; i <= p->records; i++) {
		ASSERT_EQ(0, mmsb_log_append(log, model_next(m, p->unknown)))
			TH_LOG("%s", mmsb_log_error(log));
		if (i % 8 == 0)
			ASSERT_LE(0, mmsb_log_commit(log));
		if (p->checkpoint_every && i % p->checkpoint_every == 0) {
			ASSERT_LE(0, mmsb_log_commit(log));
			ASSERT_EQ(0, mmsb_log_checkpoint(log))
				TH_LOG("%s", mmsb_log_error(log));
		}
		if (p->gap_every && i % p->gap_every == 0)
			append_gap(log, m);
	}
	ASSERT_EQ(0, mmsb_log_close(log));
	free(m);
}

static const struct plan many_segments = {
	.sync = MMSB_LOG_SYNC_ALWAYS, .segment_bytes = 16 << 10,
	.records = 700,
};
static const struct plan unknown_types = {
	.segment_bytes = 16 << 10, .records = 300, .unknown = true,
};
static const struct plan checkpoints = {
	.segment_bytes = 32 << 10, .records = 800, .checkpoint_every = 130,
};
static const struct plan gaps = {
	.segment_bytes = 16 << 10, .records = 500, .gap_every = 90,
};

/* snprintf(), but a string that does not fit fails the test. */
static void __attribute__((format(printf, 3, 4)))
xsnprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	ASSERT_LT(n, (int)len);
}

/* examples/python/mmsb_log.py, from this program's place in build/tests/. */
static void script_path(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;
	int up;

	ASSERT_LT(0, n);
	exe[n] = 0;
	for (up = 0; up < 3; up++) {
		slash = strrchr(exe, '/');
		ASSERT_TRUE(slash);
		*slash = 0;
	}
	xsnprintf(buf, len, "%s/examples/python/mmsb_log.py", exe);
}

/* Runs the script with @args; returns its exit status. */
static int __attribute__((format(printf, 1, 2))) run_script(const char *fmt,
							     ...)
{
	char script[PATH_MAX], args[1024], cmd[PATH_MAX + 1100];
	va_list ap;
	int status;

	script_path(script, sizeof(script));
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	xsnprintf(cmd, sizeof(cmd), "python3 -B '%s' %s", script, args);
	status = system(cmd);
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("%s", cmd);
	return WEXITSTATUS(status);
}

static void need_python(void)
{
	char script[PATH_MAX];

	script_path(script, sizeof(script));
	if (access(script, R_OK) || system("python3 -c '' 2>/dev/null"))
		SKIP(exit(KSFT_PASS), "no python3, or no mmsb_log.py");
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ASSERT_TRUE(f) TH_LOG("%s", path);
	ASSERT_EQ(0, fseek(f, 0, SEEK_END));
	n = ftell(f);
	rewind(f);
	buf = xmalloc(n + 1);
	ASSERT_EQ((size_t)n, fread(buf, 1, n, f));
	buf[n] = 0;
	fclose(f);
	*len = n;
	return buf;
}

/* The files must be equal; if not, the first line that differs is shown. */
static void expect_same_file(const char *want_path, const char *got_path)
{
	size_t want_len, got_len, i, line = 1, start = 0;
	char *want = read_all(want_path, &want_len);
	char *got = read_all(got_path, &got_len);

	for (i = 0; i < want_len && i < got_len && want[i] == got[i]; i++)
		if (want[i] == '\n') {
			line++;
			start = i + 1;
		}
	EXPECT_EQ(want_len, got_len) TH_LOG("%s and %s", want_path, got_path);
	EXPECT_EQ(want_len, i)
		TH_LOG("differ at byte %zu, line %zu:\n#  C: %.200s\n#  Py: %.200s",
		       i, line, want + start, got + start);
	free(want);
	free(got);
}

/* What dump prints of a SNAPSHOT, which the cursor does not give. */
static void print_snapshot_fields(FILE *out, struct mmsb_log *log,
				  const char *dir, uint64_t seq)
{
	uint32_t header_size, header_crc;
	struct mmsb_snap *snap;
	char path[600];
	struct stat st;
	int fd;

	xsnprintf(path, sizeof(path), "%s/%016llx.snap", dir,
		 (unsigned long long)seq);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("%s", path);
	ASSERT_EQ(0, fstat(fd, &st));
	ASSERT_EQ(4, pread(fd, &header_size, 4, 12));
	ASSERT_EQ(4, pread(fd, &header_crc, 4, header_size - 4));
	close(fd);
	ASSERT_EQ(0, mmsb_log_load_snapshot(log, seq, &snap));
	fprintf(out, " file_bytes=%llu nr_pages=%u header_crc=0x%08x",
		(unsigned long long)st.st_size, snap->nr_pages, header_crc);
	mmsb_snap_free(snap);
}

static void print_frame(FILE *out, struct mmsb_log *log, const char *dir,
			const struct mmsb_log_frame *f)
{
	static const char *const kinds[] = {
		[MMSB_LOG_RECORD] = "RECORD", [MMSB_LOG_SNAPSHOT] = "SNAPSHOT",
		[MMSB_LOG_GAP] = "GAP",
	};
	const struct mmsb_delta *d = f->rec;
	uint32_t i;

	fprintf(out, "%s seq=%llu time_ns=%lld segment=%016llx offset=%llu",
		kinds[f->kind], (unsigned long long)f->seq,
		(long long)f->time_ns, (unsigned long long)f->segment,
		(unsigned long long)f->offset);
	if (f->kind == MMSB_LOG_SNAPSHOT)
		print_snapshot_fields(out, log, dir, f->seq);
	if (f->kind == MMSB_LOG_GAP)
		fprintf(out, " lost=%llu", (unsigned long long)f->lost);
	if (f->kind == MMSB_LOG_RECORD) {
		fprintf(out, " size=%u type=%u", d->size, d->type);
		if (d->type == MMSB_REC_DELTA || d->type == MMSB_REC_PAGE_ALLOC ||
		    d->type == MMSB_REC_PAGE_FREE)
			fprintf(out, " page_id=%llu epoch=%llu",
				(unsigned long long)d->page_id,
				(unsigned long long)d->epoch);
		fprintf(out, " bytes=");
		for (i = 0; i < d->size; i++)
			fprintf(out, "%02x", ((const unsigned char *)d)[i]);
	}
	fputc('\n', out);
}

/*
 * libmmsb's view of the log at @dir, as "mmsb_log.py dump --hex" prints
 * it, into @path.  Returns what the cursor ended with: 0, or -EBADMSG.
 */
static int c_dump(const char *dir, const char *path)
{
	struct mmsb_log_recovery rec = {};
	struct mmsb_log *log = open_log(dir, MMSB_LOG_RDONLY, NULL, &rec);
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	FILE *out = fopen(path, "w");
	int ret;

	ASSERT_TRUE(out);
	ASSERT_EQ(0, mmsb_log_seek(log, 0, &cur));
	while ((ret = mmsb_log_next(cur, &f)) > 0)
		print_frame(out, log, dir, &f);
	if (ret)
		TH_LOG("libmmsb: %s", mmsb_log_error(log));
	if (rec.torn_bytes)
		fprintf(out, "TORN segment=%016llx offset=%llu bytes=%llu intact_beyond=%llu\n",
			(unsigned long long)rec.torn_segment,
			(unsigned long long)rec.torn_offset,
			(unsigned long long)rec.torn_bytes,
			(unsigned long long)rec.intact_beyond);
	fclose(out);
	mmsb_log_cursor_close(cur);
	mmsb_log_close(log);
	return ret;
}

/* Both readers print the log at @dir; the texts must be the same. */
static void expect_same_frames(const char *dir, const char *tmp)
{
	char c_path[600], py_path[600], err_path[600], *err;
	size_t len;

	xsnprintf(c_path, sizeof(c_path), "%s/c.dump", tmp);
	xsnprintf(py_path, sizeof(py_path), "%s/py.dump", tmp);
	xsnprintf(err_path, sizeof(err_path), "%s/py.err", tmp);
	ASSERT_EQ(0, c_dump(dir, c_path));
	EXPECT_EQ(0, run_script("dump --hex '%s' >'%s' 2>'%s'", dir, py_path,
				err_path)) {
		err = read_all(err_path, &len);
		TH_LOG("script: %s", err);
		free(err);
	}
	expect_same_file(c_path, py_path);
}

static void add_seq(uint64_t *seqs, unsigned int *nr, uint64_t seq)
{
	if (*nr < REPLAYS_MAX - 2)
		seqs[(*nr)++] = seq;
}

/*
 * Seqs worth replaying to: the log's ends and just outside them, each
 * snapshot and the seq after it, each GAP's first and last seq and the
 * one after, a few records between, and 0 (the position).
 */
static unsigned int replay_seqs(struct mmsb_log *log, uint64_t *seqs)
{
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	uint64_t position = 0;
	unsigned int nr = 0, n = 0;

	add_seq(seqs, &nr, 0);
	ASSERT_EQ(0, mmsb_log_seek(log, 0, &cur));
	while (mmsb_log_next(cur, &f) > 0) {
		if (!position)
			add_seq(seqs, &nr, f.seq - 1);
		if (f.kind == MMSB_LOG_SNAPSHOT) {
			add_seq(seqs, &nr, f.seq);
			add_seq(seqs, &nr, f.seq + 1);
		}
		if (f.kind == MMSB_LOG_GAP) {
			add_seq(seqs, &nr, f.seq);
			add_seq(seqs, &nr, f.seq + f.lost - 1);
			add_seq(seqs, &nr, f.seq + f.lost);
		}
		if (f.kind == MMSB_LOG_RECORD && ++n % 97 == 0)
			add_seq(seqs, &nr, f.seq);
		position = f.kind == MMSB_LOG_GAP ? f.seq + f.lost - 1 : f.seq;
	}
	mmsb_log_cursor_close(cur);
	seqs[nr++] = position;
	seqs[nr++] = position + 1;
	return nr;
}

/*
 * libmmsb's replay to @seq, saved as a snapshot file, must be the file
 * the script writes; or both must fail alike.  Returns the errno of
 * libmmsb's failure, 0 if the pages were compared.
 */
static int expect_same_replay(struct mmsb_log *log, const char *dir,
			      const char *tmp, uint64_t seq)
{
	char c_path[600], py_path[600], err_path[600], *err;
	struct mmsb_snap *snap;
	int ret, status, fd;
	size_t len;

	xsnprintf(c_path, sizeof(c_path), "%s/c.snap", tmp);
	xsnprintf(py_path, sizeof(py_path), "%s/py.snap", tmp);
	xsnprintf(err_path, sizeof(err_path), "%s/py.err", tmp);
	ret = mmsb_log_replay(log, seq, &snap);
	status = run_script("replay '%s' %llu '%s' 2>'%s'", dir,
			    (unsigned long long)seq, py_path, err_path);
	err = read_all(err_path, &len);
	if (ret == -ERANGE || ret == -EBADMSG) {
		EXPECT_EQ(ret == -ERANGE ? 3 : 1, status)
			TH_LOG("seq %llu: libmmsb: %s; script: %s",
			       (unsigned long long)seq, mmsb_log_error(log), err);
		free(err);
		return -ret;
	}
	ASSERT_EQ(0, ret) TH_LOG("seq %llu: %s", (unsigned long long)seq,
				 mmsb_log_error(log));
	EXPECT_EQ(0, status) TH_LOG("seq %llu: script: %s",
				    (unsigned long long)seq, err);
	free(err);
	fd = open(c_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_snap_save(snap, fd));
	close(fd);
	mmsb_snap_free(snap);
	if (!status)
		expect_same_file(c_path, py_path);
	unlink(py_path);
	return 0;
}

static void expect_same_replays(const char *dir, const char *tmp)
{
	struct mmsb_log *log = open_log(dir, MMSB_LOG_RDONLY, NULL, NULL);
	unsigned int i, nr, compared = 0, not_in_log = 0;
	uint64_t seqs[REPLAYS_MAX];

	nr = replay_seqs(log, seqs);
	for (i = 0; i < nr; i++)
		switch (expect_same_replay(log, dir, tmp, seqs[i])) {
		case 0:
			compared++;
			break;
		case ERANGE:
			not_in_log++;
			break;
		}
	mmsb_log_close(log);
	TH_LOG("%u replays equal, %u seqs not in the log for both",
	       compared, not_in_log);
}

/* A log made to @p in @dir, and a directory for what the readers write. */
static void setup(char *dir, char *tmp, const struct plan *p, uint64_t seed)
{
	need_python();
	test_tmpdir(dir, 256, "pyref");
	test_tmpdir(tmp, 256, "pyref-out");
	build_log(dir, p, seed);
}

static void teardown(const char *dir, const char *tmp)
{
	test_rmdir(dir);
	test_rmdir(tmp);
}

TEST_TIMEOUT(python_reader_frames_and_replays_equal_c_readers_multi_segment, 120)
{
	char dir[256], tmp[256];

	setup(dir, tmp, &many_segments, 1);
	expect_same_frames(dir, tmp);
	expect_same_replays(dir, tmp);
	teardown(dir, tmp);
}

TEST_TIMEOUT(python_reader_frames_and_replays_equal_c_readers_unknown_record_type, 120)
{
	char dir[256], tmp[256];

	setup(dir, tmp, &unknown_types, 2);
	expect_same_frames(dir, tmp);
	expect_same_replays(dir, tmp);
	teardown(dir, tmp);
}

TEST_TIMEOUT(python_reader_frames_and_replays_equal_c_readers_checkpoints, 120)
{
	char dir[256], tmp[256];

	setup(dir, tmp, &checkpoints, 3);
	expect_same_frames(dir, tmp);
	expect_same_replays(dir, tmp);
	teardown(dir, tmp);
}

TEST_TIMEOUT(python_reader_frames_and_replays_equal_c_readers_gap_then_snapshot, 120)
{
	char dir[256], tmp[256];

	setup(dir, tmp, &gaps, 4);
	expect_same_frames(dir, tmp);
	expect_same_replays(dir, tmp);
	teardown(dir, tmp);
}

/*
 * The last segment's file, where its last frame starts, and the record
 * it holds (the plans end with one) with its size.
 */
static void last_record(const char *dir, char *path, size_t len,
			uint64_t *offset, uint32_t *size)
{
	struct mmsb_log *log = open_log(dir, MMSB_LOG_RDONLY, NULL, NULL);
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;

	ASSERT_EQ(0, mmsb_log_seek(log, 0, &cur));
	while (mmsb_log_next(cur, &f) > 0) {
		xsnprintf(path, len, "%s/%016llx.seg", dir,
			  (unsigned long long)f.segment);
		*offset = f.offset;
		*size = f.kind == MMSB_LOG_RECORD ? f.rec->size : 0;
	}
	ASSERT_LT(0, *size);
	mmsb_log_cursor_close(cur);
	mmsb_log_close(log);
}

/* The log cut in the middle of its last frame, as a crash leaves it. */
static void tear_tail(const char *dir)
{
	char path[600];
	uint64_t offset;
	uint32_t size;

	last_record(dir, path, sizeof(path), &offset, &size);
	ASSERT_EQ(0, truncate(path, offset + 40));
}

/*
 * The last frame's record zeroed behind its header, as a crash leaves a
 * segment that the log keeps zero filled ahead of its frames (sync mode
 * ALWAYS): a torn tail that runs to the end of the file, zeros and all.
 */
static void zero_last_record(const char *dir)
{
	static const unsigned char zeros[REC_MAX];
	char path[600];
	uint64_t offset;
	uint32_t size;
	int fd;

	last_record(dir, path, sizeof(path), &offset, &size);
	fd = open(path, O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)size, pwrite(fd, zeros, size, offset + 32));
	close(fd);
}

TEST_TIMEOUT(python_reader_reports_torn_tail_as_c_reader_does, 120)
{
	char dir[256], tmp[256];

	setup(dir, tmp, &many_segments, 5);
	tear_tail(dir);
	expect_same_frames(dir, tmp);
	teardown(dir, tmp);
}

TEST_TIMEOUT(python_reader_reports_torn_zero_filled_tail_as_c_reader_does, 120)
{
	char dir[256], tmp[256];

	setup(dir, tmp, &many_segments, 5);
	zero_last_record(dir);
	expect_same_frames(dir, tmp);
	teardown(dir, tmp);
}

TEST_TIMEOUT(python_replay_equals_c_replay_torn_tail, 120)
{
	char dir[256], tmp[256];

	setup(dir, tmp, &many_segments, 5);
	tear_tail(dir);
	expect_same_replays(dir, tmp);
	teardown(dir, tmp);
}

/*
 * A bit flipped in a frame of the last segment with whole frames after
 * it: a torn tail, and the whole frames beyond it counted alike.
 */
TEST_TIMEOUT(python_reader_counts_frames_beyond_damage_as_c_reader_does, 120)
{
	char dir[256], tmp[256], path[600];
	uint64_t offset;
	uint32_t size;

	setup(dir, tmp, &many_segments, 6);
	last_record(dir, path, sizeof(path), &offset, &size);
	test_flip_bits(path, 64 + 40, 0x20);
	expect_same_frames(dir, tmp);
	teardown(dir, tmp);
}

/*
 * A bit flipped in a record of a sealed segment: both readers stop at
 * that frame, having given the same frames before it, and name it.
 */
TEST_TIMEOUT(python_reader_refuses_damage_in_sealed_segment_where_c_does, 120)
{
	char dir[256], tmp[256], c_path[600], py_path[600], seg[600];
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	struct mmsb_log *log;
	uint64_t segment = 0, offset = 0;
	char *msg;
	size_t len;
	int n = 0;

	setup(dir, tmp, &many_segments, 7);
	/* The 200th frame, in a sealed segment of many. */
	log = open_log(dir, MMSB_LOG_RDONLY, NULL, NULL);
	ASSERT_EQ(0, mmsb_log_seek(log, 0, &cur));
	while (mmsb_log_next(cur, &f) > 0 && n++ < 200) {
		segment = f.segment;
		offset = f.offset;
	}
	mmsb_log_cursor_close(cur);
	mmsb_log_close(log);
	xsnprintf(seg, sizeof(seg), "%s/%016llx.seg", dir,
		 (unsigned long long)segment);
	test_flip_bits(seg, offset + 32 + 30, 0x20);

	xsnprintf(c_path, sizeof(c_path), "%s/c.dump", tmp);
	xsnprintf(py_path, sizeof(py_path), "%s/py.dump", tmp);
	EXPECT_EQ(-EBADMSG, c_dump(dir, c_path));
	EXPECT_EQ(1, run_script("dump --hex '%s' > '%s' 2>'%s/py.err'", dir,
				py_path, tmp));
	expect_same_file(c_path, py_path);
	xsnprintf(c_path, sizeof(c_path), "%s/py.err", tmp);
	msg = read_all(c_path, &len);
	xsnprintf(c_path, sizeof(c_path), "%s: offset %llu:", seg,
		 (unsigned long long)offset);
	EXPECT_TRUE(strstr(msg, c_path)) TH_LOG("%s", msg);
	free(msg);
	teardown(dir, tmp);
}

/* A byte of the first checkpoint's pages flipped. */
static void damage_first_checkpoint(const char *dir)
{
	struct mmsb_log *log = open_log(dir, MMSB_LOG_RDONLY, NULL, NULL);
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	unsigned int snapshots = 0;
	char path[600];

	ASSERT_EQ(0, mmsb_log_seek(log, 0, &cur));
	while (mmsb_log_next(cur, &f) > 0)
		if (f.kind == MMSB_LOG_SNAPSHOT && ++snapshots == 2)
			break;
	ASSERT_EQ(2, snapshots);
	xsnprintf(path, sizeof(path), "%s/%016llx.snap", dir,
		  (unsigned long long)f.seq);
	mmsb_log_cursor_close(cur);
	mmsb_log_close(log);
	/* Past the header and the first page's entry: its bytes. */
	test_flip_bits(path, 128 + 32, 0x20);
}

/* Replays after it must start from the snapshot before it, the base. */
TEST_TIMEOUT(python_replay_passes_over_damaged_snapshot_as_c_replay_does, 120)
{
	char dir[256], tmp[256];

	setup(dir, tmp, &checkpoints, 10);
	damage_first_checkpoint(dir);
	expect_same_replays(dir, tmp);
	teardown(dir, tmp);
}

/*
 * A seq from @from on with frames after it in its segment, so that a
 * compaction there copies them into the new base: the middle one of the
 * first segment that holds three or more.
 */
static uint64_t mid_segment_seq(const char *dir, uint64_t from)
{
	struct mmsb_log *log = open_log(dir, MMSB_LOG_RDONLY, NULL, NULL);
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	uint64_t segment = 0, seqs[512];
	unsigned int n = 0;

	ASSERT_EQ(0, mmsb_log_seek(log, from, &cur));
	while (mmsb_log_next(cur, &f) > 0 && n < 512) {
		if (f.segment != segment) {
			if (n >= 3)
				break;
			segment = f.segment;
			n = 0;
		}
		seqs[n++] = f.seq;
	}
	mmsb_log_cursor_close(cur);
	mmsb_log_close(log);
	ASSERT_LE(3, n);
	return seqs[n / 2];
}

/*
 * The checkpoints log compacted to begin at a record in its middle; with
 * @cut_short, the files compaction removed are put back, as a crash
 * between making the new first segment and removing the old ones leaves
 * them: readers must ignore the segments below it.
 */
static void compact(const char *dir, const char *tmp, bool cut_short)
{
	uint64_t seq = mid_segment_seq(dir, BASE_SEQ + 333);
	char old[256], cmd[1400];
	struct mmsb_log *log;

	xsnprintf(old, sizeof(old), "%s/old", tmp);
	xsnprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", dir, old);
	ASSERT_EQ(0, system(cmd));
	log = open_log(dir, 0, &checkpoints, NULL);
	ASSERT_EQ(0, mmsb_log_compact(log, seq))
		TH_LOG("%s", mmsb_log_error(log));
	ASSERT_EQ(0, mmsb_log_close(log));
	if (cut_short) {
		xsnprintf(cmd, sizeof(cmd), "cp -an '%s/.' '%s'", old, dir);
		ASSERT_EQ(0, system(cmd));
	}
	test_rmdir(old);
}

TEST_TIMEOUT(python_reader_frames_and_replays_equal_c_readers_compacted, 120)
{
	char dir[256], tmp[256];

	setup(dir, tmp, &checkpoints, 8);
	compact(dir, tmp, false);
	expect_same_frames(dir, tmp);
	expect_same_replays(dir, tmp);
	teardown(dir, tmp);
}

TEST_TIMEOUT(python_reader_frames_and_replays_equal_c_readers_compaction_cut_short, 120)
{
	char dir[256], tmp[256];

	setup(dir, tmp, &checkpoints, 9);
	compact(dir, tmp, true);
	expect_same_frames(dir, tmp);
	expect_same_replays(dir, tmp);
	teardown(dir, tmp);
}

TEST_HARNESS_MAIN
