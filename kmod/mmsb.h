/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interfaces of the MMSB module.
 *
 * Locking order (outermost first):
 *
 *   mmsb_file.read_lock            one reader of a file at a time; held
 *                                  while read(2) copies to and faults in
 *                                  the user buffer
 *   mmsb_file.write_lock           one submitter of a file at a time; held
 *                                  while write(2) copies the user buffer in
 *   mmsb_bus.snapshot_lock         taken shared by whatever changes a live
 *                                  page's bytes, epoch or pre-images
 *                                  (commit, submission, free), exclusive
 *                                  by a snapshot while it copies out, so
 *                                  faulting in the user buffer
 *     mmap_lock or the VMA lock    page faults, and mmap(2) itself
 *     mmsb_buses_lock              the bus list and attach counts; never
 *                                  taken under mmap_lock
 *       mmsb_bus.lock              pages, dirty state, twins, epochs, seq
 *         page lock (lock_page)    held from mkwrite until the PTE is
 *                                  writable, and by commit while it diffs
 *           i_mmap_rwsem, PTL      inside mmsb_wrprotect_range()
 *         mmsb_ring.lock           the delta ring, its positions, and the
 *                                  cursors of the files that read it
 *   mmsb_user_lock                 a leaf: what each user is charged
 *   mmsb_ring.wait lock, then      a ring's wake is forwarded to the
 *   mmsb_file.wait lock            queue of each file that waits on it
 *
 * ->fault takes only the page lock; ->page_mkwrite takes mmsb_bus.lock,
 * then the page lock.  STREAM_INFO takes only mmsb_ring.lock, so it
 * answers while a read(2) of the same file sleeps.  Nothing copies to or
 * from user memory under mmsb_bus.lock or mmsb_ring.lock: a user buffer
 * may itself be an MMSB mapping, whose mkwrite takes mmsb_bus.lock.  The
 * stream copies records out under mmsb_ring.lock with page faults
 * disabled and faults the buffer in after dropping it.
 */
#ifndef MMSB_KMOD_H
#define MMSB_KMOD_H

#include <linux/types.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/wait.h>
#include <linux/xarray.h>
#include <linux/uidgid.h>
#include <linux/mm_types.h>
#include <linux/mmsb.h>

#include "compat.h"

#include "mmsb_delta.h"

struct file;
struct kiocb;
struct iov_iter;
struct poll_table_struct;
struct seq_file;

/* A page may not be larger: its mmap offsets are id << MMSB_OFFSET_SHIFT. */
#define MMSB_OFFSET_SHIFT	18	/* in 4 KiB pages: 1 GiB */
#define MMSB_PAGE_SIZE_LIMIT	(1ULL << (MMSB_OFFSET_SHIFT + PAGE_SHIFT))
#define MMSB_RING_SIZE_MIN	(64U << 10)
#define MMSB_RING_SIZE_MAX	(1U << 30)
#define MMSB_COMMIT_IDS_MAX	65536
#define MMSB_WRITE_MAX		(128U << 20)	/* bytes of one write(2) */
#define MMSB_TWIN_POOL_MAX	1024	/* spare twins a bus keeps */

/* Module parameters (main.c). */
extern unsigned long mmsb_max_page_size;
extern unsigned long mmsb_max_bus_bytes;
extern unsigned long mmsb_max_user_bytes;
extern unsigned int mmsb_default_ring_size;
extern unsigned int mmsb_max_ring_size;

/* Bytes the module holds, exported read-only as a module parameter. */
void mmsb_held_add(s64 bytes);

/* The address_space every MMSB file maps through. */
extern struct address_space *mmsb_mapping;

/* The delta ring of a bus: records back to back, wrapping at @size. */
struct mmsb_ring {
	struct mutex lock;
	u8 *buf;
	u64 size;		/* a power of two */
	u64 head;		/* absolute byte position of the next record */
	u64 tail;		/* absolute position of the oldest record kept */
	u64 head_seq;		/* sequence the next record will carry */
	u64 tail_seq;		/* sequence of the record at @tail */
	wait_queue_head_t wait;	/* readers waiting for @head to move */
};

/* Counters of a page; the bus keeps the same set summed over its pages. */
struct mmsb_counters {
	u64 wp_faults;
	u64 commits;
	u64 bytes_diffed;
	u64 records;
	u64 record_bytes;
};

struct mmsb_bus {
	struct kref ref;		/* one per attached file */
	struct list_head node;		/* on mmsb_buses, under mmsb_buses_lock */
	char name[MMSB_BUS_NAME_MAX];
	u64 id;
	kuid_t uid;
	kgid_t gid;
	umode_t mode;
	kuid_t ring_owner;		/* charged for the ring */

	/*
	 * Held exclusive by a snapshot from the cut to the end of its copy:
	 * until then the pre-image of every chunk stored to after the cut
	 * must stay as it was (snapshot.c).
	 */
	struct rw_semaphore snapshot_lock;
	struct mutex lock;
	struct xarray pages;		/* page id -> struct mmsb_page */
	/*
	 * A direct-mapped cache of @pages, by id, for the lookup every
	 * submitted record makes; a slot is NULL or a live page.  Under @lock.
	 */
	struct mmsb_page *page_cache[64];
	u64 next_page_id;		/* under @lock */
	u64 nr_pages;			/* live ids, under @lock */
	u64 bytes;			/* page memory charged to the bus, under @lock */
	struct list_head dirty;		/* pages with dirty chunks, under @lock */
	struct mmsb_runs runs;		/* commit's scratch, under @lock */
	struct list_head twin_pool;	/* spare twins (page->lru), under @lock */
	unsigned int nr_pooled;		/* pages on @twin_pool */
	struct mmsb_counters stats;	/* under @lock */
	atomic64_t overruns;
	unsigned int attached;		/* under mmsb_buses_lock */

	struct mmsb_ring ring;
};

/*
 * A page of a bus.  "Chunk" is one 4 KiB page of it, the unit of capture.
 * Lives while its id is valid or any VMA maps it; @bus outlives it because
 * every VMA holds its file and every file holds its bus.
 */
struct mmsb_page {
	struct kref ref;		/* the id table's, and one per VMA */
	struct rcu_head rcu;		/* offset lookups run under RCU */
	struct mmsb_bus *bus;
	u64 id;
	u64 size;			/* bytes */
	pgoff_t pgoff;			/* first page offset of its mmap range */
	unsigned long nr;		/* chunks */
	struct page **chunks;
	kuid_t charged_uid;
	atomic_t map_count;

	/* Under bus->lock. */
	bool dead;			/* freed: faults get SIGBUS */
	u64 epoch;
	struct page **twins;		/* pre-image per dirty chunk, or NULL */
	unsigned long *dirty;		/* bitmap of chunks stored to */
	u32 *dirty_idx;			/* the same chunks, in fault order */
	u32 nr_dirty;
	struct list_head dirty_node;	/* on bus->dirty while nr_dirty */
	u64 commit_seq;			/* record of the running commit, or 0 */
	struct mmsb_counters stats;
};

/* Per open file. */
struct mmsb_file {
	struct mmsb_bus *bus;		/* set once by attach, then constant */
	struct mutex write_lock;	/* @wbuf, one submitter at a time */
	void *wbuf;			/* submission staging, @wbuf_size bytes */
	size_t wbuf_size;
	kuid_t wbuf_owner;		/* charged for @wbuf_size */
	struct mutex read_lock;		/* one reader at a time */
	/* Under the ring's lock: */
	u64 cursor;			/* ring position of the next record */
	u64 next_seq;			/* its sequence */
	u64 lost;
	/*
	 * Readers and pollers of this file wait on @wait, which exists from
	 * open on, so that a poll made before attach (an epoll set keeps the
	 * queue it was first given) is woken by the bus's records too:
	 * @ring_wake, on the ring's queue from the first wait on, forwards.
	 */
	wait_queue_head_t wait;
	wait_queue_entry_t ring_wake;
	unsigned long watching;		/* bit 0: @ring_wake is queued */
};

static inline struct mmsb_bus *mmsb_file_bus(struct mmsb_file *mf)
{
	/* Pairs with smp_store_release() in mmsb_stream_attach(). */
	return smp_load_acquire(&mf->bus);
}

/* bus.c */
int mmsb_ctrl_attach(struct file *file, struct mmsb_attach *arg);
void mmsb_bus_detach(struct mmsb_file *mf);
void mmsb_bus_info(struct mmsb_bus *bus, struct mmsb_bus_info *info);
int mmsb_buses_show(struct seq_file *m, void *unused);
void mmsb_bus_count(struct mmsb_bus *bus, struct mmsb_page *pg,
		    const struct mmsb_counters *delta);

/* charge.c */
kuid_t mmsb_charge_owner(void);
int mmsb_user_charge(kuid_t owner, u64 bytes, bool nowait);
void mmsb_user_uncharge(kuid_t owner, u64 bytes);

/* page.c */
int mmsb_ctrl_page_alloc(struct mmsb_bus *bus, struct mmsb_page_alloc *arg);
int mmsb_ctrl_page_free(struct mmsb_bus *bus, struct mmsb_page_free *arg);
int mmsb_ctrl_page_info(struct mmsb_bus *bus, struct mmsb_page_info *arg);
long mmsb_ctrl_page_list(struct mmsb_bus *bus, struct mmsb_page_list *arg);
int mmsb_ctrl_page_restore(struct mmsb_bus *bus, struct mmsb_page_restore *arg);
struct mmsb_page *mmsb_bus_page_by_offset(struct mmsb_bus *bus, pgoff_t pgoff);
void mmsb_page_put(struct mmsb_page *pg);
struct mmsb_page *mmsb_bus_page(struct mmsb_bus *bus, u64 id);
void mmsb_bus_free_pages(struct mmsb_bus *bus);
void mmsb_page_clean(struct mmsb_page *pg, u32 keep);
struct page *mmsb_twin_get(struct mmsb_bus *bus);
void mmsb_twin_put(struct mmsb_bus *bus, struct page *twin);
extern atomic_t mmsb_twin_failures;
void mmsb_bus_free_twins(struct mmsb_bus *bus);

/* fault.c: the file operation that maps a page (compat.h) */
#ifdef MMSB_MMAP_PREPARE
int mmsb_ch_mmap_prepare(struct vm_area_desc *desc);
#else
int mmsb_ch_mmap(struct file *file, struct vm_area_struct *vma);
#endif

/* commit.c */
int mmsb_ctrl_commit(struct mmsb_bus *bus, struct mmsb_commit *arg);
int mmsb_commit_batch(struct mmsb_bus *bus, struct list_head *batch,
		      u64 cause_seq);
/* One record to emit. */
struct mmsb_emit {
	const struct mmsb_run *run;
	u32 nr_runs;
	u64 payload_len;
	/*
	 * What follows the header of a submitted record, already validated:
	 * its runs, payload and zero padding, copied as one block.  NULL
	 * takes the runs from @run and their bytes from the page.
	 */
	const void *body;
	bool lost;		/* known not to fit the ring: emit its OVERRUN */
	u16 flags;
	u32 pid;
	u64 cause_seq;
	u64 timestamp_ns;
};

u64 mmsb_emit(struct mmsb_bus *bus, struct mmsb_page *pg,
	      const struct mmsb_emit *e);

u64 mmsb_emit_page_event(struct mmsb_bus *bus, struct mmsb_page *pg,
			 u16 type, u16 flags);
void mmsb_take_dirty_by_id(struct mmsb_bus *bus, struct list_head *batch);

/* snapshot.c */
long mmsb_ctrl_snapshot(struct mmsb_bus *bus, struct mmsb_snapshot *arg);

/* submit.c */
ssize_t mmsb_ch_write_iter(struct kiocb *iocb, struct iov_iter *from);

/* stream.c */
int mmsb_ring_init(struct mmsb_ring *ring, u64 size);
void mmsb_ring_destroy(struct mmsb_ring *ring);
void mmsb_stream_attach(struct mmsb_file *mf, struct mmsb_bus *bus);
void mmsb_stream_detach(struct mmsb_file *mf, struct mmsb_ring *ring);
int mmsb_stream_forward_wake(struct wait_queue_entry *entry, unsigned int mode,
			     int sync, void *key);
u64 mmsb_ring_reserve(struct mmsb_ring *ring, u64 size);
void mmsb_ring_write(struct mmsb_ring *ring, u64 pos, const void *src, u64 len);
void mmsb_ring_publish(struct mmsb_ring *ring, u64 end);
void mmsb_ring_wake(struct mmsb_ring *ring);
ssize_t mmsb_ch_read(struct file *file, char __user *buf, size_t count,
		     loff_t *ppos);
__poll_t mmsb_ch_poll(struct file *file, struct poll_table_struct *wait);
int mmsb_ctrl_stream_info(struct mmsb_file *mf, struct mmsb_stream_info *arg);

#endif /* MMSB_KMOD_H */
