/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A power cut for the log (lib/log_fs.h), in the manner of ALICE and
 * LazyFS: the log's file operations go to a real directory and are also
 * recorded, per file, since that file's last sync, and per directory,
 * since its last fsync.  After the cut (every operation fails from a
 * chosen one on, as when the power goes), crash_fs_image() writes into a
 * new directory what a disk could hold: every synced byte and name, and
 * of what was not synced, a random choice: each write kept whole, in part
 * (some of its 512-byte sectors) or not at all, each truncation kept or
 * not, and the directory's unsynced operations up to a random one.
 */
#ifndef MMSB_TESTS_LOG_CRASH_FS_H
#define MMSB_TESTS_LOG_CRASH_FS_H

#include <stdbool.h>
#include <stdint.h>

#include "log_fs.h"

struct crash_fs;

/* Starts from @dir as it is now, all of it durable. */
struct crash_fs *crash_fs_new(const char *dir);
const struct log_fs *crash_fs_ops(struct crash_fs *cfs);
/* Operations from the @n-th on (0: the next) fail with EIO. */
void crash_fs_cut_after(struct crash_fs *cfs, uint64_t n);
bool crash_fs_was_cut(const struct crash_fs *cfs);
uint64_t crash_fs_ops_done(const struct crash_fs *cfs);
/* Writes what survives into the empty directory @dir. */
void crash_fs_image(struct crash_fs *cfs, const char *dir, uint64_t *rng);
void crash_fs_free(struct crash_fs *cfs);

#endif
