// SPDX-License-Identifier: GPL-2.0
/*
 * mmsb-tool replicate and mirror: a bus's records published to a NATS
 * JetStream stream, and a bus rebuilt from one on another machine
 * (Documentation/replication.md).  They need libmmsb_nats, built when
 * libnats is installed (lib/nats.mk); without it they say so.
 */
#include <inttypes.h>

#include "mmsb-tool.h"

#ifdef MMSB_HAVE_NATS
#include <mmsb_replicate.h>

/* The options the two commands share. */
static const struct option repl_opts[] = {
	{ "nats", required_argument, NULL, 'n' },
	{ "stream", required_argument, NULL, 's' },
	{ "replicas", required_argument, NULL, 'r' },
	{ "base-records", required_argument, NULL, 'R' },
	{ "base-ms", required_argument, NULL, 'M' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ }
};

struct repl_args {
	struct mmsb_repl_opts o;
	bool quiet;
	const char *what;	/* "replicate" or "mirror", for the lines */
};

/* One line a second on stdout, unbuffered: scripts read the lag from it. */
static void on_second(void *arg, const struct mmsb_repl_stats *st)
{
	const struct repl_args *a = arg;

	if (a->quiet)
		return;
	printf("%s: seq %" PRIu64 " lag %" PRIu64 " lag-ms %.1f records %"
	       PRIu64 " bytes %" PRIu64 " bases %" PRIu64 " stream-seq %"
	       PRIu64 "\n", a->what, st->seq, st->lag, st->lag_ns / 1e6,
	       st->records, st->bytes, st->bases, st->stream_seq);
	fflush(stdout);
}

/* Parses argv into @a; TOOL_OK, or the exit code to return now. */
static int parse(const struct tool_cmd *cmd, int argc, char **argv,
		 struct repl_args *a)
{
	uint64_t v;
	int opt, ret;

	a->o.stop = &tool_stop;
	a->o.on_second = on_second;
	a->o.arg = a;
	a->what = cmd->name;
	while ((opt = getopt_long(argc, argv, "n:s:r:qh", repl_opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'n':
			a->o.url = optarg;
			break;
		case 's':
			a->o.stream = optarg;
			break;
		case 'q':
			a->quiet = true;
			break;
		case 'r':
		case 'R':
		case 'M':
			if (!tool_parse_size(optarg, &v) || (opt == 'r' && v > 5))
				return tool_usage_error(cmd, "bad --%s '%s'",
					opt == 'r' ? "replicas" : opt == 'R' ?
					"base-records" : "base-ms", optarg);
			if (opt == 'r')
				a->o.replicas = v;
			else if (opt == 'R')
				a->o.base_records = v;
			else
				a->o.base_ms = v;
			break;
		default:
			return tool_common_option(cmd, opt) == TOOL_OK ?
			       -1 : TOOL_USAGE;
		}
	}
	if (optind != argc)
		return tool_usage_error(cmd, "unexpected argument '%s'",
					argv[optind]);
	if (!a->o.url || !a->o.stream)
		return tool_usage_error(cmd, "--nats URL and --stream S are needed");
	if (!tool_bus_name)
		return tool_usage_error(cmd, "no bus: give --bus NAME or set MMSB_BUS");
	ret = tool_catch_stop_signals();
	if (ret)
		return tool_fail(ret, "setting the signal handlers");
	return TOOL_OK;
}

static int replicate_run(int argc, char **argv)
{
	struct repl_args a = { };
	struct mmsb_bus *bus;
	int ret;

	ret = parse(&cmd_replicate, argc, argv, &a);
	if (ret)
		return ret < 0 ? TOOL_OK : ret;
	/* Opened before the snapshot the replicator starts from. */
	ret = tool_open_bus(&cmd_replicate, NULL, MMSB_OPEN_RDONLY, NULL, &bus);
	if (ret)
		return ret;
	ret = mmsb_replicate(bus, &a.o);
	mmsb_bus_close(bus);
	if (ret)
		return tool_fail(ret, "replicating bus '%s' to stream '%s'",
				 tool_bus_name, a.o.stream);
	return TOOL_OK;
}

static int mirror_run(int argc, char **argv)
{
	struct repl_args a = { };
	int ret;

	ret = parse(&cmd_mirror, argc, argv, &a);
	if (ret)
		return ret < 0 ? TOOL_OK : ret;
	/* The bus must outlive nothing here: the mirror holds it. */
	ret = mmsb_mirror(tool_bus_name, MMSB_OPEN_DEVICE, &a.o);
	if (ret)
		return tool_fail(ret, "mirroring stream '%s' into bus '%s'",
				 a.o.stream, tool_bus_name);
	return TOOL_OK;
}
#else
/* Built without libnats: the commands exist, and say what they lack. */
static int no_nats(const char *name)
{
	fprintf(stderr, "mmsb-tool %s: this mmsb-tool was built without libnats "
		"(install libnats-dev and rebuild)\n", name);
	return TOOL_FAIL;
}

static int replicate_run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return no_nats("replicate");
}

static int mirror_run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return no_nats("mirror");
}
#endif

#define REPL_OPTIONS \
	"  --nats URL        NATS servers, comma-separated (nats://HOST:PORT)\n" \
	"  --stream S        the JetStream stream: subjects S.rec and S.base\n" \
	"  -q, --quiet       no line a second\n"

const struct tool_cmd cmd_replicate = {
	.name = "replicate",
	.summary = "publish every record of a bus to a NATS JetStream stream",
	.synopsis = "--nats URL --stream S [--replicas N] [--base-records N] [--base-ms MS]",
	.options =
		"Options:\n" REPL_OPTIONS
		"  --replicas N      the stream's replicas if it is made (1 to 5; default 1)\n"
		"  --base-records N  a fresh snapshot as the base every N records\n"
		"  --base-ms MS      ... or every MS milliseconds (default: 100000\n"
		"                    records or 60000 ms)\n"
		"\n"
		"Resumes where the stream ends after a restart; a snapshot is published\n"
		"first when records were missed.  Runs until SIGINT or SIGTERM; prints\n"
		"a line a second: the last seq published and the records behind.\n"
		"Exits 1 if another publisher writes to the stream.",
	.run = replicate_run,
};

const struct tool_cmd cmd_mirror = {
	.name = "mirror",
	.summary = "rebuild a bus from a replicated stream and keep it current",
	.synopsis = "--nats URL --stream S",
	.options =
		"Options:\n" REPL_OPTIONS
		"\n"
		"Makes the bus (--bus NAME, which must not exist) from the stream's\n"
		"latest base and the records after it, and applies new records as\n"
		"they come, until SIGINT or SIGTERM.  A line a second gives the last\n"
		"seq applied, the stream's messages not yet read (lag) and the age\n"
		"of the last record applied (lag-ms).  Local writes to the bus are\n"
		"undone: the next record of their page fails its base check and\n"
		"the bus is rebuilt from the latest base.",
	.run = mirror_run,
};
