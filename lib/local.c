// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The local backend: the registry of buses by name, attaching and
 * detaching handles, and the ops table (lib/backend.h).
 *
 * The registry is the backend's one piece of global state, and it must be
 * global: a bus is found by name, and names are what separate handles of
 * one process share, as /dev/mmsb's are what processes share.  Besides the
 * names it holds what belongs to the process as a whole: the bytes
 * charged against max_user_bytes (per process here, per user in the
 * module), the counter behind unique mmap offsets, and (local_capture.c)
 * the capture mechanism and the mappings by address its fault path needs.
 *
 * A forked child starts with an empty registry: the buses it inherited
 * belong to its parent, and their locks may have been held by threads
 * that did not come along.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "local_capture.h"

static struct {
	pthread_mutex_t lock;		/* @buses, every bus's @attached */
	struct local_bus *buses;
	uint64_t next_bus_id;		/* under @lock */
	uint64_t next_offset;		/* atomic */
	uint64_t bytes;			/* atomic: pages of all buses */
} registry = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.next_bus_id = 1,
	.next_offset = 1,
};

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
unsigned int local_generation;

static void local_forget_parent(void)
{
	local_generation++;
	pthread_mutex_init(&registry.lock, NULL);
	registry.buses = NULL;
	registry.bytes = 0;
	local_capture_forget();
}

static void local_watch_forks(void)
{
	pthread_atfork(NULL, NULL, local_forget_parent);
}

int local_charge(uint64_t bytes)
{
	uint64_t old = __atomic_load_n(&registry.bytes, __ATOMIC_RELAXED);

	do {
		if (old + bytes > LOCAL_MAX_USER_BYTES)
			return -EDQUOT;
	} while (!__atomic_compare_exchange_n(&registry.bytes, &old,
					      old + bytes, false,
					      __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return 0;
}

void local_uncharge(uint64_t bytes)
{
	__atomic_fetch_sub(&registry.bytes, bytes, __ATOMIC_RELAXED);
}

uint64_t local_next_offset(void)
{
	return __atomic_fetch_add(&registry.next_offset, 1, __ATOMIC_RELAXED)
	       << LOCAL_OFFSET_SHIFT;
}

/* Adds @delta to the counters of @pg and of its bus.  Under bus->lock. */
void local_count(struct local_bus *bus, struct local_page *pg,
		 const struct local_counters *delta)
{
	struct local_counters *sets[] = { &bus->stats, &pg->stats };
	size_t i;

	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		sets[i]->wp_faults += delta->wp_faults;
		sets[i]->commits += delta->commits;
		sets[i]->bytes_diffed += delta->bytes_diffed;
		sets[i]->records += delta->records;
		sets[i]->record_bytes += delta->record_bytes;
	}
}

static bool name_valid(const char *name)
{
	size_t len = strnlen(name, MMSB_BUS_NAME_MAX), i;

	if (!len || len == MMSB_BUS_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* The module's attach checks, in its order; all fail with EINVAL. */
static int open_check(const char *name, unsigned int flags, unsigned int mode,
		      unsigned int ring_size)
{
	if ((flags & MMSB_OPEN_EXCL) && !(flags & MMSB_OPEN_CREATE))
		return -EINVAL;
	if (mode & ~0777U)
		return -EINVAL;
	if (ring_size && ((ring_size & (ring_size - 1)) ||
			  ring_size < LOCAL_MIN_RING_SIZE ||
			  ring_size > LOCAL_MAX_RING_SIZE))
		return -EINVAL;
	return name_valid(name) ? 0 : -EINVAL;
}

/*
 * As the module's (and ipcperms()): owner, then group, then other bits;
 * root stands in for CAP_IPC_OWNER.
 */
static int bus_permission(const struct local_bus *lb, unsigned int flags)
{
	unsigned int need = 4 | (flags & MMSB_OPEN_RDONLY ? 0 : 2);
	unsigned int granted = lb->mode;
	uid_t euid = geteuid();

	if (euid == lb->uid)
		granted >>= 6;
	else if (getegid() == lb->gid || group_member(lb->gid))
		granted >>= 3;
	if ((granted & need & 7) == need || euid == 0)
		return 0;
	return -EACCES;
}

static struct local_bus *bus_find(const char *name)
{
	struct local_bus *lb;

	for (lb = registry.buses; lb; lb = lb->next)
		if (!strcmp(lb->name, name))
			return lb;
	return NULL;
}

static struct local_bus *bus_create(const char *name, unsigned int mode,
				    unsigned int ring_size)
{
	struct local_bus *lb = calloc(1, sizeof(*lb));
	pthread_rwlockattr_t attr;

	if (!lb)
		return NULL;
	if (local_ring_init(&lb->ring, ring_size ? ring_size :
			    LOCAL_DEFAULT_RING_SIZE)) {
		free(lb);
		return NULL;
	}
	strcpy(lb->name, name);
	lb->uid = geteuid();
	lb->gid = getegid();
	lb->mode = mode;
	/* See local_bus.snapshot_lock: a snapshot must not starve. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&lb->snapshot_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&lb->lock, NULL);
	lb->next_page_id = 1;
	lb->id = registry.next_bus_id++;
	lb->next = registry.buses;
	registry.buses = lb;
	return lb;
}

static void bus_destroy(struct local_bus *lb)
{
	pthread_mutex_lock(&lb->lock);
	local_bus_free_pages(lb);
	pthread_mutex_unlock(&lb->lock);
	local_ring_destroy(&lb->ring);
	free(lb->runs.run);
	pthread_mutex_destroy(&lb->lock);
	pthread_rwlock_destroy(&lb->snapshot_lock);
	free(lb);
}

static void handle_free(struct local_handle *h)
{
	if (h->efd >= 0)
		close(h->efd);
	pthread_mutex_destroy(&h->read_lock);
	pthread_mutex_destroy(&h->write_lock);
	free(h->bounce);
	free(h->wbuf);
	free(h);
}

static struct local_handle *handle_new(unsigned int flags)
{
	struct local_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->flags = flags;
	h->generation = local_generation;
	pthread_mutex_init(&h->read_lock, NULL);
	pthread_mutex_init(&h->write_lock, NULL);
	h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->efd < 0) {
		handle_free(h);
		return NULL;
	}
	return h;
}

/* Finds or creates the bus as @flags say; under the registry lock. */
static int bus_lookup(const char *name, unsigned int flags, unsigned int mode,
		      unsigned int ring_size, struct local_bus **lbp)
{
	struct local_bus *lb = bus_find(name);
	int ret;

	if (lb) {
		if (flags & MMSB_OPEN_EXCL)
			return -EEXIST;
		ret = bus_permission(lb, flags);
		if (ret)
			return ret;
	} else {
		if (!(flags & MMSB_OPEN_CREATE))
			return -ENOENT;
		lb = bus_create(name, mode, ring_size);
		if (!lb)
			return -ENOMEM;
	}
	*lbp = lb;
	return 0;
}

static int local_open(struct mmsb_bus *bus, const char *name,
		      unsigned int flags, const struct mmsb_bus_opts *opts)
{
	unsigned int mode = opts->mode ? opts->mode : 0600;
	struct local_handle *h;
	struct local_bus *lb;
	int ret;

	ret = open_check(name, flags, mode, opts->ring_size);
	if (ret)
		return ret;
	pthread_once(&fork_once, local_watch_forks);
	h = handle_new(flags);
	if (!h)
		return -ENOMEM;

	pthread_mutex_lock(&registry.lock);
	ret = local_capture_init();
	if (!ret)
		ret = bus_lookup(name, flags, mode, opts->ring_size, &lb);
	if (!ret) {
		lb->attached++;
		h->lbus = lb;
		local_ring_attach(&lb->ring, h);
	}
	pthread_mutex_unlock(&registry.lock);
	if (ret) {
		handle_free(h);
		return ret;
	}
	bus->backend = h;
	bus->fd = h->efd;
	return 0;
}

static void local_close(struct mmsb_bus *bus)
{
	struct local_handle *h = local_handle(bus);
	struct local_bus *lb, **p;
	bool last;

	/* A forked child's copy of the parent's bus is left alone. */
	if (!h) {
		handle_free(bus->backend);
		return;
	}
	lb = h->lbus;
	local_ring_detach(&lb->ring, h);
	pthread_mutex_lock(&registry.lock);
	last = !--lb->attached;
	if (last) {
		for (p = &registry.buses; *p != lb; p = &(*p)->next)
			;
		*p = lb->next;
	}
	pthread_mutex_unlock(&registry.lock);
	if (last)
		bus_destroy(lb);
	handle_free(h);
}

static int local_bus_info(struct mmsb_bus *bus, struct mmsb_bus_info *info)
{
	struct local_handle *h = local_handle(bus);
	struct mmsb_bus_info out = {};
	struct local_bus *lb;
	uint64_t pending;
	int ret;

	if (!h)
		return -ENOTCONN;
	lb = h->lbus;
	out.bus_id = lb->id;
	pthread_mutex_lock(&lb->lock);
	ret = local_bus_pending_faults(lb, &pending);
	out.nr_pages = lb->nr_pages;
	out.bytes = lb->bytes;
	out.wp_faults = lb->stats.wp_faults + pending;
	out.commits = lb->stats.commits;
	out.bytes_diffed = lb->stats.bytes_diffed;
	out.records = lb->stats.records;
	out.record_bytes = lb->stats.record_bytes;
	pthread_mutex_unlock(&lb->lock);

	pthread_mutex_lock(&lb->ring.lock);
	out.last_seq = lb->ring.head_seq - 1;
	out.ring_size = lb->ring.size;
	out.overruns = lb->ring.overruns;
	pthread_mutex_unlock(&lb->ring.lock);
	out.attached = __atomic_load_n(&lb->attached, __ATOMIC_RELAXED);
	if (!ret)
		*info = out;
	return ret;
}

const struct mmsb_backend_ops mmsb_local_ops = {
	.open = local_open,
	.close = local_close,
	.bus_info = local_bus_info,
	.page_alloc = local_page_alloc,
	.page_free = local_page_free,
	.page_info = local_page_info,
	.page_list = local_page_list,
	.page_map = local_page_map,
	.page_unmap = local_page_unmap,
	.commit = local_commit,
	.snapshot = local_snapshot,
	.page_restore = local_page_restore,
	.read = local_read,
	.next_record_size = local_next_record_size,
	.write = local_write,
};
