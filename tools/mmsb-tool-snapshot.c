// SPDX-License-Identifier: GPL-2.0
/*
 * mmsb-tool snapshot and restore: a bus's pages to a file, and a file's
 * pages into a bus (Documentation/snapshot-format.md).
 *
 * snapshot writes to a temporary file beside FILE and renames it over FILE
 * only once the snapshot is whole and on disk, so a failed snapshot never
 * destroys an older good one.  restore reads and checks the whole file
 * before it attaches, so a damaged file changes no bus.  FILE "-" is
 * standard output or input: the format needs no seek.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmsb-tool.h"

static bool is_stdio(const char *file)
{
	return !strcmp(file, "-");
}

uint64_t tool_snap_page_bytes(const struct mmsb_snap *snap)
{
	uint64_t bytes = 0;
	unsigned int i;

	for (i = 0; i < snap->nr_pages; i++)
		bytes += snap->pages[i].size;
	return bytes;
}

/* Writes @snap to @file through a temporary file and a rename. */
static int save_to_file(const struct mmsb_snap *snap, const char *file)
{
	char *tmp;
	int fd, ret;

	if (asprintf(&tmp, "%s.XXXXXX", file) < 0)
		return tool_fail(-ENOMEM, "a temporary file name");
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = tool_fail(-errno, "cannot create '%s'", tmp);
		free(tmp);
		return ret;
	}
	ret = mmsb_snap_save(snap, fd);
	if (ret)
		ret = tool_fail(ret, "writing '%s'", tmp);
	else if (fsync(fd))
		ret = tool_fail(-errno, "writing '%s'", tmp);
	if (close(fd) && !ret)
		ret = tool_fail(-errno, "writing '%s'", tmp);
	if (!ret && rename(tmp, file))
		ret = tool_fail(-errno, "renaming '%s' to '%s'", tmp, file);
	if (ret)
		unlink(tmp);
	free(tmp);
	return ret;
}

int tool_write_snapshot(const struct mmsb_snap *snap, const char *file,
			const char *source, const char *name)
{
	int ret;

	if (is_stdio(file)) {
		ret = mmsb_snap_save(snap, STDOUT_FILENO);
		if (ret)
			return tool_fail(ret, "writing the snapshot to standard output");
		return TOOL_OK;
	}
	ret = save_to_file(snap, file);
	if (!ret)
		printf("%s '%s': %u pages, %" PRIu64 " bytes, seq %" PRIu64
		       " -> %s\n", source, name, snap->nr_pages,
		       tool_snap_page_bytes(snap), snap->seq, file);
	return ret;
}

static int snapshot_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct mmsb_snap *snap;
	struct mmsb_bus *bus;
	const char *name, *file;
	int opt, ret;

	if ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		return tool_common_option(&cmd_snapshot, opt);
	if (argc - optind != 2)
		return tool_usage_error(&cmd_snapshot, "expected BUS FILE");
	name = argv[optind];
	file = argv[optind + 1];
	/* Taking a snapshot needs only read permission on the bus. */
	ret = tool_open_bus(&cmd_snapshot, name, MMSB_OPEN_RDONLY, NULL, &bus);
	if (ret)
		return ret;
	ret = mmsb_snapshot(bus, NULL, 0, &snap);
	mmsb_bus_close(bus);
	if (ret)
		return tool_fail(ret, "taking a snapshot of bus '%s'", name);
	ret = tool_write_snapshot(snap, file, "bus", name);
	mmsb_snap_free(snap);
	return ret;
}

const struct tool_cmd cmd_snapshot = {
	.name = "snapshot",
	.summary = "save every page of a bus, with its id and epoch, to a file",
	.synopsis = "BUS FILE",
	.options = "  FILE         the snapshot file, replaced only once complete;\n"
		   "               - for standard output\n"
		   "  -h, --help   this text\n\n"
		   "The pages are taken at one point of the bus's stream, seq S, while\n"
		   "others go on storing and committing; their pending stores are\n"
		   "committed first.  Prints the pages, their bytes and S.  Read\n"
		   "permission on the bus is enough.",
	.run = snapshot_run,
};

/* Says what mmsb_snap_load() found wrong with @file. */
static int load_failed(int err, const char *file, const struct mmsb_snap *snap)
{
	const struct mmsb_snapshot_page *bad;

	if (err == -EBADMSG && snap) {
		/* The pages before the damaged one are whole; see mmsb_snap_load(3). */
		bad = &snap->pages[snap->nr_pages];
		if (bad->page_id)
			fprintf(stderr, "mmsb-tool: '%s' is damaged: page %" PRIu64
				" (page %u of the file) fails its checksum or is cut short\n",
				file, (uint64_t)bad->page_id, snap->nr_pages + 1);
		else
			fprintf(stderr, "mmsb-tool: '%s' is damaged: the entry of page %u"
				" of the file fails its checksum or is cut short\n",
				file, snap->nr_pages + 1);
		return TOOL_FAIL;
	}
	if (err == -EBADMSG) {
		fprintf(stderr, "mmsb-tool: '%s' is not an MMSB snapshot, or its header"
			" is damaged or cut short\n", file);
		return TOOL_FAIL;
	}
	if (err == -EPROTONOSUPPORT) {
		fprintf(stderr, "mmsb-tool: '%s' is a snapshot of a later format"
			" version than this mmsb-tool reads\n", file);
		return TOOL_FAIL;
	}
	return tool_fail(err, "reading '%s'", file);
}

int tool_load_snapshot(const char *file, struct mmsb_snap **snap)
{
	int fd = STDIN_FILENO, ret;

	if (!is_stdio(file)) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return tool_fail(-errno, "cannot open '%s'", file);
	}
	ret = mmsb_snap_load(fd, snap);
	if (fd != STDIN_FILENO)
		close(fd);
	return ret ? load_failed(ret, file, *snap) : TOOL_OK;
}

/* Says why the bus refused, for the errors restore can meet by design. */
static int restore_failed(int err, const char *name,
			  const struct mmsb_snap *snap)
{
	if (err == -EEXIST) {
		fprintf(stderr, "mmsb-tool: bus '%s' has already used page ids as high"
			" as %" PRIu64 ", the snapshot's first:\n"
			"           restore into a new bus (mmsb-tool bus hold --background NAME)\n",
			name, (uint64_t)snap->pages[0].page_id);
		return TOOL_FAIL;
	}
	if (err == -EPERM) {
		fprintf(stderr, "mmsb-tool: only the owner of bus '%s' (who created it)"
			" may restore pages into it\n", name);
		return TOOL_FAIL;
	}
	return tool_fail(err, "restoring into bus '%s' (pages restored before"
			 " the failure stay)", name);
}

static int restore_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct mmsb_snap *snap = NULL;
	struct mmsb_bus *bus;
	const char *name, *file;
	int opt, ret;

	if ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		return tool_common_option(&cmd_restore, opt);
	if (argc - optind != 2)
		return tool_usage_error(&cmd_restore, "expected FILE BUS");
	file = argv[optind];
	name = argv[optind + 1];
	ret = tool_load_snapshot(file, &snap);
	if (!ret)
		ret = tool_open_bus(&cmd_restore, name, 0, NULL, &bus);
	if (!ret) {
		ret = mmsb_snap_restore(bus, snap);
		mmsb_bus_close(bus);
		if (ret)
			ret = restore_failed(ret, name, snap);
		else
			printf("bus '%s': %u pages, %" PRIu64 " bytes restored,"
			       " as of seq %" PRIu64 " of the snapshot\n", name,
			       snap->nr_pages, tool_snap_page_bytes(snap), snap->seq);
	}
	mmsb_snap_free(snap);
	return ret;
}

const struct tool_cmd cmd_restore = {
	.name = "restore",
	.summary = "make the pages of a snapshot file again in a bus",
	.synopsis = "FILE BUS",
	.options = "  FILE         a file written by snapshot; - for standard input\n"
		   "  -h, --help   this text\n\n"
		   "Each page gets its id, size, epoch and bytes again, by ascending id,\n"
		   "so that the records that followed the snapshot apply to it.  The\n"
		   "whole file is checked first: a damaged one changes nothing.  The\n"
		   "bus must exist (bus hold), be owned by the caller, and never have\n"
		   "used an id as high as the snapshot's first: a new bus.",
	.run = restore_run,
};
