/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mmsb-tool: what its subcommands share.  mmsb-tool.c parses the global
 * options and dispatches; each mmsb-tool-<family>.c implements one family
 * of subcommands and exports its struct tool_cmd entries.
 *
 * Exit codes, for scripts: TOOL_OK, TOOL_FAIL (the operation failed: the
 * module, the bus or the system said no) and TOOL_USAGE (the command line
 * was wrong; nothing was done).
 */
#ifndef MMSB_TOOL_H
#define MMSB_TOOL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <mmsb.h>

#define TOOL_OK		0
#define TOOL_FAIL	1
#define TOOL_USAGE	2

#define TOOL_DEVICE	"/dev/mmsb"

struct tool_cmd {
	const char *name;
	/* One line for the command list of `mmsb-tool -h`. */
	const char *summary;
	/* For -h: what follows the name, then the options and notes. */
	const char *synopsis;
	const char *options;
	/* argv[0] is the command name; returns a TOOL_* exit code. */
	int (*run)(int argc, char **argv);
};

/* The bus named by --bus (or $MMSB_BUS), NULL if none. */
extern const char *tool_bus_name;

extern const struct tool_cmd cmd_info, cmd_stats;
extern const struct tool_cmd cmd_bus;
extern const struct tool_cmd cmd_alloc, cmd_free, cmd_write, cmd_commit,
	cmd_cat;
extern const struct tool_cmd cmd_watch;
extern const struct tool_cmd cmd_snapshot, cmd_restore;
extern const struct tool_cmd cmd_log;
extern const struct tool_cmd cmd_replicate, cmd_mirror;
extern const struct tool_cmd cmd_demo;

/* Prints "mmsb-tool: <message>: <mmsb_strerror(err)>" to stderr; TOOL_FAIL. */
int tool_fail(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Prints "mmsb-tool <cmd>: <message>" and a pointer to -h to stderr;
 * TOOL_USAGE.
 */
int tool_usage_error(const struct tool_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Set by SIGINT or SIGTERM once tool_catch_stop_signals() ran. */
extern volatile int tool_stop;

/* Makes SIGINT and SIGTERM set tool_stop, and ignores SIGPIPE; -errno. */
int tool_catch_stop_signals(void);

/* Says that /dev/mmsb cannot be opened, and why that may be; TOOL_FAIL. */
int tool_fail_no_device(int err);

/* Prints the -h text of @cmd to stdout; TOOL_OK. */
int tool_help(const struct tool_cmd *cmd);

/*
 * The part of every command's getopt loop that is the same: -h, and an
 * unknown option or a missing argument (getopt already said which).
 * Returns the exit code the command should return.
 */
int tool_common_option(const struct tool_cmd *cmd, int opt);

/*
 * Parses a byte count or offset: decimal or 0x hex, optionally followed by
 * k, m or g (KiB, MiB, GiB).  Returns false if @s is not one or overflows.
 */
bool tool_parse_size(const char *s, uint64_t *out);

/* Parses a page id or sequence number: decimal, nonzero. */
bool tool_parse_id(const char *s, uint64_t *out);

/*
 * Attaches to bus @name, or with @name NULL to the bus --bus names, with
 * mmsb_bus_open() @flags and @opts (may be NULL), always through the
 * device backend.  A bad name is a usage error; without MMSB_OPEN_CREATE a
 * missing bus gets a hint that something must hold it (bus hold).  Returns
 * a TOOL_* code; *@busp is set on TOOL_OK.
 */
int tool_open_bus(const struct tool_cmd *cmd, const char *name,
		  unsigned int flags, const struct mmsb_bus_opts *opts,
		  struct mmsb_bus **busp);

/*
 * Writes @snap to @file as snapshot does (mmsb-tool-snapshot.c): "-" is
 * standard output, anything else is replaced only once the new file is
 * whole and synced, then "SOURCE 'NAME': N pages, B bytes, seq S -> FILE"
 * is printed.  Returns a TOOL_* code.
 */
int tool_write_snapshot(const struct mmsb_snap *snap, const char *file,
			const char *source, const char *name);

/* Sum of the snapshot's page sizes, for summary lines. */
uint64_t tool_snap_page_bytes(const struct mmsb_snap *snap);

/*
 * Reads the snapshot file @file ("-": standard input) as restore does;
 * says what is wrong with it.  Returns a TOOL_* code.
 */
int tool_load_snapshot(const char *file, struct mmsb_snap **snap);

/* Prints the state and counters of @bus, called @name (mmsb-tool-info.c). */
int tool_print_bus_info(struct mmsb_bus *bus, const char *name);

/*
 * mmsb_record_next(), except that a record of a type this tool does not
 * know, whose size is sane, is returned for the printers to note rather
 * than ending the walk with -EINVAL.
 */
int tool_record_next(struct mmsb_record_iter *it, const struct mmsb_delta **rec);

/*
 * Records, as watch prints them (mmsb-tool-record.c).  The text form is
 * one line per record with its first runs, at most @max_bytes of each
 * shown; the JSON form is one object with every byte, for programs, with
 * no newline after it.
 */
void tool_print_record(FILE *f, const struct mmsb_delta *d, size_t max_bytes);
void tool_print_record_json(FILE *f, const struct mmsb_delta *d);

/* A CLOCK_REALTIME stamp as local HH:MM:SS.uuuuuu, as records show theirs. */
void tool_print_time(FILE *f, uint64_t ns);

/*
 * "[OFFSET,+LEN) "bytes"" for the first runs of @d, space separated, and
 * how many more there are.
 */
void tool_print_runs(FILE *f, const struct mmsb_delta *d, size_t max_bytes);

#endif /* MMSB_TOOL_H */
