/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * How the local backend notices stores: one mechanism per process, the
 * best the running kernel offers, unless $MMSB_LOCAL_CAPTURE names one.
 *
 *   async     userfaultfd write-protect with UFFD_FEATURE_WP_ASYNC: the
 *             kernel resolves the faults itself, and a commit finds the
 *             written chunks and protects them again in one PAGEMAP_SCAN
 *             (Linux 6.7+).  Needs a permanent twin of every page.
 *   sync      userfaultfd write-protect: a handler thread takes each first
 *             store, copies the chunk's twin and unprotects it.
 *   mprotect  PROT_READ mappings and a SIGSEGV handler that does the same.
 *
 * The interface is what commit, map and unmap need: protect a mapping,
 * protect chunks again, and (async only) ask which chunks were written.
 */
#ifndef LIBMMSB_LOCAL_CAPTURE_H
#define LIBMMSB_LOCAL_CAPTURE_H

#include "local.h"

/* Reports chunks [@first, @first + @n) of @m as written. */
typedef void local_scan_fn(struct local_map *m, uint32_t first, uint32_t n,
			   void *arg);

struct local_capture_ops {
	const char *name;		/* as $MMSB_LOCAL_CAPTURE spells it */
	/*
	 * Process-wide setup; -EOPNOTSUPP (or another -errno) if this
	 * kernel or this process cannot use the mechanism.
	 */
	int (*init)(void);
	/* In a forked child: drop what belonged to the parent. */
	void (*forget)(void);
	/* Write-protects the whole of a new mapping, before anyone sees it. */
	int (*attach)(struct local_map *m);
	/*
	 * Write-protects chunks [@first, @first + @n) of @m again: the
	 * commit's freeze.  Under bus->lock.
	 */
	int (*protect)(struct local_map *m, uint32_t first, uint32_t n);
	/*
	 * Async only (NULL otherwise, where the fault path marks chunks dirty
	 * itself): reports the chunks written through @m since they were
	 * protected and, with @rearm, protects them again in the same step.
	 * Under bus->lock.
	 */
	int (*scan)(struct local_map *m, bool rearm, local_scan_fn *found,
		    void *arg);
	/* The twin always holds the page as of its last record. */
	bool permanent_twin;
};

extern const struct local_capture_ops local_capture_async;
extern const struct local_capture_ops local_capture_sync;
extern const struct local_capture_ops local_capture_mprotect;

/* The mechanism in use; set by local_capture_init(). */
extern const struct local_capture_ops *local_capture;

/* Picks and sets up the mechanism, once; under the registry lock. */
int local_capture_init(void);
/* In a forked child, under no lock: back to no mechanism, no mappings. */
void local_capture_forget(void);

/*
 * Every handle mapping of the process by address, so that a fault can be
 * routed to its page.  The fault path reads it; map and unmap write it.
 */
void local_maps_read_lock(void);
void local_maps_write_lock(void);
void local_maps_unlock(void);
int local_maps_insert(struct local_map *m);
void local_maps_remove(struct local_map *m);
struct local_map *local_maps_find(const void *addr);
struct local_map *local_maps_first(void);

/*
 * The first store to a protected chunk at @addr (sync and mprotect): keeps
 * the chunk's pre-image unless it is dirty already, counts the fault and
 * calls @unprotect to let the store through.  Returns 0, or -ENOENT if
 * @addr is in no live mapping of the backend.
 */
int local_capture_fault(const void *addr,
			int (*unprotect)(struct local_map *m, uint32_t idx));

#endif /* LIBMMSB_LOCAL_CAPTURE_H */
