/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * MMSB: the Memory-Mapped State Bus.
 *
 * A file opened on /dev/mmsb attaches to one named bus.  Pages of a bus are
 * allocated with MMSB_IOC_PAGE_ALLOC and mapped with mmap(MAP_SHARED) at the
 * offset that ioctl returns.  Plain stores into a mapping are captured: the
 * first store to each 4 KiB page after a commit traps once, and
 * MMSB_IOC_COMMIT turns every captured change into a delta record
 * (struct mmsb_delta) with a new page epoch and a bus-wide sequence number.
 * Every attached file reads the records of its bus with read(2).
 *
 * Every ioctl argument is extensible by size, as openat2(2) is: the size is
 * the one encoded in the ioctl number.  A caller built against an older,
 * shorter struct gets the missing tail zero-filled; a newer, longer struct is
 * accepted only if the bytes the kernel does not know are zero (else E2BIG).
 * Fields marked "in" are read, "out" are written by the kernel; reserved and
 * pad fields must be zero on input and are zeroed on output.  A struct
 * shorter than 8 bytes is refused with EINVAL.  Unless a command says
 * otherwise, it returns 0.
 */
#ifndef _UAPI_LINUX_MMSB_H
#define _UAPI_LINUX_MMSB_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define MMSB_API_VERSION	1

/* Largest bus name, including its terminating NUL. */
#define MMSB_BUS_NAME_MAX	64

/*
 * Capture works in units of this many bytes, whatever the CPU's page size
 * (the module requires PAGE_SIZE == MMSB_CHUNK_SIZE).
 */
#define MMSB_CHUNK_SIZE		4096

#define MMSB_IOC_MAGIC		0xB8

/*
 * MMSB_IOC_VERSION: which API and features this module speaks.  Needs no
 * attached bus.
 */
struct mmsb_version {
	__u64 api;		/* out: MMSB_API_VERSION */
	__u64 features;		/* out: MMSB_FEAT_* the module supports */
	__u64 max_page_size;	/* out: bytes, largest MMSB_IOC_PAGE_ALLOC */
	__u64 max_ring_size;	/* out: bytes, largest mmsb_attach.ring_size */
};

/* Stores through mappings are captured into deltas (MMSB_IOC_COMMIT). */
#define MMSB_FEAT_CAPTURE	(1ULL << 0)
/* read(2) returns the delta stream of the attached bus. */
#define MMSB_FEAT_STREAM	(1ULL << 1)
/*
 * write(2), and IORING_OP_WRITE inline, apply delta records to pages
 * (Documentation/uapi.md, "Submission").
 */
#define MMSB_FEAT_SUBMIT	(1ULL << 2)
/*
 * The stream carries MMSB_REC_PAGE_ALLOC and MMSB_REC_PAGE_FREE records,
 * and MMSB_IOC_SNAPSHOT and MMSB_IOC_PAGE_RESTORE exist.
 */
#define MMSB_FEAT_SNAPSHOT	(1ULL << 3)

/* mmsb_attach.flags */
/* Create the bus if no bus of that name exists. */
#define MMSB_ATTACH_CREATE	(1ULL << 0)
/* With MMSB_ATTACH_CREATE: fail with EEXIST if the bus exists. */
#define MMSB_ATTACH_EXCL	(1ULL << 1)
#define MMSB_ATTACH_ALL		(MMSB_ATTACH_CREATE | MMSB_ATTACH_EXCL)

/*
 * MMSB_IOC_ATTACH: attach this file to the bus called @name, once per file.
 * A bus lives while any file is attached to it (mappings keep their file
 * open); its pages go with it.  The creator's fsuid/fsgid own the bus and
 * @mode decides who else may attach, as for POSIX shared memory: read
 * permission is needed to attach at all, write permission to attach a file
 * opened O_RDWR.
 */
struct mmsb_attach {
	char name[MMSB_BUS_NAME_MAX];	/* in: [A-Za-z0-9._-]+, NUL-terminated */
	__u64 flags;		/* in: MMSB_ATTACH_* */
	__u32 mode;		/* in: permission bits on create, within 0777 */
	__u32 ring_size;	/* in: delta ring bytes on create, 0 for the
				 * default; a power of two within module limits */
	__u64 bus_id;		/* out: module-wide id of the bus */
	__u32 created;		/* out: 1 if this call created the bus */
	__u32 pad;
};

/*
 * MMSB_IOC_PAGE_ALLOC: allocate a zero-filled page of @size bytes, backed by
 * whole 4 KiB pages.  Map it with mmap(NULL, len, PROT_READ | PROT_WRITE,
 * MAP_SHARED, fd, mmap_offset + off), len + off at most the size rounded up
 * to 4 KiB.
 */
struct mmsb_page_alloc {
	__u64 size;		/* in: bytes, 1 to mmsb_version.max_page_size */
	__u64 flags;		/* in: none defined yet, must be 0 */
	__u64 page_id;		/* out: id within the bus, never 0, never reused
				 * while the bus lives */
	__u64 mmap_offset;	/* out: offset for mmap(2) */
};

/*
 * MMSB_IOC_PAGE_FREE: free a page.  Its id is invalid at once; existing
 * mappings are zapped and touching them raises SIGBUS; the memory is
 * released when the last mapping goes.  Uncommitted stores are discarded.
 */
struct mmsb_page_free {
	__u64 page_id;		/* in */
	__u64 flags;		/* in: none defined yet, must be 0 */
};

/*
 * MMSB_IOC_PAGE_RESTORE: create a page with a chosen id, epoch and bytes,
 * as it was on another bus (a snapshot), so that later records of that bus
 * apply with their epochs.  Only the bus's owner may restore.  The page is
 * otherwise like an allocated one, and its MMSB_REC_PAGE_ALLOC record is
 * flagged MMSB_DELTA_RESTORED.
 */
struct mmsb_page_restore {
	__u64 page_id;		/* in: above every id the bus has used */
	__u64 size;		/* in: bytes, as for MMSB_IOC_PAGE_ALLOC */
	__u64 epoch;		/* in: the page's epoch */
	__u64 data;		/* in: user pointer to @size bytes, or 0 for a
				 * zero-filled page */
	__u64 flags;		/* in: none defined yet, must be 0 */
	__u64 mmap_offset;	/* out: offset for mmap(2) */
};

/* MMSB_IOC_PAGE_INFO: the state and counters of one page. */
struct mmsb_page_info {
	__u64 page_id;		/* in */
	__u64 size;		/* out: bytes */
	__u64 mmap_offset;	/* out */
	__u64 epoch;		/* out: +1 per delta, 0 when allocated */
	__u64 map_count;	/* out: mappings (VMAs) of this page */
	__u64 dirty_chunks;	/* out: 4 KiB pages stored to since the last commit */
	__u64 wp_faults;	/* out: write-protect faults taken (first stores) */
	__u64 commits;		/* out: commits that emitted a delta of this page */
	__u64 bytes_diffed;	/* out: bytes compared by commits */
	__u64 records;		/* out: delta records emitted */
	__u64 record_bytes;	/* out: bytes of those records */
};

/*
 * MMSB_IOC_PAGE_LIST: ids of the live pages of the bus, ascending, starting
 * after @after.  Returns and stores in @nr_out how many ids were written:
 * @capacity, unless fewer ids follow @after.
 */
struct mmsb_page_list {
	__u64 ids;		/* in: user pointer to __u64[@capacity] */
	__u32 capacity;		/* in */
	__u32 nr_out;		/* out: ids written */
	__u64 after;		/* in: 0 to start from the first page */
	__u64 total;		/* out: live pages in the bus */
};

/* mmsb_commit.flags */
/* Commit every dirty page of the bus; @ids, @nr_ids and @seqs must be 0. */
#define MMSB_COMMIT_ALL		(1ULL << 0)
#define MMSB_COMMIT_FLAGS_ALL	MMSB_COMMIT_ALL

/*
 * MMSB_IOC_COMMIT: turn the captured stores of some pages into delta
 * records.  Every dirty 4 KiB page of every listed page is write-protected
 * in every mapping before any of them is diffed, so one commit is a
 * consistent cut.  A page whose bytes did not change emits nothing.
 * Without MMSB_COMMIT_ALL, @nr_ids is 1 to 65536.  Returns @nr_records.
 */
struct mmsb_commit {
	__u64 ids;		/* in: user pointer to __u64[@nr_ids] page ids */
	__u32 nr_ids;		/* in */
	__u32 nr_records;	/* out: delta records emitted */
	__u64 flags;		/* in: MMSB_COMMIT_* */
	__u64 seqs;		/* in: 0, or user pointer to __u64[@nr_ids]
				 * receiving each page's record sequence
				 * number, 0 where the page emitted nothing */
	__u64 first_seq;	/* out: sequence of the first record, 0 if none */
	__u64 last_seq;		/* out: sequence of the last record, 0 if none */
	__u64 cause_seq;	/* in: stored as the records' cause_seq: the
				 * record whose arrival made the caller write
				 * these stores, or 0 */
};

/* MMSB_IOC_BUS_INFO: the attached bus's state and counters. */
struct mmsb_bus_info {
	__u64 bus_id;		/* out */
	__u64 last_seq;		/* out: sequence of the newest record, 0 if none */
	__u64 nr_pages;		/* out */
	__u64 bytes;		/* out: bytes of pages, in whole 4 KiB pages */
	__u64 ring_size;	/* out: bytes */
	__u64 wp_faults;	/* out: the sums over the bus's pages, past */
	__u64 commits;		/*      and present, of the page counters */
	__u64 bytes_diffed;
	__u64 records;
	__u64 record_bytes;
	__u64 overruns;		/* out: overrun records delivered to readers */
	__u32 attached;		/* out: files attached */
	__u32 pad;
};

/*
 * MMSB_IOC_STREAM_INFO: where this file's reader stands.  @next_size tells
 * how big a buffer read(2) needs for the next record.
 */
struct mmsb_stream_info {
	__u64 next_seq;		/* out: sequence of the next record but OVERRUN */
	__u64 next_size;	/* out: bytes of the next record, 0 if none yet */
	__u64 pending_bytes;	/* out: bytes readable now without blocking */
	__u64 lost;		/* out: records this reader lost so far */
};

/* mmsb_snapshot.flags */
/* Every live page of the bus, by ascending id: @pages' ids are out. */
#define MMSB_SNAPSHOT_ALL	(1ULL << 0)
#define MMSB_SNAPSHOT_FLAGS_ALL	MMSB_SNAPSHOT_ALL

/* One page of a snapshot. */
struct mmsb_snapshot_page {
	__u64 page_id;		/* in, or out with MMSB_SNAPSHOT_ALL */
	__u64 size;		/* out: bytes */
	__u64 epoch;		/* out: the page's epoch as of mmsb_snapshot.seq */
	__u64 offset;		/* out: where its bytes start in mmsb_snapshot.buf */
};

/*
 * MMSB_IOC_SNAPSHOT: the bytes and epochs of some or all pages of the bus
 * as they were just after record @seq, while other files go on storing and
 * committing.  Uncommitted stores to those pages are committed first.  The
 * bytes of the pages go to @buf back to back, each page at an 8-byte
 * aligned offset.  Returns @nr_out.
 */
struct mmsb_snapshot {
	__u64 pages;		/* in: user pointer to
				 * struct mmsb_snapshot_page[@nr_pages] */
	__u32 nr_pages;		/* in: pages named, or room for them with
				 * MMSB_SNAPSHOT_ALL */
	__u32 nr_out;		/* out: pages taken */
	__u64 flags;		/* in: MMSB_SNAPSHOT_* */
	__u64 buf;		/* in: user pointer for the pages' bytes */
	__u64 buf_len;		/* in: bytes at @buf */
	__u64 bytes_out;	/* out: bytes of @buf used, padding included */
	__u64 seq;		/* out: the last record the snapshot includes,
				 * 0 if the bus has none */
};

#define MMSB_IOC_VERSION	_IOR(MMSB_IOC_MAGIC, 0x00, struct mmsb_version)
#define MMSB_IOC_ATTACH		_IOWR(MMSB_IOC_MAGIC, 0x01, struct mmsb_attach)
#define MMSB_IOC_BUS_INFO	_IOR(MMSB_IOC_MAGIC, 0x02, struct mmsb_bus_info)
#define MMSB_IOC_PAGE_ALLOC	_IOWR(MMSB_IOC_MAGIC, 0x10, struct mmsb_page_alloc)
#define MMSB_IOC_PAGE_FREE	_IOW(MMSB_IOC_MAGIC, 0x11, struct mmsb_page_free)
#define MMSB_IOC_PAGE_INFO	_IOWR(MMSB_IOC_MAGIC, 0x12, struct mmsb_page_info)
#define MMSB_IOC_PAGE_LIST	_IOWR(MMSB_IOC_MAGIC, 0x13, struct mmsb_page_list)
#define MMSB_IOC_PAGE_RESTORE	_IOWR(MMSB_IOC_MAGIC, 0x14, struct mmsb_page_restore)
#define MMSB_IOC_COMMIT		_IOWR(MMSB_IOC_MAGIC, 0x20, struct mmsb_commit)
#define MMSB_IOC_STREAM_INFO	_IOR(MMSB_IOC_MAGIC, 0x30, struct mmsb_stream_info)
#define MMSB_IOC_SNAPSHOT	_IOWR(MMSB_IOC_MAGIC, 0x40, struct mmsb_snapshot)

/*
 * Delta records.
 *
 * A record is a struct mmsb_delta, then @nr_runs struct mmsb_run sorted by
 * offset and neither overlapping nor touching, then the runs' new bytes
 * back to back (@payload_len bytes in all), then zero padding up to @size,
 * a multiple of 8.  The stream, submission and the log share this format.
 * Every record, of any type, starts with @size and @type: a reader skips
 * @size bytes of a type it does not know.
 */
enum mmsb_record_type {
	/* Starts above zero so that zeroed memory is never a valid record. */
	MMSB_REC_DELTA = 1,
	/*
	 * This reader fell behind and @lost records, sequences @seq to
	 * @seq + @lost - 1, were overwritten before it read them.  Or, with
	 * @lost 1, the delta of @page_id from @base_epoch, sequence @seq, was
	 * larger than the ring and lost for every reader.  No runs.
	 */
	MMSB_REC_OVERRUN = 2,
	/*
	 * Page @page_id came to be, @page_size bytes at epoch @epoch:
	 * allocated, zero-filled at epoch 0, or restored (flagged
	 * MMSB_DELTA_RESTORED) with the bytes and epoch it was given.  No runs.
	 */
	MMSB_REC_PAGE_ALLOC = 3,
	/* Page @page_id, @page_size bytes, was freed at epoch @epoch.  No runs. */
	MMSB_REC_PAGE_FREE = 4,
};

/* mmsb_delta.flags */
/* Produced by MMSB_IOC_COMMIT from stores captured in mappings. */
#define MMSB_DELTA_CAPTURED	(1U << 0)
/* Submitted as a record by write(2). */
#define MMSB_DELTA_SUBMITTED	(1U << 1)
/*
 * Some 4 KiB pages are covered whole, changed or not: they had no
 * pre-image (memory was short when they were first stored to), or their
 * own runs would have taken more room than their bytes.
 */
#define MMSB_DELTA_FULL		(1U << 2)
/* On submission: refuse with ESTALE unless the page's epoch is @base_epoch. */
#define MMSB_DELTA_CHECK_BASE	(1U << 3)
/* A PAGE_ALLOC record made by MMSB_IOC_PAGE_RESTORE. */
#define MMSB_DELTA_RESTORED	(1U << 4)
#define MMSB_DELTA_FLAGS_ALL	(MMSB_DELTA_CAPTURED | MMSB_DELTA_SUBMITTED | \
				 MMSB_DELTA_FULL | MMSB_DELTA_CHECK_BASE | \
				 MMSB_DELTA_RESTORED)

struct mmsb_delta {
	__u32 size;		/* bytes of the whole record, a multiple of 8 */
	__u16 type;		/* enum mmsb_record_type */
	__u16 flags;		/* MMSB_DELTA_* */
	__u32 nr_runs;
	__u32 pid;		/* tgid of the process that committed or submitted */
	__u64 seq;		/* bus-wide sequence, from 1, no gaps */
	__u64 page_id;
	union {
		__u64 epoch;	/* DELTA: the page's epoch after this delta;
				 * PAGE_ALLOC, PAGE_FREE: the page's epoch */
		__u64 lost;	/* OVERRUN: records lost */
	};
	union {
		__u64 base_epoch; /* DELTA: the page's epoch before it */
		__u64 page_size;  /* PAGE_ALLOC, PAGE_FREE: the page's bytes */
	};
	__u64 timestamp_ns;	/* CLOCK_REALTIME when the record was made */
	__u64 cause_seq;	/* the record that caused this one, 0 if none */
	__u64 payload_len;	/* bytes of run data after the run table */
};

struct mmsb_run {
	__u32 offset;		/* bytes from the start of the page */
	__u32 len;		/* bytes, at least 1 */
};

#define MMSB_DELTA_ALIGN	8

#endif /* _UAPI_LINUX_MMSB_H */
