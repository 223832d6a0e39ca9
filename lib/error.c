// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Naming errors.
 */
#define _GNU_SOURCE
#include <string.h>

#include "backend.h"

/* The largest errno the kernel returns (MAX_ERRNO in <linux/err.h>). */
#define MMSB_ERRNO_MAX	4095

/*
 * strerrordesc_np() returns constant strings, so unlike strerror() it is
 * safe from any thread and never overwritten by a later call.
 */
MMSB_EXPORT
const char *mmsb_strerror(int err)
{
	const char *desc = NULL;

	if (err >= -MMSB_ERRNO_MAX && err <= MMSB_ERRNO_MAX)
		desc = strerrordesc_np(err < 0 ? -err : err);
	return desc ? desc : "Unknown error";
}
