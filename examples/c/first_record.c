// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The smallest complete libmmsb program: create a bus, allocate a page,
 * store to it with plain stores, commit, and read back the record that the
 * stores became.  It runs on /dev/mmsb when the module is loaded and on the
 * local backend otherwise (MMSB_BACKEND=local forces it).
 *
 *   cc first_record.c $(pkg-config --cflags --libs libmmsb)
 *
 * Prints the backend and the record, and exits 0 only if the record holds
 * exactly the bytes stored.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <mmsb.h>

static int fail(const char *what, int err)
{
	fprintf(stderr, "first_record: %s: %s\n", what, mmsb_strerror(err));
	return 1;
}

int main(void)
{
	static const char greeting[] = "hello, bus";
	_Alignas(8) unsigned char buf[4096];
	const struct mmsb_delta *rec;
	struct mmsb_record_iter it;
	struct mmsb_bus *bus;
	char name[32];
	uint64_t page, seq;
	size_t size;
	ssize_t len;
	void *addr;
	int err;

	snprintf(name, sizeof(name), "first-record-%d", (int)getpid());
	err = mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE | MMSB_OPEN_EXCL, NULL);
	if (err)
		return fail("mmsb_bus_open", err);
	err = mmsb_page_alloc(bus, 4096, &page);
	if (!err)
		err = mmsb_page_map(bus, page, &addr, &size);
	if (err)
		return fail("page", err);

	memcpy((char *)addr + 100, greeting, sizeof(greeting) - 1);
	err = mmsb_commit(bus, page, &seq);
	if (err != 1)
		return fail("mmsb_commit", err < 0 ? err : -ENODATA);

	/* The page's PAGE_ALLOC record comes first, then the delta. */
	for (;;) {
		len = mmsb_read(bus, buf, sizeof(buf));
		if (len < 0)
			return fail("mmsb_read", (int)len);
		mmsb_record_iter_init(&it, buf, (size_t)len);
		while ((err = mmsb_record_next(&it, &rec)) == 1) {
			const struct mmsb_run *run = mmsb_record_runs(rec);

			if (rec->type != MMSB_REC_DELTA || rec->seq != seq)
				continue;
			printf("%s backend: record %llu, page %llu epoch %llu, "
			       "%u run(s): %u bytes at offset %u: \"%.*s\"\n",
			       mmsb_bus_backend(bus),
			       (unsigned long long)rec->seq,
			       (unsigned long long)rec->page_id,
			       (unsigned long long)rec->epoch, rec->nr_runs,
			       run->len, run->offset, (int)run->len,
			       (const char *)mmsb_record_payload(rec));
			mmsb_bus_close(bus);
			return rec->nr_runs == 1 && run->offset == 100 &&
			       run->len == sizeof(greeting) - 1 &&
			       !memcmp(mmsb_record_payload(rec), greeting,
				       run->len) ? 0 : 1;
		}
		if (err < 0)
			return fail("mmsb_record_next", err);
	}
}
