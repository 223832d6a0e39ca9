/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What the two halves of the log benchmark share: bench/log.c times
 * appends against plain writes, bench/log_keepup.c a recorder against a
 * writer on a local bus.
 */
#ifndef MMSB_BENCH_LOG_H
#define MMSB_BENCH_LOG_H

#include "mmsb_log.h"

/* The smallest delta a commit makes: a header, one run and 8 bytes. */
#define SMALL_RECORD	(sizeof(struct mmsb_delta) + sizeof(struct mmsb_run) + 8)

/* Passed to every log, so that the figures can say what a segment costs. */
#define SEGMENT_BYTES	(64ULL << 20)

/* Prints what failed and exits 1: a figure after a failure means nothing. */
void __attribute__((noreturn)) log_bench_die(const char *what, int err);

/* Removes directory @dir and the files in it (a log has no subdirectory). */
void log_bench_rmdir(const char *dir);

/*
 * Steps a writer's commit rate up until the recorder's log shows a gap or
 * the writer falls short, then runs the writer flat out; logs go under
 * @dir, each step lasts @step_s seconds, the bus's ring is @ring_size
 * bytes.
 */
void log_keepup(const char *dir, double step_s, unsigned int ring_size);

#endif /* MMSB_BENCH_LOG_H */
