// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Commits: the stores captured in mapped pages become delta records.
 */
#include <stdint.h>

#include "backend.h"

MMSB_EXPORT
int mmsb_commit_many(struct mmsb_bus *bus, const uint64_t *ids,
		     unsigned int nr, uint64_t *seqs, uint64_t cause_seq)
{
	struct mmsb_commit c = {
		.ids = (uintptr_t)ids,
		.nr_ids = nr,
		.seqs = (uintptr_t)seqs,
		.cause_seq = cause_seq,
	};
	int ret = bus->ops->commit(bus, &c);

	return ret ? ret : (int)c.nr_records;
}

MMSB_EXPORT
int mmsb_commit(struct mmsb_bus *bus, uint64_t page_id, uint64_t *seq)
{
	uint64_t s;
	int ret = mmsb_commit_many(bus, &page_id, 1, &s, 0);

	if (ret >= 0 && seq)
		*seq = s;
	return ret;
}

MMSB_EXPORT
int mmsb_commit_all(struct mmsb_bus *bus, uint64_t cause_seq,
		    uint64_t *first_seq)
{
	struct mmsb_commit c = {
		.flags = MMSB_COMMIT_ALL,
		.cause_seq = cause_seq,
	};
	int ret = bus->ops->commit(bus, &c);

	if (ret)
		return ret;
	if (first_seq)
		*first_seq = c.first_seq;
	return c.nr_records;
}
