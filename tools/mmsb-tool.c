// SPDX-License-Identifier: GPL-2.0
/*
 * mmsb-tool: look at and drive MMSB buses from the shell.
 *
 *	mmsb-tool [--bus NAME] COMMAND [OPTIONS] [ARGS]
 *
 * This file holds the global options, the command table and the helpers
 * every command uses; the commands live in mmsb-tool-*.c.  man/mmsb-tool.1
 * documents the whole tool.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmsb-tool.h"

const char *tool_bus_name;

static const struct tool_cmd *const commands[] = {
	&cmd_info, &cmd_bus, &cmd_alloc, &cmd_free, &cmd_write, &cmd_commit,
	&cmd_cat, &cmd_watch, &cmd_stats, &cmd_snapshot, &cmd_restore,
	&cmd_log, &cmd_replicate, &cmd_mirror, &cmd_demo,
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void main_usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: mmsb-tool [--bus NAME] COMMAND [OPTIONS] [ARGS]\n"
		"       mmsb-tool COMMAND -h\n"
		"\n"
		"Global options:\n"
		"  -b, --bus NAME   the bus to act on (default: $MMSB_BUS)\n"
		"  -h, --help       this text\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i]->name,
			commands[i]->summary);
	fprintf(f,
		"\n"
		"A bus lives only while some process is attached to it, so a\n"
		"bus that several commands use in turn needs a holder first:\n"
		"  mmsb-tool bus hold --background NAME\n"
		"\n"
		"Exit status: 0 success, 1 the operation failed, 2 usage error.\n");
}

int tool_fail(int err, const char *fmt, ...)
{
	va_list ap;

	fputs("mmsb-tool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", mmsb_strerror(err));
	return TOOL_FAIL;
}

int tool_usage_error(const struct tool_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mmsb-tool %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'mmsb-tool %s -h'.\n", cmd->name);
	return TOOL_USAGE;
}

int tool_help(const struct tool_cmd *cmd)
{
	printf("usage: mmsb-tool [--bus NAME] %s%s%s\n\n%c%s.\n\n%s\n",
	       cmd->name, *cmd->synopsis ? " " : "", cmd->synopsis,
	       toupper(*cmd->summary), cmd->summary + 1, cmd->options);
	return TOOL_OK;
}

int tool_common_option(const struct tool_cmd *cmd, int opt)
{
	if (opt == 'h')
		return tool_help(cmd);
	/* getopt has printed what was wrong. */
	fprintf(stderr, "Try 'mmsb-tool %s -h'.\n", cmd->name);
	return TOOL_USAGE;
}

/* Set by SIGINT and SIGTERM (tool_catch_stop_signals()), or by a command. */
volatile int tool_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	tool_stop = 1;
}

/*
 * SIGINT and SIGTERM end a long-running command (log record, replicate,
 * mirror), which then finishes cleanly.  No SA_RESTART, so that the signal
 * wakes a poll() now rather than at its next timeout.  SIGPIPE is
 * ignored: a reader that went away is reported as a failed write, not a
 * reason to die with work unfinished.  (A shell starts a background job
 * with SIGINT ignored; setting a handler takes it back.)
 */
int tool_catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		return -errno;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL))
		return -errno;
	return 0;
}

int tool_fail_no_device(int err)
{
	tool_fail(err, "cannot open " TOOL_DEVICE);
	if (err == -ENOENT)
		fprintf(stderr, "mmsb-tool: is the module loaded? "
			"(insmod build/kmod/$(uname -r)/mmsb.ko)\n");
	return TOOL_FAIL;
}

bool tool_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return false;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end || v > UINT64_MAX >> shift)
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

bool tool_parse_id(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || !v)
		return false;
	*out = v;
	return true;
}

int tool_open_bus(const struct tool_cmd *cmd, const char *name,
		  unsigned int flags, const struct mmsb_bus_opts *opts,
		  struct mmsb_bus **busp)
{
	static const char name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"abcdefghijklmnopqrstuvwxyz0123456789._-";
	size_t len;
	int ret;

	name = name ? name : tool_bus_name;
	if (!name)
		return tool_usage_error(cmd, "no bus: give --bus NAME or set MMSB_BUS");
	len = strlen(name);
	if (!len || len >= MMSB_BUS_NAME_MAX || strspn(name, name_chars) != len)
		return tool_usage_error(cmd, "bad bus name '%s': 1 to %d of [A-Za-z0-9._-]",
					name, MMSB_BUS_NAME_MAX - 1);
	/*
	 * Each command is a process of its own, and the bus must outlive it
	 * and be shared: only the device backend does that (a bus of the
	 * local backend lives inside one process).
	 */
	ret = mmsb_bus_open(busp, name, flags | MMSB_OPEN_DEVICE, opts);
	if (ret == -ENOENT && access(TOOL_DEVICE, F_OK))
		return tool_fail_no_device(ret);
	if (ret == -ENOENT && !(flags & MMSB_OPEN_CREATE)) {
		fprintf(stderr,
			"mmsb-tool: no bus '%s'; a bus lives only while a process is attached,\n"
			"           start one with: mmsb-tool bus hold --background %s\n",
			name, name);
		return TOOL_FAIL;
	}
	if (ret)
		return tool_fail(ret, "cannot attach to bus '%s'", name);
	return TOOL_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bus", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	char prog[32];
	size_t i;
	int opt;

	tool_bus_name = getenv("MMSB_BUS");
	if (tool_bus_name && !*tool_bus_name)
		tool_bus_name = NULL;
	/* "+": options after the command name are the command's. */
	while ((opt = getopt_long(argc, argv, "+b:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			tool_bus_name = optarg;
			break;
		case 'h':
			main_usage(stdout);
			return TOOL_OK;
		default:
			main_usage(stderr);
			return TOOL_USAGE;
		}
	}
	if (optind == argc) {
		main_usage(stderr);
		return TOOL_USAGE;
	}
	for (i = 0; i < NR_COMMANDS; i++) {
		if (strcmp(argv[optind], commands[i]->name))
			continue;
		argv += optind;
		argc -= optind;
		/* getopt names argv[0] in its complaints. */
		snprintf(prog, sizeof(prog), "mmsb-tool %s", commands[i]->name);
		argv[0] = prog;
		/* Each command parses its own argv from the start. */
		optind = 0;
		return commands[i]->run(argc, argv);
	}
	fprintf(stderr, "mmsb-tool: unknown command '%s'\nTry 'mmsb-tool -h'.\n",
		argv[optind]);
	return TOOL_USAGE;
}
