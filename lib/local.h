/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * Inside the local backend: buses, pages and the delta ring kept in the
 * memory of this process, with the module's semantics
 * (Documentation/local-backend.md).
 *
 * Files: local.c (the registry of buses, attach and detach, the ops
 * table), local_page.c (memfd pages, restore, and their mappings),
 * local_commit.c (capture state, commit, emitting records),
 * local_submit.c (write(2) semantics), local_snapshot.c (snapshots),
 * local_ring.c (the ring and the readers' cursors), local_capture*.c (how
 * first stores are noticed), local_uffd.c (userfaultfd calls shared by two
 * of those).
 *
 * Locking order (outermost first):
 *
 *   registry lock (local.c)   names, every bus's @attached
 *   local_handle.write_lock   the handle's submission buffer
 *   local_handle.read_lock    the handle's stream reader (@bounce)
 *   local_bus.snapshot_lock   shared by commit, submission and free,
 *                             exclusive by a snapshot (local_snapshot.c);
 *                             the fault path never takes it
 *   mappings lock (rwlock)    address -> mapping (local_capture.c); taken
 *                             for reading by the fault path
 *     local_bus.lock          pages, dirty state, twins, epochs, counters
 *       local_ring.lock       the ring, every reader's cursor, eventfds
 *
 * The library never stores into a mapping a handle gave out while it
 * holds a lock the fault path needs: such a store faults, and the fault
 * path needs the mappings lock and the bus lock.  (A snapshot stores into
 * its buffer holding only snapshot_lock, which the fault path does not
 * take.)  So records are copied into the
 * caller's buffer outside the ring lock, out fields are written after
 * unlocking, and the backend reads and writes page bytes through a
 * mapping of its own (local_page.data) that is never write-protected.
 */
#ifndef LIBMMSB_LOCAL_H
#define LIBMMSB_LOCAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"
#include "mmsb_delta.h"

/* The module's defaults (Documentation/uapi.md, "Module parameters"). */
#define LOCAL_MAX_PAGE_SIZE	(1ULL << 30)
#define LOCAL_MAX_BUS_BYTES	(512ULL << 20)
/* The module counts per user; here, per process. */
#define LOCAL_MAX_USER_BYTES	(1ULL << 30)
#define LOCAL_DEFAULT_RING_SIZE	(1U << 20)
#define LOCAL_MIN_RING_SIZE	(64U << 10)
#define LOCAL_MAX_RING_SIZE	(64U << 20)
#define LOCAL_COMMIT_IDS_MAX	65536
#define LOCAL_WRITE_MAX		(128U << 20)
/* mmap offsets are handle << this, as the module's 1 GiB windows. */
#define LOCAL_OFFSET_SHIFT	30

#define LOCAL_CHUNK		MMSB_CHUNK_SIZE

struct local_bus;
struct local_page;

struct local_counters {
	uint64_t wp_faults;
	uint64_t commits;
	uint64_t bytes_diffed;
	uint64_t records;
	uint64_t record_bytes;
};

/* One handle's mapping of a page, as mmsb_page_map() gave it out. */
struct local_map {
	struct local_map *next;		/* on page->maps, under bus->lock */
	struct local_page *page;
	uint8_t *addr;
	size_t len;			/* whole chunks: the page's @nr */
	/*
	 * The page was freed: this range now maps an empty memfd, so that
	 * a touch raises SIGBUS as the module's zapped mappings do.  Under
	 * bus->lock.
	 */
	bool zapped;
};

struct local_page {
	struct local_bus *bus;
	uint64_t id;
	uint64_t size;			/* bytes */
	uint64_t mmap_offset;
	uint32_t nr;			/* chunks */
	int memfd;
	uint8_t *data;			/* the backend's own mapping */
	/*
	 * Pre-images.  With a permanent twin (async capture) the whole twin
	 * is the page as of its last record; otherwise only the chunks in
	 * @dirty are meaningful, copied by their first store.
	 */
	uint8_t *twin;

	/* Under bus->lock. */
	unsigned int refs;		/* the id's, and one per mapping */
	bool in_batch;			/* on the running commit's batch */
	uint64_t epoch;
	uint64_t *dirty;		/* bitmap of chunks stored to */
	uint32_t *dirty_idx;		/* the same chunks, in any order */
	uint32_t nr_dirty;
	uint64_t commit_seq;		/* record of the running commit, or 0 */
	struct local_counters stats;
	struct local_map *maps;		/* every live or zapped mapping */
	unsigned int map_count;		/* live ones */
};

/* The delta ring of a bus: records back to back, wrapping at @size. */
struct local_ring {
	pthread_mutex_t lock;
	pthread_cond_t moved;		/* @head_seq moved */
	uint8_t *buf;
	uint64_t size;			/* a power of two */
	uint64_t head;			/* absolute position of the next record */
	uint64_t tail;			/* absolute position of the oldest one */
	uint64_t head_seq;		/* sequence the next record will carry */
	uint64_t tail_seq;		/* sequence of the record at @tail */
	uint64_t overruns;		/* OVERRUN records delivered */
	struct local_handle *readers;	/* every attached handle */
};

struct local_bus {
	struct local_bus *next;		/* on the registry, under its lock */
	char name[MMSB_BUS_NAME_MAX];
	uint64_t id;
	uid_t uid;
	gid_t gid;
	unsigned int mode;
	unsigned int attached;		/* under the registry lock */

	/*
	 * Held shared by whatever changes a live page's bytes through the
	 * backend's mapping, its epoch or its twin (commit, submission), or
	 * frees it, and exclusive by a snapshot from its cut to the end of
	 * its copy, during which every page's state at the cut must stay
	 * readable (local_snapshot.c).  Stores go on: the fault path does
	 * not take it.  Writers are preferred, or committing threads would
	 * starve a snapshot; so no thread may take it shared twice.
	 */
	pthread_rwlock_t snapshot_lock;
	pthread_mutex_t lock;
	struct local_page **pages;	/* live pages, ascending ids */
	size_t nr_pages;
	size_t pages_cap;
	uint64_t next_page_id;
	uint64_t bytes;			/* whole chunks, freed-but-mapped too */
	struct local_counters stats;
	struct mmsb_runs runs;		/* commit's scratch */

	struct local_ring ring;
};

/* What a struct mmsb_bus of the local backend points to (bus->backend). */
struct local_handle {
	struct local_bus *lbus;
	unsigned int flags;		/* MMSB_OPEN_* */
	unsigned int generation;	/* local_generation when opened */
	/*
	 * An eventfd, nonzero while a record is readable by this handle:
	 * what mmsb_bus_fd() returns for poll(2).
	 */
	int efd;

	pthread_mutex_t read_lock;	/* one reader of the handle at a time */
	uint8_t *bounce;		/* records on their way to the caller */
	size_t bounce_size;

	/* Under ring->lock, and changed only under @read_lock too. */
	uint64_t cursor;		/* ring position of the next record */
	uint64_t next_seq;		/* its sequence */
	uint64_t lost;
	/* Under ring->lock. */
	bool signaled;			/* @efd holds a count */
	struct local_handle *next_reader;

	pthread_mutex_t write_lock;	/* @wbuf */
	void *wbuf;			/* submission staging */
	size_t wbuf_size;
};

/* Bumped in every forked child: handles opened before are not its own. */
extern unsigned int local_generation;

/*
 * The handle behind @bus, or NULL in a forked child, where every
 * operation on a handle of the parent fails with ENOTCONN: as for a file
 * of /dev/mmsb that is not attached, there is no bus behind it.
 */
static inline struct local_handle *local_handle(const struct mmsb_bus *bus)
{
	struct local_handle *h = bus->backend;

	return h->generation == local_generation ? h : NULL;
}

static inline bool local_writable(const struct local_handle *h)
{
	return !(h->flags & MMSB_OPEN_RDONLY);
}

static inline bool local_test_bit(const uint64_t *map, uint32_t bit)
{
	return map[bit / 64] & (1ULL << (bit % 64));
}

/* Bytes of chunk @idx that belong to the page. */
static inline uint32_t local_chunk_len(const struct local_page *pg,
				       uint32_t idx)
{
	uint64_t left = pg->size - (uint64_t)idx * LOCAL_CHUNK;

	return left < LOCAL_CHUNK ? left : LOCAL_CHUNK;
}

/* local.c */
void local_count(struct local_bus *bus, struct local_page *pg,
		 const struct local_counters *delta);
int local_charge(uint64_t bytes);
void local_uncharge(uint64_t bytes);
uint64_t local_next_offset(void);

extern const struct mmsb_backend_ops mmsb_local_ops;

/* local_page.c */
struct local_page *local_page_find(struct local_bus *bus, uint64_t id);
int local_bus_pending_faults(struct local_bus *bus, uint64_t *faults);
void local_page_put(struct local_page *pg);
void local_bus_free_pages(struct local_bus *bus);
int local_page_alloc(struct mmsb_bus *bus, uint64_t size, uint64_t *page_id);
int local_page_free(struct mmsb_bus *bus, uint64_t page_id);
int local_page_restore(struct mmsb_bus *bus, struct mmsb_page_restore *r);
int local_page_info(struct mmsb_bus *bus, struct mmsb_page_info *info);
int local_page_list(struct mmsb_bus *bus, uint64_t after, uint64_t *ids,
		    unsigned int capacity);
int local_page_map(struct mmsb_bus *bus, const struct mmsb_page_info *info,
		   size_t len, void **addr);
void local_page_unmap(struct mmsb_bus *bus, void *addr, size_t len);

/* local_commit.c */
void local_mark_dirty(struct local_page *pg, uint32_t first, uint32_t n);
/*
 * Async capture: makes the chunks written through @m (or every mapping of
 * @pg) dirty, counting their faults, and protects them again; other
 * mechanisms know their dirty chunks already.  Under bus->lock.
 */
void local_collect_map(struct local_map *m);
void local_collect(struct local_page *pg);
size_t local_gather_dirty(struct local_page *const *pages, size_t nr,
			  struct local_page **batch);
int local_commit_batch(struct local_bus *bus, struct local_page **batch,
		       size_t nr, uint64_t cause_seq);

/* One record to emit: its runs, and their bytes or NULL for the page's. */
struct local_emit {
	const struct mmsb_run *run;
	uint32_t nr_runs;
	uint64_t payload_len;
	const uint8_t *payload;
	bool lost;		/* known not to fit the ring: emit its OVERRUN */
	uint16_t flags;
	uint64_t cause_seq;
	uint64_t timestamp_ns;
};

uint64_t local_emit(struct local_bus *bus, struct local_page *pg,
		    const struct local_emit *e);
uint64_t local_emit_page_event(struct local_bus *bus, struct local_page *pg,
			       uint16_t type, uint16_t flags);
uint64_t local_now_ns(void);
int local_commit(struct mmsb_bus *bus, struct mmsb_commit *commit);

/* local_submit.c */
ssize_t local_write(struct mmsb_bus *bus, const void *buf, size_t len);

/* local_snapshot.c */
int local_snapshot(struct mmsb_bus *bus, struct mmsb_snapshot *snap);

/* local_ring.c */
int local_ring_init(struct local_ring *ring, uint64_t size);
void local_ring_destroy(struct local_ring *ring);
void local_ring_attach(struct local_ring *ring, struct local_handle *h);
void local_ring_detach(struct local_ring *ring, struct local_handle *h);
uint64_t local_ring_reserve(struct local_ring *ring, uint64_t size);
void local_ring_write(struct local_ring *ring, uint64_t pos, const void *src,
		      uint64_t len);
void local_ring_copy_out(const struct local_ring *ring, uint64_t pos,
			 void *dst, uint64_t len);
void local_ring_publish(struct local_ring *ring, uint64_t end);
void local_ring_wake(struct local_ring *ring);
ssize_t local_read(struct mmsb_bus *bus, void *buf, size_t len);
ssize_t local_next_record_size(struct mmsb_bus *bus);

#endif /* LIBMMSB_LOCAL_H */
