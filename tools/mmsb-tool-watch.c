// SPDX-License-Identifier: GPL-2.0
/*
 * mmsb-tool watch: print the stream of a bus as it comes: deltas, page
 * allocations and frees, overruns.
 *
 * The watcher's cursor starts where the bus's stream is when it attaches,
 * so it sees the records committed after that.  It tells on stderr when it
 * has attached; a script starts it in the background and waits for that
 * line before committing, e.g.
 *
 *	mmsb-tool watch --json --count 1 >out 2>ready &
 *	until grep -q watching ready; do sleep 0.1; done
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "mmsb-tool.h"

/* Bytes of each run the text form shows; JSON shows every byte. */
#define WATCH_SHOWN_BYTES	32

/*
 * Prints the records in @buf, at most *@left of them (UINT64_MAX: no
 * limit), counting them down.  Returns TOOL_OK or TOOL_FAIL.
 */
static int print_records(const void *buf, size_t len, bool json,
			 uint64_t *left)
{
	const struct mmsb_delta *d;
	struct mmsb_record_iter it;
	int ret = 0;

	mmsb_record_iter_init(&it, buf, len);
	while (*left && (ret = tool_record_next(&it, &d)) > 0) {
		if (json) {
			tool_print_record_json(stdout, d);
			putchar('\n');
		} else {
			tool_print_record(stdout, d, WATCH_SHOWN_BYTES);
		}
		if (*left != UINT64_MAX)
			(*left)--;
	}
	/* Each record at once, for whoever reads the other end of a pipe. */
	if (fflush(stdout))
		return tool_fail(-errno, "writing the output");
	if (*left && ret < 0)
		return tool_fail(ret, "a malformed record in the stream");
	return TOOL_OK;
}

/* Tells stderr from which sequence on this reader will see records. */
static void say_watching(struct mmsb_bus *bus)
{
	struct mmsb_stream_info si;

	if (ioctl(mmsb_bus_fd(bus), MMSB_IOC_STREAM_INFO, &si))
		fprintf(stderr, "mmsb-tool: watching bus '%s'\n", tool_bus_name);
	else
		fprintf(stderr, "mmsb-tool: watching bus '%s' from seq %" PRIu64
			"\n", tool_bus_name, (uint64_t)si.next_seq);
}

static int watch_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	uint64_t left = UINT64_MAX;
	size_t cap = 64 << 10;
	struct mmsb_bus *bus;
	bool json = false;
	void *buf, *bigger;
	ssize_t n;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "jn:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'n':
			if (!tool_parse_id(optarg, &left))
				return tool_usage_error(&cmd_watch, "bad count '%s'", optarg);
			break;
		default:
			return tool_common_option(&cmd_watch, opt);
		}
	}
	if (optind != argc)
		return tool_usage_error(&cmd_watch, "no arguments expected");
	/* Records are 8-byte aligned in the buffer as in the ring. */
	buf = aligned_alloc(8, cap);
	if (!buf)
		return tool_fail(-ENOMEM, "record buffer");
	ret = tool_open_bus(&cmd_watch, NULL, MMSB_OPEN_RDONLY, NULL, &bus);
	if (ret) {
		free(buf);
		return ret;
	}
	say_watching(bus);

	while (!ret && left) {
		n = mmsb_read(bus, buf, cap);
		if (n == -EMSGSIZE) {
			/* A record bigger than the buffer: grow to fit it. */
			n = mmsb_next_record_size(bus);
			if (n < 0) {
				ret = tool_fail(n, "sizing the next record");
				break;
			}
			cap = ((size_t)n + 7) & ~(size_t)7;
			bigger = aligned_alloc(8, cap);
			if (!bigger) {
				ret = tool_fail(-ENOMEM, "a %zu-byte record", cap);
				break;
			}
			free(buf);
			buf = bigger;
			continue;
		}
		if (n < 0)
			ret = tool_fail(n, "reading the stream");
		else
			ret = print_records(buf, n, json, &left);
	}
	mmsb_bus_close(bus);
	free(buf);
	return ret;
}

const struct tool_cmd cmd_watch = {
	.name = "watch",
	.summary = "print the bus's records (deltas, page allocs and frees) as they come",
	.synopsis = "[-j] [-n COUNT]",
	.options = "  -j, --json         one JSON object per record and line, every\n"
		   "                     byte of every run as hex\n"
		   "  -n, --count COUNT  stop after COUNT records (default: never)\n"
		   "  -h, --help         this text\n\n"
		   "Records committed from the moment watch attaches are shown; it says\n"
		   "on stderr when that is.  An \"overrun\" record means the watcher fell\n"
		   "behind and lost records; it counts towards COUNT.  A record of a type\n"
		   "this tool does not know is noted, skipped by its size, and counted.",
	.run = watch_run,
};
