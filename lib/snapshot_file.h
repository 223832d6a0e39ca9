/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * The snapshot file writer behind mmsb_snap_save(), for writers that are
 * not a plain file descriptor: the log writes its snapshots through its
 * file operations (lib/log_fs.h).  Internal to libmmsb.
 */
#ifndef LIBMMSB_SNAPSHOT_FILE_H
#define LIBMMSB_SNAPSHOT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "mmsb.h"

/* Takes the next @len bytes of the file; 0 or a negative errno. */
typedef int (*snap_sink_fn)(void *ctx, const void *p, size_t len);

/* What a reader of the file will find in its header. */
struct snap_encoded {
	uint64_t bytes;		/* the whole file */
	uint32_t header_crc;
};

/* Writes @snap in the snapshot file format, front to back, into @sink. */
int mmsb_snap_encode(const struct mmsb_snap *snap, snap_sink_fn sink,
		     void *ctx, struct snap_encoded *out);

#endif /* LIBMMSB_SNAPSHOT_FILE_H */
