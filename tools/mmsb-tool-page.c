// SPDX-License-Identifier: GPL-2.0
/*
 * mmsb-tool alloc, free, write, commit and cat: the pages of a bus.
 *
 * write stores into a mapping of the page with plain CPU stores, exactly
 * as an application would, so the module captures them.  Captured stores
 * belong to the page, not to the mapping: they stay pending after write
 * returns, and any process attached to the bus may commit them later.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mmsb-tool.h"

static int alloc_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct mmsb_bus *bus;
	uint64_t size, id;
	int i, opt, ret;

	if ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		return tool_common_option(&cmd_alloc, opt);
	if (optind == argc)
		return tool_usage_error(&cmd_alloc, "no size given");
	for (i = optind; i < argc; i++)
		if (!tool_parse_size(argv[i], &size) || !size)
			return tool_usage_error(&cmd_alloc, "bad size '%s'", argv[i]);
	ret = tool_open_bus(&cmd_alloc, NULL, 0, NULL, &bus);
	if (ret)
		return ret;
	for (i = optind; i < argc && !ret; i++) {
		tool_parse_size(argv[i], &size);
		ret = mmsb_page_alloc(bus, size, &id);
		if (ret)
			ret = tool_fail(ret, "allocating %" PRIu64 " bytes", size);
		else
			printf("%" PRIu64 "\n", id);
	}
	mmsb_bus_close(bus);
	return ret;
}

const struct tool_cmd cmd_alloc = {
	.name = "alloc",
	.summary = "allocate zero-filled pages; print their ids",
	.synopsis = "SIZE...",
	.options = "  SIZE         bytes, decimal or 0x hex, with an optional k, m or g\n"
		   "  -h, --help   this text\n\n"
		   "Prints one page id per line, in the order of the sizes.",
	.run = alloc_run,
};

/* Parses every argument from optind on as a page id into a new array. */
static int parse_ids(const struct tool_cmd *cmd, int argc, char **argv,
		     uint64_t **idsp)
{
	uint64_t *ids;
	int i;

	if (optind == argc)
		return tool_usage_error(cmd, "no page given");
	ids = calloc(argc - optind, sizeof(*ids));
	if (!ids)
		return tool_fail(-ENOMEM, "page list");
	for (i = optind; i < argc; i++) {
		if (!tool_parse_id(argv[i], &ids[i - optind])) {
			free(ids);
			return tool_usage_error(cmd, "bad page id '%s'", argv[i]);
		}
	}
	*idsp = ids;
	return TOOL_OK;
}

static int free_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct mmsb_bus *bus;
	int i, opt, ret, err;
	uint64_t *ids;

	if ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		return tool_common_option(&cmd_free, opt);
	ret = parse_ids(&cmd_free, argc, argv, &ids);
	if (ret)
		return ret;
	ret = tool_open_bus(&cmd_free, NULL, 0, NULL, &bus);
	if (!ret) {
		for (i = 0; !ret && i < argc - optind; i++) {
			err = mmsb_page_free(bus, ids[i]);
			if (err)
				ret = tool_fail(err, "freeing page %" PRIu64, ids[i]);
		}
		mmsb_bus_close(bus);
	}
	free(ids);
	return ret;
}

const struct tool_cmd cmd_free = {
	.name = "free",
	.summary = "free pages",
	.synopsis = "PAGE...",
	.options = "  -h, --help   this text\n\n"
		   "Stops at the first page that cannot be freed.  Stores to a freed\n"
		   "page that were not committed are lost; mappings of it are revoked.",
	.run = free_run,
};

/* Decodes hex digits, optionally separated by spaces or colons. */
static bool parse_hex(const char *s, unsigned char **bufp, size_t *lenp)
{
	unsigned char *buf = malloc(strlen(s) / 2 + 1);
	int hi = -1, nib;
	size_t len = 0;

	if (!buf)
		return false;
	if (!strncmp(s, "0x", 2))
		s += 2;
	for (; *s; s++) {
		if (*s == ' ' || *s == ':') {
			if (hi >= 0)
				break;
			continue;
		}
		if (*s >= '0' && *s <= '9')
			nib = *s - '0';
		else if ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			nib = (*s | 0x20) - 'a' + 10;
		else
			break;
		if (hi < 0) {
			hi = nib;
		} else {
			buf[len++] = hi << 4 | nib;
			hi = -1;
		}
	}
	if (*s || hi >= 0 || !len) {
		free(buf);
		return false;
	}
	*bufp = buf;
	*lenp = len;
	return true;
}

/* Reads all of @path ("-": stdin) into a new buffer. */
static int read_file(const char *path, unsigned char **bufp, size_t *lenp)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	unsigned char *buf = NULL, *bigger;
	size_t len = 0, cap = 0, n;
	int err = 0;

	if (!f)
		return -errno;
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			bigger = realloc(buf, cap);
			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			buf = bigger;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n);
	if (!err && ferror(f))
		err = -EIO;
	if (f != stdin)
		fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

static int print_commit(uint64_t id, uint64_t seq)
{
	if (seq)
		printf("page %" PRIu64 ": seq %" PRIu64 "\n", id, seq);
	else
		printf("page %" PRIu64 ": unchanged\n", id);
	return TOOL_OK;
}

/* Stores @len bytes at @off of page @id through this process's mapping. */
static int store(struct mmsb_bus *bus, uint64_t id, uint64_t off,
		 const unsigned char *data, size_t len)
{
	size_t size;
	void *p;
	int ret;

	ret = mmsb_page_map(bus, id, &p, &size);
	if (ret)
		return tool_fail(ret, "mapping page %" PRIu64, id);
	if (off > size || len > size - off)
		return tool_fail(-ERANGE, "%zu bytes at %" PRIu64 " do not fit page %"
				 PRIu64 " of %zu bytes", len, off, id, size);
	memcpy((unsigned char *)p + off, data, len);
	return TOOL_OK;
}

static int write_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "offset", required_argument, NULL, 'o' },
		{ "hex", required_argument, NULL, 'x' },
		{ "string", required_argument, NULL, 's' },
		{ "file", required_argument, NULL, 'f' },
		{ "commit", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *hex = NULL, *string = NULL, *file = NULL;
	unsigned char *data = NULL;
	uint64_t off = 0, id, seq;
	struct mmsb_bus *bus;
	bool commit = false;
	size_t len;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "o:x:s:f:ch", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			if (!tool_parse_size(optarg, &off))
				return tool_usage_error(&cmd_write, "bad offset '%s'", optarg);
			break;
		case 'x':
			hex = optarg;
			break;
		case 's':
			string = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'c':
			commit = true;
			break;
		default:
			return tool_common_option(&cmd_write, opt);
		}
	}
	if (!!hex + !!string + !!file != 1)
		return tool_usage_error(&cmd_write, "give one of --hex, --string, --file");
	if (argc - optind != 1 || !tool_parse_id(argv[optind], &id))
		return tool_usage_error(&cmd_write, "give one page id");
	if (hex && !parse_hex(hex, &data, &len))
		return tool_usage_error(&cmd_write, "bad hex '%s'", hex);
	if (string && !(data = (unsigned char *)strdup(string)))
		return tool_fail(-ENOMEM, "copying the string");
	len = string ? strlen(string) : len;
	if (file && (ret = read_file(file, &data, &len)))
		return tool_fail(ret, "reading %s", file);

	ret = tool_open_bus(&cmd_write, NULL, 0, NULL, &bus);
	if (!ret) {
		ret = store(bus, id, off, data, len);
		if (!ret && commit) {
			ret = mmsb_commit(bus, id, &seq);
			if (ret < 0)
				ret = tool_fail(ret, "committing page %" PRIu64, id);
			else
				ret = print_commit(id, ret ? seq : 0);
		}
		mmsb_bus_close(bus);
	}
	free(data);
	return ret;
}

const struct tool_cmd cmd_write = {
	.name = "write",
	.summary = "store bytes into a page with plain stores, then maybe commit",
	.synopsis = "[-o OFFSET] (-x HEX | -s STRING | -f FILE) [-c] PAGE",
	.options = "  -o, --offset OFFSET  where in the page (default 0)\n"
		   "  -x, --hex HEX        the bytes, as hex digits (\"de ad\", \"dead\", \"0xdead\")\n"
		   "  -s, --string STRING  the bytes of STRING, without a NUL\n"
		   "  -f, --file FILE      the bytes of FILE (\"-\": standard input)\n"
		   "  -c, --commit         commit the page afterwards and print\n"
		   "                       \"page N: seq S\" or \"page N: unchanged\"\n"
		   "  -h, --help           this text\n\n"
		   "Without --commit the stores stay captured but pending: a later\n"
		   "`mmsb-tool commit PAGE`, from any process, turns them into a record.",
	.run = write_run,
};

static int commit_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "cause", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	uint64_t cause = 0, first, *ids, *seqs;
	struct mmsb_bus *bus;
	bool all = false;
	int i, opt, ret, nr;

	while ((opt = getopt_long(argc, argv, "aC:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			all = true;
			break;
		case 'C':
			if (!tool_parse_id(optarg, &cause))
				return tool_usage_error(&cmd_commit, "bad sequence '%s'", optarg);
			break;
		default:
			return tool_common_option(&cmd_commit, opt);
		}
	}
	if (all) {
		if (optind != argc)
			return tool_usage_error(&cmd_commit, "--all takes no pages");
		ret = tool_open_bus(&cmd_commit, NULL, 0, NULL, &bus);
		if (ret)
			return ret;
		nr = mmsb_commit_all(bus, cause, &first);
		mmsb_bus_close(bus);
		if (nr < 0)
			return tool_fail(nr, "committing every page");
		if (nr)
			printf("%d record%s, first seq %" PRIu64 "\n", nr,
			       nr == 1 ? "" : "s", first);
		else
			printf("0 records\n");
		return TOOL_OK;
	}

	ret = parse_ids(&cmd_commit, argc, argv, &ids);
	if (ret)
		return ret;
	nr = argc - optind;
	seqs = calloc(nr, sizeof(*seqs));
	if (!seqs)
		ret = tool_fail(-ENOMEM, "sequence list");
	else
		ret = tool_open_bus(&cmd_commit, NULL, 0, NULL, &bus);
	if (!ret) {
		/* One call: every listed page at one consistent cut. */
		ret = mmsb_commit_many(bus, ids, nr, seqs, cause);
		mmsb_bus_close(bus);
		if (ret < 0)
			ret = tool_fail(ret, "committing");
		else
			for (i = 0, ret = TOOL_OK; i < nr; i++)
				print_commit(ids[i], seqs[i]);
	}
	free(seqs);
	free(ids);
	return ret;
}

const struct tool_cmd cmd_commit = {
	.name = "commit",
	.summary = "turn the pending stores of pages into delta records",
	.synopsis = "[-C SEQ] PAGE...\n"
		    "       mmsb-tool [--bus NAME] commit --all [-C SEQ]",
	.options = "  PAGE           pages to commit together, at one consistent cut;\n"
		   "                 prints \"page N: seq S\" or \"page N: unchanged\" for each\n"
		   "  -a, --all      every dirty page of the bus; prints how many records\n"
		   "  -C, --cause SEQ\n"
		   "                 the record that caused these stores (cause_seq)\n"
		   "  -h, --help     this text\n\n"
		   "A page whose bytes are what they were at its last commit emits nothing.",
	.run = commit_run,
};

/* Prints @len bytes as `hexdump -C` does, identical lines folded into "*". */
static void hexdump(const unsigned char *p, uint64_t base, size_t len)
{
	bool folded = false;
	size_t off, i;

	for (off = 0; off < len; off += 16) {
		size_t n = len - off < 16 ? len - off : 16;

		if (off && n == 16 && !memcmp(p + off, p + off - 16, 16)) {
			if (!folded)
				printf("*\n");
			folded = true;
			continue;
		}
		folded = false;
		printf("%08" PRIx64 " ", base + off);
		for (i = 0; i < 16; i++) {
			if (i == 8)
				putchar(' ');
			if (i < n)
				printf(" %02x", p[off + i]);
			else
				printf("   ");
		}
		printf("  |");
		for (i = 0; i < n; i++)
			putchar(p[off + i] >= 0x20 && p[off + i] < 0x7f ?
				p[off + i] : '.');
		printf("|\n");
	}
	printf("%08" PRIx64 "\n", base + len);
}

static int cat_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "offset", required_argument, NULL, 'o' },
		{ "length", required_argument, NULL, 'l' },
		{ "raw", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	uint64_t off = 0, len = UINT64_MAX, id;
	struct mmsb_bus *bus;
	bool raw = false;
	size_t size;
	void *p;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "o:l:rh", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			if (!tool_parse_size(optarg, &off))
				return tool_usage_error(&cmd_cat, "bad offset '%s'", optarg);
			break;
		case 'l':
			if (!tool_parse_size(optarg, &len))
				return tool_usage_error(&cmd_cat, "bad length '%s'", optarg);
			break;
		case 'r':
			raw = true;
			break;
		default:
			return tool_common_option(&cmd_cat, opt);
		}
	}
	if (argc - optind != 1 || !tool_parse_id(argv[optind], &id))
		return tool_usage_error(&cmd_cat, "give one page id");
	/* mmap needs a file opened for writing; nothing here stores. */
	ret = tool_open_bus(&cmd_cat, NULL, 0, NULL, &bus);
	if (ret)
		return ret;
	ret = mmsb_page_map(bus, id, &p, &size);
	if (ret) {
		ret = tool_fail(ret, "mapping page %" PRIu64, id);
	} else if (off > size) {
		ret = tool_fail(-ERANGE, "offset %" PRIu64 " is past page %" PRIu64
				" of %zu bytes", off, id, size);
	} else {
		if (len > size - off)
			len = size - off;
		if (raw)
			fwrite((unsigned char *)p + off, 1, len, stdout);
		else
			hexdump((unsigned char *)p + off, off, len);
		if (fflush(stdout))
			ret = tool_fail(-errno, "writing the output");
	}
	mmsb_bus_close(bus);
	return ret;
}

const struct tool_cmd cmd_cat = {
	.name = "cat",
	.summary = "show the bytes of a page, as hex or raw",
	.synopsis = "[-o OFFSET] [-l LENGTH] [-r] PAGE",
	.options = "  -o, --offset OFFSET  start there (default 0)\n"
		   "  -l, --length LENGTH  at most this many bytes (default: to the end)\n"
		   "  -r, --raw            the bytes themselves, not a hex dump\n"
		   "  -h, --help           this text\n\n"
		   "The hex dump is hexdump -C's: runs of identical lines fold into \"*\".",
	.run = cat_run,
};
