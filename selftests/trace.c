// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the mmsb: trace events (Documentation/tracing.md).  Each
 * test enables events/mmsb/enable in tracefs (mounting it if need be),
 * clears the trace buffer, drives a bus of its own and checks that the
 * events it caused are in the buffer with the fields the stream and the
 * ioctls gave: bus id, page id, seq, epoch, size, chunk, the counts of a
 * commit and of a write, the errno of a refused write, and an overrun's
 * first seq and count.  Events are told apart from other buses' by the
 * bus id.  Root only: tracefs is.
 */
#define _GNU_SOURCE

#include <sys/mount.h>

#include "capture_util.h"
#include "submit_util.h"

#define TRACEFS		"/sys/kernel/tracing"
#define TRACE_ENABLE	TRACEFS "/events/mmsb/enable"
#define TRACE_MAX	(4 * MiB)
#define RING_MIN	(64 * KiB)

/* The mmsb events of one bus read from the trace buffer, a line each. */
struct trace_lines {
	char *buf;
	char *line[256];
	unsigned int nr;
};

/* Writes @val to tracefs file @path; 0 or -errno. */
static int tracefs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/*
 * Mounts tracefs if it is not there, empties the buffer and sets the mmsb
 * events to @on for the rest of the test (put back when it ends).
 */
static void trace_start(bool on)
{
	if (!is_root())
		SKIP(exit(KSFT_PASS), "tracefs needs root");
	if (access(TRACEFS "/events", F_OK))
		ASSERT_EQ(0, mount("nodev", TRACEFS, "tracefs", 0, NULL))
			TH_LOG("mount tracefs: %s", strerror(errno));
	ASSERT_EQ(0, access(TRACE_ENABLE, F_OK))
		TH_LOG("no mmsb events in tracefs: %s", strerror(errno));
	ASSERT_EQ(0, th_restore_at_end(TRACE_ENABLE));
	ASSERT_EQ(0, tracefs_write(TRACEFS "/tracing_on", "1"));
	ASSERT_EQ(0, tracefs_write(TRACE_ENABLE, on ? "1" : "0"));
	ASSERT_EQ(0, tracefs_write(TRACEFS "/trace", ""));
}

/*
 * Whether @line has the word @tok ("field=value"): after a space, and
 * before a space or the end.
 */
static bool has_word(const char *line, const char *tok)
{
	size_t n = strlen(tok);
	const char *at;

	for (at = line; (at = strstr(at, tok)); at++)
		if (at > line && at[-1] == ' ' && (!at[n] || at[n] == ' '))
			return true;
	return false;
}

/* Whether @line is an event @name: "mmsb_record: bus=1 ...". */
static bool is_event(const char *line, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(line, name, n) && line[n] == ':';
}

/* The lines of the buffer with an mmsb event of bus @bus, from the name on. */
static void trace_read(struct trace_lines *t, __u64 bus)
{
	char want[40], *line, *save;
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(want, sizeof(want), "bus=%llu", (unsigned long long)bus);
	t->buf = malloc(TRACE_MAX);
	t->nr = 0;
	ASSERT_NE(NULL, t->buf);
	fd = open(TRACEFS "/trace", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open trace: %s", strerror(errno));
	while ((n = read(fd, t->buf + len, TRACE_MAX - 1 - len)) > 0)
		len += n;
	close(fd);
	t->buf[len] = '\0';
	for (line = strtok_r(t->buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *ev = strstr(line, " mmsb_");

		if (!ev || !has_word(ev, want))
			continue;
		ASSERT_GT(sizeof(t->line) / sizeof(t->line[0]), t->nr);
		t->line[t->nr++] = ev + 1;
	}
}

/* The number of events @name with every word of @fmt (space separated). */
static unsigned int __attribute__((format(printf, 3, 4)))
trace_count(const struct trace_lines *t, const char *name, const char *fmt, ...)
{
	char words[256], *tok, *save;
	unsigned int i, seen = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(words, sizeof(words), fmt, ap);
	va_end(ap);
	for (i = 0; i < t->nr; i++) {
		char copy[256];
		bool match = is_event(t->line[i], name);

		strcpy(copy, words);
		for (tok = strtok_r(copy, " ", &save); tok && match;
		     tok = strtok_r(NULL, " ", &save))
			match = has_word(t->line[i], tok);
		seen += match;
	}
	return seen;
}

/* The value of @field in the first event @name that has it, or -1. */
static long long trace_field(const struct trace_lines *t, const char *name,
			     const char *field)
{
	char want[80];
	unsigned int i;

	snprintf(want, sizeof(want), " %s=", field);
	for (i = 0; i < t->nr; i++) {
		const char *at = strstr(t->line[i], want);

		if (is_event(t->line[i], name) && at)
			return strtoll(at + strlen(want), NULL, 0);
	}
	return -1;
}

static void trace_dump(const struct trace_lines *t)
{
	unsigned int i;

	for (i = 0; i < t->nr; i++)
		TH_LOG("%s", t->line[i]);
}

/* A new bus (capture_util.h) with a ring of @ring bytes; returns its id. */
static __u64 bus_start(struct bus *b, __u32 ring)
{
	struct mmsb_bus_info bi;

	bus_new_ring(b, ring);
	ASSERT_EQ(0, mmsb_bus_info(b->fd, &bi));
	return bi.bus_id;
}

/* write(2) that returns the bytes written or -errno. */
static ssize_t submit(int fd, const void *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	return n < 0 ? -errno : n;
}

#define EXPECT_EVENT(t, name, fmt, ...)					\
	EXPECT_EQ(1, trace_count(t, name, fmt, ##__VA_ARGS__))		\
		TH_LOG("want one %s with " fmt, name, ##__VA_ARGS__)

TEST(page_alloc_and_free_events_give_page_size_epoch)
{
	struct trace_lines t;
	struct page pg;
	struct bus b;
	__u64 bus;

	trace_start(true);
	bus = bus_start(&b, 0);
	page_new(&b, &pg, 5000);
	page_free(&b, &pg);
	trace_read(&t, bus);
	EXPECT_EVENT(&t, "mmsb_page_alloc", "page=%llu size=5000 epoch=0",
		     (unsigned long long)pg.id);
	EXPECT_EVENT(&t, "mmsb_page_free", "page=%llu size=5000 epoch=0",
		     (unsigned long long)pg.id);
	EXPECT_EVENT(&t, "mmsb_record",
		     "seq=1 type=PAGE_ALLOC page=%llu epoch=0 size=72 flags=0x0",
		     (unsigned long long)pg.id);
	EXPECT_EVENT(&t, "mmsb_record",
		     "seq=2 type=PAGE_FREE page=%llu epoch=0 size=72 flags=0x0",
		     (unsigned long long)pg.id);
	EXPECT_EQ(4, t.nr);
	if (th_state->failed)
		trace_dump(&t);
}

TEST(wp_fault_event_gives_page_chunk_and_first_store)
{
	struct trace_lines t;
	struct page pg;
	struct bus b;
	__u64 bus;

	trace_start(true);
	bus = bus_start(&b, 0);
	page_new(&b, &pg, 3 * MMSB_CHUNK_SIZE);
	poke(pg.p, MMSB_CHUNK_SIZE + 8, 1);	/* faults */
	poke(pg.p, MMSB_CHUNK_SIZE + 9, 1);	/* does not: the PTE is writable */
	poke(pg.p, 2 * MMSB_CHUNK_SIZE, 1);
	trace_read(&t, bus);
	EXPECT_EVENT(&t, "mmsb_wp_fault",
		     "page=%llu chunk=1 offset=4096 first=1",
		     (unsigned long long)pg.id);
	EXPECT_EVENT(&t, "mmsb_wp_fault",
		     "page=%llu chunk=2 offset=8192 first=1",
		     (unsigned long long)pg.id);
	EXPECT_EQ(2, trace_count(&t, "mmsb_wp_fault", "%s", ""));
	if (th_state->failed)
		trace_dump(&t);
}

TEST(commit_event_gives_pages_records_bytes_and_time)
{
	struct trace_lines t;
	struct page a, b2;
	struct mmsb_commit c;
	struct bus b;
	__u64 bus;

	trace_start(true);
	bus = bus_start(&b, 0);
	page_new(&b, &a, MMSB_CHUNK_SIZE);
	page_new(&b, &b2, 2 * MMSB_CHUNK_SIZE);
	poke(a.p, 1, 1);
	poke(b2.p, MMSB_CHUNK_SIZE, 2);
	poke(b2.p, 0, 2);
	ASSERT_EQ(0, mmsb_commit_all(b.fd, &c));
	ASSERT_EQ(2, c.nr_records);
	EXPECT_EQ(a.id, rec_next(&b.rs)->page_id);
	EXPECT_EQ(b2.id, rec_next(&b.rs)->page_id);
	trace_read(&t, bus);
	EXPECT_EVENT(&t, "mmsb_commit",
		     "pages=2 records=2 bytes_diffed=12288 err=0");
	EXPECT_LT(0, trace_field(&t, "mmsb_commit", "duration_ns"));
	EXPECT_EVENT(&t, "mmsb_record",
		     "seq=%llu type=DELTA page=%llu epoch=1 flags=0x1",
		     (unsigned long long)c.first_seq, (unsigned long long)a.id);
	EXPECT_EVENT(&t, "mmsb_record",
		     "seq=%llu type=DELTA page=%llu epoch=1 flags=0x1",
		     (unsigned long long)c.last_seq, (unsigned long long)b2.id);
	if (th_state->failed)
		trace_dump(&t);
}

TEST(submit_event_gives_records_applied)
{
	__u64 buf[64] = { 0 };
	struct trace_lines t;
	__u32 size1, size2;
	struct page pg;
	struct bus b;
	__u64 bus;

	trace_start(true);
	bus = bus_start(&b, 0);
	page_new(&b, &pg, MMSB_CHUNK_SIZE);
	size1 = rec_fill(buf, pg.id, 16, 24, 0xab);
	size2 = rec_fill((char *)buf + size1, pg.id, 64, 8, 0xcd);
	ASSERT_EQ(size1 + size2, submit(b.fd, buf, size1 + size2));
	EXPECT_EQ(2, rec_next(&b.rs)->seq);
	EXPECT_EQ(3, rec_next(&b.rs)->seq);
	trace_read(&t, bus);
	EXPECT_EVENT(&t, "mmsb_submit", "records=2 bytes=%u err=0",
		     size1 + size2);
	EXPECT_EVENT(&t, "mmsb_record",
		     "seq=2 type=DELTA page=%llu epoch=1 size=%u flags=0x2",
		     (unsigned long long)pg.id, size1);
	EXPECT_EVENT(&t, "mmsb_record",
		     "seq=3 type=DELTA page=%llu epoch=2 size=%u flags=0x2",
		     (unsigned long long)pg.id, size2);
	if (th_state->failed)
		trace_dump(&t);
}

TEST(submit_event_gives_errno_of_refusal)
{
	__u64 buf[16] = { 0 };
	struct mmsb_delta *d = (void *)buf;
	struct trace_lines t;
	struct page pg;
	struct bus b;
	__u64 bus;
	__u32 size;

	trace_start(true);
	bus = bus_start(&b, 0);
	page_new(&b, &pg, MMSB_CHUNK_SIZE);
	size = rec_fill(buf, pg.id, 0, 8, 0x11);
	d->flags = MMSB_DELTA_CHECK_BASE;
	d->base_epoch = 7;
	ASSERT_EQ(-ESTALE, submit(b.fd, buf, size));
	trace_read(&t, bus);
	EXPECT_EVENT(&t, "mmsb_submit", "records=0 bytes=0 err=%d", -ESTALE);
	/* The PAGE_ALLOC record, and no other. */
	EXPECT_EQ(1, trace_count(&t, "mmsb_record", "%s", ""));
	if (th_state->failed)
		trace_dump(&t);
}

TEST(overrun_event_for_record_larger_than_ring)
{
	const struct mmsb_delta *d;
	struct trace_lines t;
	struct page pg;
	struct bus b;
	__u64 bus;

	trace_start(true);
	bus = bus_start(&b, RING_MIN);
	page_new(&b, &pg, 2 * RING_MIN);
	memset(pg.p, 0xff, pg.size);
	ASSERT_EQ(0, mmsb_commit_all(b.fd, NULL));
	d = rec_next(&b.rs);
	ASSERT_EQ(MMSB_REC_OVERRUN, d->type);
	ASSERT_EQ(1, d->lost);
	trace_read(&t, bus);
	EXPECT_EVENT(&t, "mmsb_record",
		     "seq=%llu type=OVERRUN page=%llu epoch=1 size=72",
		     (unsigned long long)d->seq, (unsigned long long)pg.id);
	EXPECT_EVENT(&t, "mmsb_overrun", "seq=%llu lost=1",
		     (unsigned long long)d->seq);
	if (th_state->failed)
		trace_dump(&t);
}

TEST(overrun_event_for_reader_left_behind)
{
	static __u64 buf[4 * (RING_MIN / 3) / 8 + 64];
	__u32 each = RING_MIN / 3, size = 0;
	const struct mmsb_delta *d;
	struct trace_lines t;
	struct page pg;
	struct bus b;
	__u64 bus;
	int i;

	trace_start(true);
	bus = bus_start(&b, RING_MIN);
	page_new(&b, &pg, RING_MIN);
	/* Four records of a third of the ring each: the oldest are dropped. */
	for (i = 0; i < 4; i++)
		size += rec_fill((char *)buf + size, pg.id, 0, each, i);
	ASSERT_EQ(size, submit(b.fd, buf, size));
	d = rec_next(&b.rs);
	ASSERT_EQ(MMSB_REC_OVERRUN, d->type);
	EXPECT_EQ(2, d->seq);
	EXPECT_LT(0, d->lost);
	trace_read(&t, bus);
	EXPECT_EVENT(&t, "mmsb_overrun", "seq=2 lost=%llu",
		     (unsigned long long)d->lost);
	EXPECT_EVENT(&t, "mmsb_submit", "records=4 bytes=%u err=0", size);
	if (th_state->failed)
		trace_dump(&t);
}

TEST(disabled_events_leave_no_trace)
{
	struct trace_lines t;
	struct page pg;
	struct bus b;
	__u64 bus;

	trace_start(false);
	bus = bus_start(&b, 0);
	page_new(&b, &pg, MMSB_CHUNK_SIZE);
	poke(pg.p, 0, 1);
	commit_one(&b, &pg);
	page_free(&b, &pg);
	trace_read(&t, bus);
	EXPECT_EQ(0, t.nr);
	if (th_state->failed)
		trace_dump(&t);
}

TEST_HARNESS_MAIN
