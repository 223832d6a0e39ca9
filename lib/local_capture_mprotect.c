// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * mprotect capture, the last resort that works on any kernel: handle
 * mappings are PROT_READ while clean, and a SIGSEGV handler takes the
 * first store to a chunk (local_capture_fault()) and makes the chunk
 * read-write.  A commit makes the dirty chunks read-only again; the
 * kernel merges the VMAs back.
 *
 * Limits, as for any such scheme: a system call that writes into a clean
 * chunk (read(2) into a page, say) fails with EFAULT instead of trapping,
 * and each dirty run costs a VMA until the commit (vm.max_map_count).  A
 * SIGSEGV that is not a store to a clean chunk goes to the handler that
 * was installed before, or kills the process as it would have.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include "local_capture.h"

static struct sigaction previous;
static bool installed;

static int mprotect_unprotect(struct local_map *m, uint32_t idx)
{
	return mprotect(m->addr + (size_t)idx * LOCAL_CHUNK, LOCAL_CHUNK,
			PROT_READ | PROT_WRITE) ? -errno : 0;
}

static void mprotect_segv(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	if (si->si_code == SEGV_ACCERR &&
	    !local_capture_fault(si->si_addr, mprotect_unprotect)) {
		errno = saved;
		return;
	}
	errno = saved;
	if (previous.sa_flags & SA_SIGINFO) {
		previous.sa_sigaction(sig, si, uc);
	} else if (previous.sa_handler != SIG_DFL &&
		   previous.sa_handler != SIG_IGN) {
		previous.sa_handler(sig);
	} else {
		/* Returning re-runs the access, which now kills as it should. */
		signal(SIGSEGV, SIG_DFL);
	}
}

static int mprotect_init(void)
{
	struct sigaction sa;

	if (installed)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = mprotect_segv;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &previous))
		return -errno;
	installed = true;
	return 0;
}

/*
 * The child's copies of the mappings are still read-only: make them
 * writable, as the kernel makes them for the uffd mechanisms, so that a
 * store there is not captured rather than fatal.  The handler stays: the
 * table it consults is empty now.
 */
static void mprotect_forget(void)
{
	struct local_map *m;

	while ((m = local_maps_first()) != NULL) {
		mprotect(m->addr, m->len, PROT_READ | PROT_WRITE);
		local_maps_remove(m);
	}
}

static int mprotect_attach(struct local_map *m)
{
	return mprotect(m->addr, m->len, PROT_READ) ? -errno : 0;
}

static int mprotect_protect(struct local_map *m, uint32_t first, uint32_t n)
{
	return mprotect(m->addr + (size_t)first * LOCAL_CHUNK,
			(size_t)n * LOCAL_CHUNK, PROT_READ) ? -errno : 0;
}

const struct local_capture_ops local_capture_mprotect = {
	.name = "mprotect",
	.init = mprotect_init,
	.forget = mprotect_forget,
	.attach = mprotect_attach,
	.protect = mprotect_protect,
};
