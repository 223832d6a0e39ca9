// SPDX-License-Identifier: GPL-2.0
/*
 * mmsb-tool info: what the module offers, and with --bus the state and
 * counters of that bus, which stats (mmsb-tool-stats.c) prints too.  It
 * attaches read-only, so read permission on the bus is enough, and counts
 * itself among the attached files.  Without the module, info shows what
 * libmmsb's local backend offers instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

/*
 * The local backend's limits are fixed when libmmsb is built, and
 * mmsb-tool links it statically: its private header states them exactly.
 */
#include "local.h"
#include "mmsb-tool.h"

#define PARAM_DIR "/sys/module/mmsb/parameters/"

/* Exact byte counts, with a unit where that is shorter. */
static const char *bytes_str(uint64_t v, char buf[32])
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;
	uint64_t n = v;

	while (n && !(n % 1024) && u + 1 < sizeof(units) / sizeof(units[0])) {
		n /= 1024;
		u++;
	}
	snprintf(buf, 32, "%" PRIu64 " %s", n, units[u]);
	return buf;
}

/* Prints module parameter @name as bytes, if the module has it. */
static void print_param(const char *label, const char *name)
{
	char path[128], buf[32];
	unsigned long long v;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	f = fopen(path, "r");
	if (!f)
		return;
	ok = fscanf(f, "%llu", &v) == 1;
	fclose(f);
	if (ok)
		printf("%-14s %s\n", label, bytes_str(v, buf));
}

int tool_print_bus_info(struct mmsb_bus *bus, const char *name)
{
	struct mmsb_bus_info bi;
	char b1[32], b2[32];
	int ret;

	ret = mmsb_bus_info(bus, &bi);
	if (ret)
		return tool_fail(ret, "bus info of '%s'", name);
	printf("%-14s %s (id %" PRIu64 ")\n", "bus:", name,
	       (uint64_t)bi.bus_id);
	printf("%-14s %s\n", "backend:", mmsb_bus_backend(bus));
	printf("%-14s %" PRIu32 " files, this one included\n", "attached:",
	       bi.attached);
	printf("%-14s %" PRIu64 ", %s\n", "pages:", (uint64_t)bi.nr_pages,
	       bytes_str(bi.bytes, b1));
	printf("%-14s %s\n", "ring:", bytes_str(bi.ring_size, b1));
	printf("%-14s %" PRIu64 "\n", "last seq:", (uint64_t)bi.last_seq);
	printf("%-14s %" PRIu64 "\n", "wp faults:", (uint64_t)bi.wp_faults);
	printf("%-14s %" PRIu64 "\n", "commits:", (uint64_t)bi.commits);
	printf("%-14s %s\n", "bytes diffed:", bytes_str(bi.bytes_diffed, b1));
	printf("%-14s %" PRIu64 ", %s\n", "records:", (uint64_t)bi.records,
	       bytes_str(bi.record_bytes, b2));
	printf("%-14s %" PRIu64 "\n", "overruns:", (uint64_t)bi.overruns);
	return TOOL_OK;
}

static void print_features(uint64_t features)
{
	static const char *const feature_names[] = {
		"capture", "stream", "submit",
	};
	unsigned int i;

	printf("%-14s", "features:");
	for (i = 0; i < 64; i++) {
		if (!(features & (1ULL << i)))
			continue;
		if (i < sizeof(feature_names) / sizeof(feature_names[0]))
			printf(" %s", feature_names[i]);
		else
			printf(" bit%u", i);
	}
	putchar('\n');
}

/* What tool_open_bus() asks libmmsb for: the module behind @fd. */
static int print_device_info(int fd)
{
	struct mmsb_version v;
	char buf[32];

	if (ioctl(fd, MMSB_IOC_VERSION, &v))
		return tool_fail(-errno, "MMSB_IOC_VERSION");
	printf("%-14s device (%s)\n", "backend:", TOOL_DEVICE);
	printf("%-14s %" PRIu64 " (mmsb-tool speaks %d)\n", "api:",
	       (uint64_t)v.api, MMSB_API_VERSION);
	print_features(v.features);
	printf("%-14s %s\n", "max page:", bytes_str(v.max_page_size, buf));
	printf("%-14s %s\n", "max ring:", bytes_str(v.max_ring_size, buf));
	print_param("default ring:", "default_ring_size");
	print_param("max bus:", "max_bus_bytes");
	print_param("max per user:", "max_user_bytes");
	print_param("module holds:", "bytes_held");
	return TOOL_OK;
}

/*
 * No module: what `demo --local` and programs that let libmmsb choose get
 * instead.  Its limits are the module's defaults, and cannot be changed.
 */
static void print_local_info(void)
{
	char buf[32];

	printf("%-14s local (no %s; a bus lives inside one process)\n",
	       "backend:", TOOL_DEVICE);
	printf("%-14s %d\n", "api:", MMSB_API_VERSION);
	print_features(MMSB_FEAT_CAPTURE | MMSB_FEAT_STREAM | MMSB_FEAT_SUBMIT);
	printf("%-14s %s\n", "max page:", bytes_str(LOCAL_MAX_PAGE_SIZE, buf));
	printf("%-14s %s\n", "max ring:", bytes_str(LOCAL_MAX_RING_SIZE, buf));
	printf("%-14s %s\n", "default ring:",
	       bytes_str(LOCAL_DEFAULT_RING_SIZE, buf));
	printf("%-14s %s\n", "max bus:", bytes_str(LOCAL_MAX_BUS_BYTES, buf));
	printf("%-14s %s\n", "max per proc:",
	       bytes_str(LOCAL_MAX_USER_BYTES, buf));
}

static int info_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct mmsb_bus *bus;
	int fd, opt, ret;

	if ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		return tool_common_option(&cmd_info, opt);
	if (optind != argc)
		return tool_usage_error(&cmd_info, "no arguments expected");

	fd = open(TOOL_DEVICE, O_RDONLY | O_CLOEXEC);
	ret = fd < 0 ? -errno : 0;
	/* Where libmmsb, left to choose, falls back to the local backend. */
	if (ret == -ENOENT || ret == -ENXIO || ret == -ENODEV) {
		print_local_info();
		/* No bus of the local backend outlives the command that made it. */
		return tool_bus_name ? tool_fail_no_device(ret) : TOOL_OK;
	}
	if (ret)
		return tool_fail_no_device(ret);
	ret = print_device_info(fd);
	close(fd);
	if (ret || !tool_bus_name)
		return ret;
	ret = tool_open_bus(&cmd_info, NULL, MMSB_OPEN_RDONLY, NULL, &bus);
	if (ret)
		return ret;
	putchar('\n');
	ret = tool_print_bus_info(bus, tool_bus_name);
	mmsb_bus_close(bus);
	return ret;
}

const struct tool_cmd cmd_info = {
	.name = "info",
	.summary = "show the module's version, features and limits (and the bus's, with --bus)",
	.synopsis = "",
	.options = "  -h, --help   this text\n\n"
		   "Without the module, shows libmmsb's local backend and its fixed limits.",
	.run = info_run,
};
