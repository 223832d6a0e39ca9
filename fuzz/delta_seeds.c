// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Description: writes the seed corpus of fuzz/delta_fuzz.c into the
 * directory it is given: valid records of every type, and diffs of pages
 * with few, many and only changed bytes, in the target's input format.
 *
 * Usage: delta_seeds DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mmsb_delta.h"

#define SEED_MAX	(2 * MMSB_CHUNK_SIZE + 64)

static const char *dir;
static unsigned int nr_seeds;

static int write_seed(const uint8_t *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%02u", dir, nr_seeds++);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		perror(path);
		return 1;
	}
	return 0;
}

/* Mode 0: a page size, then an encoded DELTA of @runs. */
static int record_seed(uint16_t page_size, const struct mmsb_run *run,
		       uint32_t nr_runs)
{
	static uint64_t seed[SEED_MAX / 8];
	uint8_t *s = (uint8_t *)seed, page[MMSB_CHUNK_SIZE];
	struct mmsb_delta hdr = { .flags = MMSB_DELTA_CAPTURED, .seq = 1,
				  .page_id = 1, .epoch = 1 };
	struct mmsb_runs runs = { .run = (struct mmsb_run *)run,
				  .nr = nr_runs, .cap = nr_runs };
	uint32_t i;
	long size;

	for (i = 0; i < nr_runs; i++)
		runs.payload_len += run[i].len;
	for (i = 0; i < sizeof(page); i++)
		page[i] = i * 13;
	/* The record goes 8 bytes in, past the 3 bytes of mode header. */
	size = mmsb_delta_encode(seed + 1, sizeof(seed) - 8, &hdr, &runs,
				 page);
	if (size < 0)
		return 1;
	s[5] = 0;
	s[6] = page_size;
	s[7] = page_size >> 8;
	return write_seed(s + 5, 3 + size);
}

/*
 * Mode 0: a bare header, as the module emits them: an OVERRUN, or the
 * PAGE_ALLOC (perhaps restored) or PAGE_FREE of a page of 4096 bytes.
 */
static int header_seed(uint16_t type, uint16_t flags, uint64_t epoch)
{
	uint8_t s[3 + sizeof(struct mmsb_delta)] = { 0, 0, 0x10 };
	struct mmsb_delta d = { .size = sizeof(d), .type = type,
				.flags = flags, .pid = 1234, .seq = 5,
				.page_id = 3, .epoch = epoch,
				.timestamp_ns = 1700000000000000000ULL };

	if (type == MMSB_REC_OVERRUN)
		d.page_id = 0;
	else
		d.page_size = 4096;
	memcpy(s + 3, &d, sizeof(d));
	return write_seed(s, sizeof(s));
}

/* Mode 1: growth step and misalignment, chunk size, page, then XOR mask. */
static int diff_seed(uint8_t step_misalign, uint8_t chunk, uint32_t len,
		     uint32_t change_every, uint32_t change_len)
{
	static uint8_t s[SEED_MAX];
	uint32_t i;

	s[0] = 1;
	s[1] = step_misalign;
	s[2] = chunk;
	for (i = 0; i < len; i++) {
		s[3 + i] = i * 7;
		s[3 + len + i] = i % change_every < change_len ? 0x5a : 0;
	}
	return write_seed(s, 3 + 2 * len);
}

int main(int argc, char **argv)
{
	static const struct mmsb_run two[] = { { 10, 3 }, { 100, 1 } };
	static const struct mmsb_run edge[] = { { 0, 1 }, { 4000, 96 } };
	static const struct mmsb_run one[] = { { 63, 1 } };

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	return record_seed(MMSB_CHUNK_SIZE, two, 2) ||
	       record_seed(MMSB_CHUNK_SIZE, edge, 2) ||
	       record_seed(64, one, 1) ||
	       header_seed(MMSB_REC_OVERRUN, 0, 3) ||
	       header_seed(MMSB_REC_PAGE_ALLOC, 0, 0) ||
	       header_seed(MMSB_REC_PAGE_ALLOC, MMSB_DELTA_RESTORED, 41) ||
	       header_seed(MMSB_REC_PAGE_FREE, 0, 7) ||
	       diff_seed(0x31, 8, 64, 17, 2) ||
	       diff_seed(0x00, 0, 300, 50, 9) ||
	       diff_seed(0x72, 0, MMSB_CHUNK_SIZE + 32, 2, 1) ||
	       diff_seed(0x04, 200, 1000, 1, 1);
}
