// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Sync capture: userfaultfd write-protect, with one handler thread for
 * the process.  A first store sleeps in the kernel until the thread has
 * read the fault, copied the chunk's twin (local_capture_fault()) and
 * lifted the protection, which wakes it.  A commit protects the dirty
 * chunks again; a store racing with it waits for the bus lock in the
 * handler, as it would wait in the module's page_mkwrite.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "local_capture.h"
#include "local_uffd.h"

#define SYNC_MSGS	16

static int uffd = -1;

static int sync_unprotect(struct local_map *m, uint32_t idx)
{
	return local_uffd_protect(uffd, m->addr + (size_t)idx * LOCAL_CHUNK,
				  LOCAL_CHUNK, false);
}

/* A fault on a range that is no longer ours: let the thread run on. */
static void sync_wake(uint64_t addr)
{
	struct uffdio_range r = {
		.start = addr & ~(uint64_t)(LOCAL_CHUNK - 1),
		.len = LOCAL_CHUNK,
	};

	ioctl(uffd, UFFDIO_WAKE, &r);
}

static void *sync_handler(void *arg)
{
	struct uffd_msg msg[SYNC_MSGS];
	int fd = (int)(intptr_t)arg;
	ssize_t n, i;

	for (;;) {
		n = read(fd, msg, sizeof(msg));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return NULL;
		}
		for (i = 0; i < n / (ssize_t)sizeof(msg[0]); i++) {
			uint64_t addr = msg[i].arg.pagefault.address;

			if (msg[i].event != UFFD_EVENT_PAGEFAULT)
				continue;
			if (local_capture_fault((void *)(uintptr_t)addr,
						sync_unprotect))
				sync_wake(addr);
		}
	}
}

static int sync_init(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t thread;
	int ret;

	uffd = local_uffd_open(0);
	if (uffd < 0)
		return uffd;
	/* The thread must never run a signal handler of the application. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ret = -pthread_create(&thread, &attr, sync_handler,
			      (void *)(intptr_t)uffd);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		close(uffd);
		uffd = -1;
	}
	return ret;
}

/* The handler thread was not copied into the child; its fd goes too. */
static void sync_forget(void)
{
	close(uffd);
	uffd = -1;
}

static int sync_attach(struct local_map *m)
{
	return local_uffd_attach(uffd, m->addr, m->len);
}

static int sync_protect(struct local_map *m, uint32_t first, uint32_t n)
{
	return local_uffd_protect(uffd, m->addr + (size_t)first * LOCAL_CHUNK,
				  (size_t)n * LOCAL_CHUNK, true);
}

const struct local_capture_ops local_capture_sync = {
	.name = "sync",
	.init = sync_init,
	.forget = sync_forget,
	.attach = sync_attach,
	.protect = sync_protect,
};
