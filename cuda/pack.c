// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Packing records into an apply batch (pack.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mmsb_delta.h"
#include "pack.h"

int pack_init(struct pack *pk, unsigned int nr_pages)
{
	*pk = (struct pack){ 0 };
	pk->span = calloc(nr_pages, sizeof(*pk->span));
	return pk->span ? 0 : -ENOMEM;
}

void pack_fini(struct pack *pk)
{
	free(pk->run);
	free(pk->span);
	*pk = (struct pack){ 0 };
}

void pack_start(struct pack *pk)
{
	pk->batch++;
	pk->work_len = 0;
	pk->nr_runs = 0;
}

static uint64_t round_up16(uint64_t n)
{
	return (n + PLAN_WORD - 1) & ~(uint64_t)(PLAN_WORD - 1);
}

uint64_t pack_need(const struct pack *pk, const struct mmsb_delta *d)
{
	uint64_t work = pk->work_len + d->payload_len +
			(uint64_t)(PLAN_WORD - 1) * d->nr_runs;

	return round_up16(work) +
	       (pk->nr_runs + d->nr_runs) * sizeof(struct plan_run);
}

/* The page bytes [lo, hi) that @d's runs lie within. */
static void record_extent(const struct mmsb_delta *d, uint64_t *lo,
			  uint64_t *hi)
{
	const struct mmsb_run *run = mmsb_delta_runs(d);

	*lo = run[0].offset;
	*hi = (uint64_t)run[d->nr_runs - 1].offset + run[d->nr_runs - 1].len;
}

bool pack_conflicts(const struct pack *pk, unsigned int page,
		    const struct mmsb_delta *d)
{
	const struct pack_span *s = &pk->span[page];
	uint64_t lo, hi;

	if (s->batch != pk->batch)
		return false;
	record_extent(d, &lo, &hi);
	return lo < s->hi && s->lo < hi;
}

static int grow_runs(struct pack *pk, uint64_t need)
{
	uint64_t cap = pk->cap_runs ? pk->cap_runs : 64;
	struct plan_run *run;

	if (need <= pk->cap_runs)
		return 0;
	while (cap < need)
		cap *= 2;
	run = realloc(pk->run, cap * sizeof(*run));
	if (!run)
		return -ENOMEM;
	pk->run = run;
	pk->cap_runs = cap;
	return 0;
}

int pack_add(struct pack *pk, unsigned int page, uint64_t arena_off,
	     const struct mmsb_delta *d)
{
	const struct mmsb_run *run = mmsb_delta_runs(d);
	const uint8_t *payload = mmsb_delta_payload(d);
	struct pack_span *s = &pk->span[page];
	uint64_t lo, hi, other;
	struct plan_run *r;
	uint32_t i;

	if (grow_runs(pk, pk->nr_runs + d->nr_runs))
		return -ENOMEM;
	for (i = 0; i < d->nr_runs; i++) {
		other = arena_off + run[i].offset;
		r = &pk->run[pk->nr_runs++];
		r->work = pk->work_len +
			  ((other - pk->work_len) & (PLAN_WORD - 1));
		r->other = other;
		r->len = run[i].len;
		memcpy(pk->buf + r->work, payload, r->len);
		payload += r->len;
		pk->work_len = r->work + r->len;
	}

	record_extent(d, &lo, &hi);
	if (s->batch != pk->batch) {
		s->batch = pk->batch;
		s->lo = lo;
		s->hi = hi;
	} else {
		s->lo = lo < s->lo ? lo : s->lo;
		s->hi = hi > s->hi ? hi : s->hi;
	}
	return 0;
}

uint64_t pack_runs_offset(const struct pack *pk)
{
	return round_up16(pk->work_len);
}

uint64_t pack_finish(struct pack *pk)
{
	uint64_t off = pack_runs_offset(pk);
	uint64_t table = pk->nr_runs * sizeof(struct plan_run);

	memcpy(pk->buf + off, pk->run, table);
	return off + table;
}
