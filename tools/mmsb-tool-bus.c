// SPDX-License-Identifier: GPL-2.0
/*
 * mmsb-tool bus: attach to (or create) a bus and show it, or hold it.
 *
 * A bus lives only while some file is attached to it; every other command
 * attaches for as long as it runs and no longer.  `bus hold` is the
 * process that keeps a bus, and its pages, alive between commands.  With
 * --background it returns once the bus is held and prints the holder's
 * pid, so a script knows the bus exists when the command returns:
 *
 *	holder=$(mmsb-tool bus hold --background demo)
 *	...
 *	kill "$holder"
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmsb-tool.h"

/*
 * The holder waits for a signal; the default action of SIGTERM or SIGINT
 * ends it, and the file closing with it detaches.
 */
static void __attribute__((noreturn)) hold_forever(void)
{
	for (;;)
		pause();
}

/*
 * Forks the holder, which attaches and tells the parent how that went over
 * a pipe before it leaves the caller's terminal and stdio: a $(...) around
 * the command waits for every writer of its pipe to close it.
 */
static int hold_in_background(const char *name, unsigned int flags,
			      const struct mmsb_bus_opts *opts)
{
	struct mmsb_bus *bus;
	int pipefd[2], ret, null;
	pid_t pid;

	if (pipe(pipefd))
		return tool_fail(-errno, "pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return tool_fail(-errno, "fork");
	if (!pid) {
		close(pipefd[0]);
		ret = tool_open_bus(&cmd_bus, name, flags, opts, &bus);
		if (write(pipefd[1], &ret, sizeof(ret)) != sizeof(ret) || ret)
			_exit(ret ? ret : TOOL_FAIL);
		close(pipefd[1]);
		setsid();
		null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(null, 2) < 0 || chdir("/"))
			_exit(TOOL_FAIL);
		close(null);
		hold_forever();
	}
	close(pipefd[1]);
	if (read(pipefd[0], &ret, sizeof(ret)) != sizeof(ret))
		return tool_fail(-EPIPE, "the holder died before attaching");
	close(pipefd[0]);
	if (ret)
		return ret;	/* the holder said why */
	printf("%d\n", (int)pid);
	return TOOL_OK;
}

static int bus_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "create", no_argument, NULL, 'c' },
		{ "excl", no_argument, NULL, 'x' },
		{ "mode", required_argument, NULL, 'm' },
		{ "ring-size", required_argument, NULL, 'r' },
		{ "background", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct mmsb_bus_opts bus_opts = { };
	unsigned int flags = 0;
	bool hold = false, background = false;
	struct mmsb_bus *bus;
	const char *name;
	uint64_t ring;
	char *end;
	int opt, ret;

	if (argc > 1 && (!strcmp(argv[1], "hold") || !strcmp(argv[1], "info"))) {
		hold = !strcmp(argv[1], "hold");
		/* Drop the action, keeping argv[0] for getopt's messages. */
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	while ((opt = getopt_long(argc, argv, "cxm:r:bh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			flags |= MMSB_OPEN_CREATE;
			break;
		case 'x':
			flags |= MMSB_OPEN_CREATE | MMSB_OPEN_EXCL;
			break;
		case 'm':
			bus_opts.mode = strtoul(optarg, &end, 8);
			if (*end || !*optarg || bus_opts.mode > 0777)
				return tool_usage_error(&cmd_bus, "bad mode '%s': octal, at most 0777",
							optarg);
			break;
		case 'r':
			if (!tool_parse_size(optarg, &ring) || ring > UINT32_MAX)
				return tool_usage_error(&cmd_bus, "bad ring size '%s'", optarg);
			bus_opts.ring_size = ring;
			break;
		case 'b':
			background = true;
			break;
		default:
			return tool_common_option(&cmd_bus, opt);
		}
	}
	if (argc - optind > 1)
		return tool_usage_error(&cmd_bus, "one bus name at most");
	if (background && !hold)
		return tool_usage_error(&cmd_bus, "--background is for bus hold");
	name = optind < argc ? argv[optind] : tool_bus_name;

	/* Reading the bus's state, or holding it, needs no write permission. */
	flags |= MMSB_OPEN_RDONLY;
	if (!hold) {
		ret = tool_open_bus(&cmd_bus, name, flags, &bus_opts, &bus);
		if (ret)
			return ret;
		ret = tool_print_bus_info(bus, name);
		mmsb_bus_close(bus);
		return ret;
	}
	flags |= MMSB_OPEN_CREATE;
	if (background)
		return hold_in_background(name, flags, &bus_opts);
	ret = tool_open_bus(&cmd_bus, name, flags, &bus_opts, &bus);
	if (ret)
		return ret;
	printf("holding bus '%s' until this process (pid %d) is killed\n",
	       name, (int)getpid());
	fflush(stdout);
	hold_forever();
}

const struct tool_cmd cmd_bus = {
	.name = "bus",
	.summary = "show a bus, or hold it so that it lives between commands",
	.synopsis = "[info] [-c|-x] [-m MODE] [-r BYTES] [NAME]\n"
		    "       mmsb-tool [--bus NAME] bus hold [-b] [-x] [-m MODE] [-r BYTES] [NAME]",
	.options = "  info              attach, show the bus and detach (the default)\n"
		   "  hold              attach, creating the bus if needed, until killed\n"
		   "  NAME              the bus (default: --bus)\n"
		   "  -c, --create      create the bus if it does not exist\n"
		   "  -x, --excl        create it, failing if it exists\n"
		   "  -m, --mode MODE   permission bits when creating, octal (default 600)\n"
		   "  -r, --ring-size BYTES\n"
		   "                    delta ring when creating, a power of two (k, m suffixes)\n"
		   "  -b, --background  hold from a background process; print its pid\n"
		   "                    once the bus is held, and return\n"
		   "  -h, --help        this text\n\n"
		   "A bus and its pages are destroyed when the last process detaches:\n"
		   "`bus info -c` alone creates a bus that is gone when it returns.",
	.run = bus_run,
};
