// SPDX-License-Identifier: GPL-2.0
/*
 * Description: capture in the local backend, under each mechanism (async,
 * sync, mprotect; a test skips when this kernel lacks one).  The first
 * store to a chunk counts one fault and makes it dirty, later ones
 * nothing; a commit emits the byte-exact runs and protects the chunks
 * again; stores through any handle's mapping count, also when the mapping
 * is gone by the commit or the page table dropped the chunk; bytes past
 * the page's size are never captured; stores racing with commits are never
 * lost; a freed page's mapping in another handle raises SIGBUS; a system
 * call storing into a page is captured or fails with EFAULT, as
 * documented; a forced mechanism is the one used.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "local_util.h"

CAPTURE_TEST(first_store_to_a_chunk_faults_once)
{
	struct mmsb_page_info info;
	struct mmsb_bus *bus;
	uint64_t buf[512], id;
	const struct mmsb_delta *d = (const void *)buf;
	const struct mmsb_run *run;
	__u8 *p;

	LOCAL_BUS_OR_SKIP(bus, mech, NULL);
	p = lib_new_page(bus, 3 * 4 * KiB, &id);
	local_read_alloc(bus, id, 3 * 4 * KiB);
	info = local_info(bus, id);
	EXPECT_EQ(0, info.wp_faults);
	EXPECT_EQ(0, info.dirty_chunks);

	lib_poke(p, 10, 1);
	lib_poke(p, 11, 2);
	lib_poke(p, 2 * 4 * KiB + 5, 3);
	info = local_info(bus, id);
	EXPECT_EQ(2, info.wp_faults);
	EXPECT_EQ(2, info.dirty_chunks);

	ASSERT_EQ(1, mmsb_commit(bus, id, NULL));
	ASSERT_EQ(mmsb_delta_record_size(2, 3), mmsb_read(bus, buf, sizeof(buf)));
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	ASSERT_EQ(2, d->nr_runs);
	run = mmsb_record_runs(d);
	EXPECT_EQ(10, run[0].offset);
	EXPECT_EQ(2, run[0].len);
	EXPECT_EQ(2 * 4 * KiB + 5, run[1].offset);
	EXPECT_EQ(1, run[1].len);
	info = local_info(bus, id);
	EXPECT_EQ(0, info.dirty_chunks);
	EXPECT_EQ(2, info.wp_faults);
	EXPECT_EQ(2 * 4 * KiB, info.bytes_diffed);

	/* Protected again: the next store to a chunk faults again. */
	lib_poke(p, 10, 9);
	lib_poke(p, 12, 9);
	info = local_info(bus, id);
	EXPECT_EQ(3, info.wp_faults);
	EXPECT_EQ(1, info.dirty_chunks);
	mmsb_bus_close(bus);
}

CAPTURE_TEST(a_store_that_changes_nothing_emits_nothing)
{
	struct mmsb_page_info info;
	struct mmsb_bus *bus;
	uint64_t id;
	__u8 *p;

	LOCAL_BUS_OR_SKIP(bus, mech, NULL);
	p = lib_new_page(bus, 4 * KiB, &id);
	lib_poke(p, 100, 0);
	EXPECT_EQ(0, mmsb_commit(bus, id, NULL));
	info = local_info(bus, id);
	EXPECT_EQ(0, info.dirty_chunks);
	EXPECT_EQ(4 * KiB, info.bytes_diffed);
	EXPECT_EQ(0, info.records);
	EXPECT_EQ(0, info.epoch);
	mmsb_bus_close(bus);
}

CAPTURE_TEST(stores_through_every_handle_are_captured)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *a, *b;
	struct lib_stream *ls = malloc(sizeof(*ls));
	const struct mmsb_delta *d;
	__u8 *pa, *pb;
	uint64_t id;

	ASSERT_NE(NULL, ls);
	LOCAL_BUS_OR_SKIP(a, mech, name);
	ASSERT_EQ(0, mmsb_bus_open(&b, name, 0, NULL));
	lib_stream_init(ls, a);
	pa = lib_new_page(a, 8 * KiB, &id);
	ASSERT_EQ(0, mmsb_page_map(b, id, (void **)&pb, NULL));
	local_expect_alloc(lib_next(ls), id, 8 * KiB);
	lib_poke(pa, 1, 1);
	lib_poke(pb, 4 * KiB + 1, 2);
	lib_poke(pb, 2, 3);		/* a chunk already dirty through @pa */
	EXPECT_EQ(3, local_info(a, id).wp_faults);
	EXPECT_EQ(2, local_info(a, id).dirty_chunks);
	ASSERT_EQ(1, mmsb_commit(b, id, NULL));
	d = lib_next(ls);
	ASSERT_EQ(2, d->nr_runs);
	EXPECT_EQ(1, mmsb_record_runs(d)[0].offset);
	EXPECT_EQ(2, mmsb_record_runs(d)[0].len);
	EXPECT_EQ(4 * KiB + 1, mmsb_record_runs(d)[1].offset);
	EXPECT_EQ(2, local_info(a, id).map_count);
	mmsb_bus_close(b);
	EXPECT_EQ(1, local_info(a, id).map_count);
	free(ls);
	mmsb_bus_close(a);
}

CAPTURE_TEST(stores_of_a_mapping_unmapped_before_the_commit_count)
{
	struct mmsb_bus *bus;
	uint64_t id;
	__u8 *p;

	LOCAL_BUS_OR_SKIP(bus, mech, NULL);
	p = lib_new_page(bus, 4 * KiB, &id);
	lib_poke(p, 7, 7);
	ASSERT_EQ(0, mmsb_page_unmap(bus, id));
	EXPECT_EQ(1, local_info(bus, id).dirty_chunks);
	EXPECT_EQ(1, local_info(bus, id).wp_faults);
	EXPECT_EQ(1, mmsb_commit(bus, id, NULL));
	mmsb_bus_close(bus);
}

/*
 * A written chunk dropped from the page table (here by MADV_DONTNEED; under
 * memory pressure by reclaim) keeps its bytes in the memfd: still a store.
 */
CAPTURE_TEST(a_written_chunk_zapped_from_the_page_table_is_captured)
{
	struct mmsb_bus *bus;
	uint64_t id;
	__u8 *p;

	LOCAL_BUS_OR_SKIP(bus, mech, NULL);
	p = lib_new_page(bus, 2 * 4 * KiB, &id);
	lib_poke(p, 4 * KiB + 3, 5);
	ASSERT_EQ(0, madvise(p, 2 * 4 * KiB, MADV_DONTNEED));
	EXPECT_EQ(1, mmsb_commit(bus, id, NULL));
	EXPECT_EQ(5, p[4 * KiB + 3]);
	/* Protected again, faulted back in: the next store counts. */
	lib_poke(p, 4 * KiB + 3, 6);
	EXPECT_EQ(1, mmsb_commit(bus, id, NULL));
	mmsb_bus_close(bus);
}

CAPTURE_TEST(bytes_past_the_size_are_not_captured)
{
	struct mmsb_bus *bus;
	uint64_t id, buf[64];
	const struct mmsb_delta *d = (const void *)buf;
	__u8 *p;

	LOCAL_BUS_OR_SKIP(bus, mech, NULL);
	p = lib_new_page(bus, 5000, &id);
	local_read_alloc(bus, id, 5000);
	lib_poke(p, 6000, 1);
	EXPECT_EQ(0, mmsb_commit(bus, id, NULL));
	lib_poke(p, 4999, 2);
	lib_poke(p, 5000, 2);
	ASSERT_EQ(1, mmsb_commit(bus, id, NULL));
	ASSERT_LT(0, mmsb_read(bus, buf, sizeof(buf)));
	ASSERT_EQ(1, d->nr_runs);
	EXPECT_EQ(4999, mmsb_record_runs(d)[0].offset);
	EXPECT_EQ(1, mmsb_record_runs(d)[0].len);
	mmsb_bus_close(bus);
}

#define RACE_CHUNKS	16
#define RACE_MS		300

struct race {
	__u8 *p;
	unsigned long stores;
	volatile bool done;
};

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Stores a counter into a different byte of every chunk, round after round. */
static void *race_writer(void *arg)
{
	double end = now_ms() + RACE_MS;
	struct race *r = arg;
	unsigned long i;

	for (i = 0; (i & 1023) || now_ms() < end; i++)
		lib_poke(r->p, (i % RACE_CHUNKS) * 4 * KiB + (i / RACE_CHUNKS) % 64,
			 i / RACE_CHUNKS / 64 + 1);
	r->stores = i;
	r->done = true;
	return NULL;
}

/*
 * A reader that applies every record to a shadow copy ends up with the
 * page's bytes: no store fell between two commits.
 */
CAPTURE_TEST(stores_racing_with_commits_are_never_lost)
{
	size_t size = RACE_CHUNKS * 4 * KiB;
	struct mmsb_bus_opts opts = { .ring_size = 16 << 20 };
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus, *reader;
	struct lib_stream *ls = malloc(sizeof(*ls));
	__u8 *shadow = calloc(1, size);
	struct race r = {};
	pthread_t t;
	uint64_t id, last;
	int commits = 0;

	ASSERT_NE(NULL, ls);
	ASSERT_NE(NULL, shadow);
	setenv("MMSB_LOCAL_CAPTURE", mech, 1);
	lib_unique_name(name);
	if (mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE, &opts) == -EOPNOTSUPP)
		SKIP(return, "this kernel has no %s capture", mech);
	ASSERT_EQ(0, mmsb_bus_open(&reader, name, MMSB_OPEN_RDONLY, NULL));
	lib_stream_init(ls, reader);
	r.p = lib_new_page(bus, size, &id);
	local_expect_alloc(lib_next(ls), id, size);
	ASSERT_EQ(0, pthread_create(&t, NULL, race_writer, &r));
	while (!r.done) {
		ASSERT_LE(0, mmsb_commit(bus, id, NULL));
		commits++;
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_LE(0, mmsb_commit(bus, id, NULL));
	last = local_info(bus, id).epoch;
	while (last) {
		const struct mmsb_delta *d = lib_next(ls);

		local_apply(shadow, d);
		if (d->epoch == last)
			break;
	}
	TH_LOG("%d commits raced with %lu stores", commits, r.stores);
	EXPECT_EQ(0, memcmp(shadow, r.p, size));
	free(shadow);
	free(ls);
	mmsb_bus_close(reader);
	mmsb_bus_close(bus);
}

/* In another handle's mapping, as the module zaps every mapping. */
CAPTURE_TEST(touching_a_freed_page_raises_sigbus)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *a, *b;
	uint64_t id;
	int status;
	pid_t pid;
	__u8 *pb;

	LOCAL_BUS_OR_SKIP(a, mech, name);
	ASSERT_EQ(0, mmsb_bus_open(&b, name, 0, NULL));
	lib_new_page(a, 4 * KiB, &id);
	ASSERT_EQ(0, mmsb_page_map(b, id, (void **)&pb, NULL));
	lib_poke(pb, 0, 1);
	ASSERT_EQ(0, mmsb_page_free(a, id));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		lib_poke(pb, 0, 2);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
		TH_LOG("status %#x", status);
	mmsb_bus_close(b);
	mmsb_bus_close(a);
}

/* Whether this process's userfaultfd also takes faults of system calls. */
static bool uffd_takes_kernel_faults(void)
{
	FILE *f = fopen("/proc/sys/vm/unprivileged_userfaultfd", "r");
	int on = 0;

	if (f) {
		if (fscanf(f, "%d", &on) != 1)
			on = 0;
		fclose(f);
	}
	return on || geteuid() == 0;
}

/*
 * read(2) into a clean chunk.  Async capture and a userfaultfd that takes
 * kernel faults capture it; a user-mode-only one and mprotect make the
 * system call fail with EFAULT (Documentation/local-backend.md).
 */
CAPTURE_TEST(a_system_call_that_stores_is_captured_or_fails_efault)
{
	bool captured;
	struct mmsb_bus *bus;
	int fds[2];
	uint64_t id;
	ssize_t n;
	__u8 *p;

	LOCAL_BUS_OR_SKIP(bus, mech, NULL);
	captured = !strcmp(mech, "async") ||
		   (!strcmp(mech, "sync") && uffd_takes_kernel_faults());
	p = lib_new_page(bus, 4 * KiB, &id);
	ASSERT_EQ(0, pipe(fds));
	ASSERT_EQ(4, write(fds[1], "abcd", 4));
	n = read(fds[0], p + 8, 4);
	if (captured) {
		ASSERT_EQ(4, n) TH_LOG("read: %s", strerror(errno));
		EXPECT_EQ(1, mmsb_commit(bus, id, NULL));
		EXPECT_EQ(0, memcmp(p + 8, "abcd", 4));
	} else {
		EXPECT_EQ(-1, n);
		EXPECT_EQ(EFAULT, errno);
		EXPECT_EQ(0, mmsb_commit(bus, id, NULL));
	}
	close(fds[0]);
	close(fds[1]);
	mmsb_bus_close(bus);
}

TEST(an_unknown_mechanism_fails_einval)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;

	setenv("MMSB_LOCAL_CAPTURE", "soft-dirty", 1);
	lib_unique_name(name);
	EXPECT_EQ(-EINVAL, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE, NULL));
}

TEST(auto_picks_a_mechanism_that_works)
{
	struct mmsb_bus *bus;
	uint64_t id;
	__u8 *p;

	bus = local_bus_with("auto", NULL);
	ASSERT_NE(NULL, bus);
	TH_LOG("auto picked %s", local_capture->name);
	p = lib_new_page(bus, 4 * KiB, &id);
	lib_poke(p, 1, 1);
	EXPECT_EQ(1, mmsb_commit(bus, id, NULL));
	mmsb_bus_close(bus);
}

TEST_HARNESS_MAIN
