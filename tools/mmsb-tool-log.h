/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the log actions of mmsb-tool share: mmsb-tool-log.c (record,
 * status, verify, dump, checkpoint, compact, history) and
 * mmsb-tool-log-replay.c (replay).
 */
#ifndef MMSB_TOOL_LOG_H
#define MMSB_TOOL_LOG_H

#include <mmsb_log.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Opens the log in @dir with mmsb_log_open() @flags (never CREATE): says
 * why it could not, in the library's words, or, opening to write, what
 * recovery cut.  Returns a TOOL_* code.
 */
int open_log(const char *dir, unsigned int flags, struct mmsb_log **log);

/* Closes @log; a failure to sync it fails a command that had not failed. */
int log_close(struct mmsb_log *log, const char *dir, int ret);

/* Says what failed with the log's own description of it; TOOL_FAIL. */
int log_fail(struct mmsb_log *log, int err, const char *what,
	     const char *dir);

/*
 * The getopt loop of an action without options: -1 when there was none,
 * else the exit code to return (-h, or an unknown option).
 */
int log_no_options(int argc, char **argv);

int log_replay_run(int argc, char **argv);

#endif
