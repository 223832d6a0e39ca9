/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * libmmsb: the C API of the Memory-Mapped State Bus.
 *
 * A struct mmsb_bus is one attachment to a named bus: an open file of
 * /dev/mmsb, or, with the local backend, a bus inside this process
 * (Documentation/local-backend.md).  Pages are allocated and mapped through
 * it; plain stores into a mapping become delta records at the next commit;
 * every attachment reads the bus's records from its own cursor and may
 * submit records too.
 *
 * Conventions, as liburing's: functions return 0 or a count on success and
 * a negative errno on failure, never -1 with errno set; mmsb_strerror()
 * names an error.  Handles are opaque.  The only global state is the local
 * backend's registry of in-process buses by name, which is what lets two
 * threads attach to one local bus.  A handle may be used by several threads
 * at once except where a function says otherwise.  The record format is the kernel's (struct mmsb_delta in
 * <linux/mmsb.h>; Documentation/delta-format.md).
 */
#ifndef LIBMMSB_H
#define LIBMMSB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/mmsb.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mmsb_bus;
struct mmsb_batch;

/* mmsb_bus_open() flags */
#define MMSB_OPEN_CREATE	(1U << 0)	/* create the bus if missing */
#define MMSB_OPEN_EXCL		(1U << 1)	/* with CREATE: fail if it exists */
#define MMSB_OPEN_RDONLY	(1U << 2)	/* read the stream only */
#define MMSB_OPEN_NONBLOCK	(1U << 3)	/* mmsb_read() never blocks */
/*
 * Which backend serves the handle.  Without either flag: $MMSB_BACKEND
 * ("device" or "local") if set, else /dev/mmsb, or the local backend when
 * /dev/mmsb is absent (ENOENT, ENODEV, ENXIO).  A bus lives in one backend:
 * handles of different backends never see each other's buses.
 */
#define MMSB_OPEN_DEVICE	(1U << 4)	/* /dev/mmsb; fail if absent */
/*
 * The local backend: the same API and records without the module, on any
 * Linux.  Its buses live inside this process: threads share them, other
 * processes (forked children included) do not (Documentation/local-backend.md).
 */
#define MMSB_OPEN_LOCAL		(1U << 5)

struct mmsb_bus_opts {
	unsigned int mode;		/* permission bits on create; 0: 0600 */
	unsigned int ring_size;		/* delta ring bytes on create; 0: default */
	const char *device;		/* device path; NULL: /dev/mmsb */
	unsigned long pad[5];		/* zero */
};

/*
 * Attaches to the bus @name (1 to 63 of [A-Za-z0-9._-]).  @opts may be
 * NULL.  Returns 0 and stores the handle in *@busp.
 */
int mmsb_bus_open(struct mmsb_bus **busp, const char *name, unsigned int flags,
		  const struct mmsb_bus_opts *opts);

/* Detaches: unmaps every page this handle mapped and frees the handle. */
void mmsb_bus_close(struct mmsb_bus *bus);

/* The file descriptor to poll for POLLIN when records are readable. */
int mmsb_bus_fd(const struct mmsb_bus *bus);

/* The backend that serves the handle: "device" or "local". */
const char *mmsb_bus_backend(const struct mmsb_bus *bus);

int mmsb_bus_info(struct mmsb_bus *bus, struct mmsb_bus_info *info);

/* Allocates a zero-filled page of @size bytes; stores its id in *@page_id. */
int mmsb_page_alloc(struct mmsb_bus *bus, uint64_t size, uint64_t *page_id);

/* Frees a page; this handle's mapping of it is unmapped first. */
int mmsb_page_free(struct mmsb_bus *bus, uint64_t page_id);

/*
 * Maps the whole page, shared and writable, once per handle: later calls
 * return the same address.  Stores to it are captured.  *@size receives
 * the page's size in bytes (the mapping is rounded up to 4 KiB).
 */
int mmsb_page_map(struct mmsb_bus *bus, uint64_t page_id, void **addr,
		  size_t *size);

/* Unmaps this handle's mapping of the page. */
int mmsb_page_unmap(struct mmsb_bus *bus, uint64_t page_id);

int mmsb_page_info(struct mmsb_bus *bus, uint64_t page_id,
		   struct mmsb_page_info *info);

/*
 * Stores up to @capacity ids of live pages greater than @after, ascending,
 * in @ids.  Returns how many.
 */
int mmsb_page_list(struct mmsb_bus *bus, uint64_t after, uint64_t *ids,
		   unsigned int capacity);

/*
 * Commits the captured stores of one page.  Returns 1 and stores the
 * record's sequence in *@seq (may be NULL) if the page changed, else 0.
 */
int mmsb_commit(struct mmsb_bus *bus, uint64_t page_id, uint64_t *seq);

/*
 * Commits @nr pages at one consistent cut; @seqs (may be NULL) receives
 * each page's record sequence or 0; every record carries @cause_seq.
 * Returns the number of records.
 */
int mmsb_commit_many(struct mmsb_bus *bus, const uint64_t *ids,
		     unsigned int nr, uint64_t *seqs, uint64_t cause_seq);

/*
 * Commits every dirty page of the bus.  Returns the number of records;
 * *@first_seq (may be NULL) receives the first one's sequence.
 */
int mmsb_commit_all(struct mmsb_bus *bus, uint64_t cause_seq,
		    uint64_t *first_seq);

/*
 * The pages of a bus as they were just after record @seq, taken by
 * mmsb_snapshot() in one allocation; free it with mmsb_snap_free().
 */
struct mmsb_snap {
	uint64_t seq;			/* last record included, 0 if none */
	uint64_t bus_id;		/* the bus's id (BUS_INFO), 0 if unknown */
	unsigned int nr_pages;
	struct mmsb_snapshot_page *pages; /* id, size, epoch, offset in @bytes */
	void *bytes;			/* page i at bytes + pages[i].offset */
	size_t bytes_len;
};

/*
 * Takes the bytes and epochs of the pages @ids (or, with @nr_ids 0, of
 * every page, ascending) at one sequence, while others go on storing and
 * committing; their uncommitted stores are committed first.  The records
 * after (*@snap)->seq, applied to it, give every later state.
 */
int mmsb_snapshot(struct mmsb_bus *bus, const uint64_t *ids,
		  unsigned int nr_ids, struct mmsb_snap **snap);

void mmsb_snap_free(struct mmsb_snap *snap);

/*
 * Creates page @page_id of @size bytes at @epoch holding @data (NULL: zero
 * filled), as it was in a snapshot; only the bus's owner may, and only
 * with an id above every id the bus has used (else -EEXIST) and below
 * UINT64_MAX (else -EINVAL).
 */
int mmsb_page_restore(struct mmsb_bus *bus, uint64_t page_id, uint64_t size,
		      uint64_t epoch, const void *data);

/*
 * Writes @snap to @fd in one pass, no seek (a pipe will do), in the format
 * of Documentation/snapshot-format.md, pages by ascending id.  -EINVAL: a
 * page id is 0 or repeated, a size is 0, or bytes lie outside the buffer.
 */
int mmsb_snap_save(const struct mmsb_snap *snap, int fd);

/*
 * Reads a snapshot that mmsb_snap_save() wrote, and nothing after it.
 * -EBADMSG: not a snapshot, or damaged or cut short; -EPROTONOSUPPORT: a
 * format version this library does not read.  *@snap is always set, to
 * be freed with mmsb_snap_free(): NULL on failure, except that a damaged
 * page leaves the pages before it, (*@snap)->nr_pages of them, and in
 * pages[nr_pages] what is known of the damaged one (page_id 0 if its
 * entry itself is unreadable).
 */
int mmsb_snap_load(int fd, struct mmsb_snap **snap);

/*
 * Restores every page of @snap with mmsb_page_restore(), by ascending id,
 * stopping at the first failure (the pages before it stay).
 */
int mmsb_snap_restore(struct mmsb_bus *bus, const struct mmsb_snap *snap);

/*
 * Reads whole records into @buf.  Blocks until one is readable unless the
 * bus was opened MMSB_OPEN_NONBLOCK (then -EAGAIN).  -EMSGSIZE: @len is too
 * small for the next record (mmsb_next_record_size() tells its size).
 * Returns the bytes read.
 */
ssize_t mmsb_read(struct mmsb_bus *bus, void *buf, size_t len);

/* Size of the next record to read, 0 if none is readable yet. */
ssize_t mmsb_next_record_size(struct mmsb_bus *bus);

/*
 * Walks the records in a buffer filled by mmsb_read() without copying.
 * Each record is validated; a malformed one ends the walk with its error.
 */
struct mmsb_record_iter {
	const unsigned char *next;
	const unsigned char *end;
};

static inline void mmsb_record_iter_init(struct mmsb_record_iter *it,
					 const void *buf, size_t len)
{
	it->next = (const unsigned char *)buf;
	it->end = it->next + len;
}

/* Returns 1 and the record in *@rec, 0 at the end, or a negative errno. */
int mmsb_record_next(struct mmsb_record_iter *it, const struct mmsb_delta **rec);

static inline const struct mmsb_run *mmsb_record_runs(const struct mmsb_delta *d)
{
	return (const struct mmsb_run *)(d + 1);
}

static inline const unsigned char *mmsb_record_payload(const struct mmsb_delta *d)
{
	return (const unsigned char *)(mmsb_record_runs(d) + d->nr_runs);
}

/*
 * Merges two DELTA records of one page, @newer based on @older's epoch,
 * into one record at @buf (@cap bytes, 8-byte aligned, overlapping
 * neither): applied to the page at @older's base epoch it gives what
 * applying both does.  Its runs are the union of theirs, with @newer's
 * bytes where both have some; its header is @newer's, except base_epoch
 * (@older's) and flags (both records' ORed).  @older->size + @newer->size
 * bytes are always enough.  Returns the record's size, or -EINVAL (not two
 * consecutive well-formed DELTA records of one page, or a misaligned
 * pointer), -ENOSPC (@cap too small), -EOVERFLOW (over 4 GiB); on error
 * @buf is left as it was.
 */
ssize_t mmsb_delta_merge(void *buf, size_t cap, const struct mmsb_delta *older,
			 const struct mmsb_delta *newer);

/*
 * Submits one record (struct mmsb_delta, runs, payload, padding: its
 * ->size bytes).  Returns 0, or why it was refused: -ESTALE when
 * MMSB_DELTA_CHECK_BASE is set and the page is at another epoch, -ENOENT
 * for an unknown page, -EINVAL/-ERANGE/-EMSGSIZE/-EOVERFLOW for a
 * malformed record.
 */
int mmsb_submit(struct mmsb_bus *bus, const struct mmsb_delta *rec);

/*
 * Batched submission through io_uring: records are packed into buffers of
 * @buf_size bytes, each buffer one write, up to @depth in flight.  A batch
 * belongs to one thread at a time.
 */
int mmsb_batch_open(struct mmsb_bus *bus, unsigned int depth, size_t buf_size,
		    struct mmsb_batch **batchp);

/*
 * Queues a copy of @rec.  Submits full buffers as it goes.  Returns 0, or
 * the first error of a completed buffer (see mmsb_batch_flush()).
 */
int mmsb_batch_add(struct mmsb_batch *batch, const struct mmsb_delta *rec);

/*
 * Submits what is queued and waits for every buffer.  Returns the number
 * of records applied since the last flush; if a record was refused,
 * returns its negative errno instead, and *@applied (may be NULL) gets
 * the count applied.  Records after a refused one in the same buffer are
 * not applied.
 */
int mmsb_batch_flush(struct mmsb_batch *batch, unsigned long *applied);

void mmsb_batch_close(struct mmsb_batch *batch);

/* The name of error @err (negative errno or library error). */
const char *mmsb_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* LIBMMSB_H */
