// SPDX-License-Identifier: GPL-2.0
/*
 * mmsb-tool: printing records, for watch, demo and log dump: deltas,
 * overruns, page allocations and frees, and a note for a type this tool
 * does not know.  The text form is for people (a line per record, long
 * runs cut short); the JSON form is for programs (a line per object, every
 * byte, no cutting).
 */
#include <inttypes.h>
#include <time.h>

#include "mmsb-tool.h"

static const struct {
	unsigned int bit;
	const char *name;
} delta_flags[] = {
	{ MMSB_DELTA_CAPTURED, "captured" },
	{ MMSB_DELTA_SUBMITTED, "submitted" },
	{ MMSB_DELTA_FULL, "full" },
	{ MMSB_DELTA_CHECK_BASE, "check-base" },
	{ MMSB_DELTA_RESTORED, "restored" },
};

#define NR_DELTA_FLAGS (sizeof(delta_flags) / sizeof(delta_flags[0]))

/* Runs the text form shows of a record; a line is for a person to read. */
#define SHOWN_RUNS	8

static void print_quoted(FILE *f, const unsigned char *p, size_t len,
			 size_t max)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < len && i < max; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			fputc(p[i], f);
		else
			fprintf(f, "\\x%02x", p[i]);
	}
	fputc('"', f);
	if (len > max)
		fprintf(f, "...");
}

void tool_print_runs(FILE *f, const struct mmsb_delta *d, size_t max_bytes)
{
	const struct mmsb_run *run = mmsb_record_runs(d);
	const unsigned char *data = mmsb_record_payload(d);
	uint32_t i;

	for (i = 0; i < d->nr_runs && i < SHOWN_RUNS; i++) {
		fprintf(f, "%s[%" PRIu32 ",+%" PRIu32 ") ", i ? " " : "",
			run[i].offset, run[i].len);
		print_quoted(f, data, run[i].len, max_bytes);
		data += run[i].len;
	}
	if (d->nr_runs > SHOWN_RUNS)
		fprintf(f, " and %" PRIu32 " more runs", d->nr_runs - SHOWN_RUNS);
}

/*
 * Every record starts with its size and type, so one of a type this tool
 * does not know can be stepped over; mmsb_record_next() refuses it, as it
 * refuses anything it cannot validate.
 */
static bool record_is_skippable(const struct mmsb_record_iter *it)
{
	const struct mmsb_delta *d = (const struct mmsb_delta *)it->next;
	size_t left = it->end - it->next;

	return left >= 8 && d->type > MMSB_REC_PAGE_FREE && d->size >= 8 &&
	       !(d->size % MMSB_DELTA_ALIGN) && d->size <= left;
}

int tool_record_next(struct mmsb_record_iter *it, const struct mmsb_delta **rec)
{
	int ret = mmsb_record_next(it, rec);

	if (ret >= 0 || !record_is_skippable(it))
		return ret;
	*rec = (const struct mmsb_delta *)it->next;
	it->next += (*rec)->size;
	return 1;
}

static bool record_is_known(const struct mmsb_delta *d)
{
	return d->type <= MMSB_REC_PAGE_FREE;
}

static void print_flags(FILE *f, const struct mmsb_delta *d)
{
	size_t i;

	for (i = 0; i < NR_DELTA_FLAGS; i++)
		if (d->flags & delta_flags[i].bit)
			fprintf(f, " %s", delta_flags[i].name);
}

static void print_flags_json(FILE *f, const struct mmsb_delta *d)
{
	const char *sep = "";
	size_t i;

	fprintf(f, ",\"flags\":[");
	for (i = 0; i < NR_DELTA_FLAGS; i++) {
		if (!(d->flags & delta_flags[i].bit))
			continue;
		fprintf(f, "%s\"%s\"", sep, delta_flags[i].name);
		sep = ",";
	}
	fputc(']', f);
}

void tool_print_time(FILE *f, uint64_t ns)
{
	time_t secs = ns / 1000000000;
	struct tm tm;
	char buf[16];

	localtime_r(&secs, &tm);
	strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
	fprintf(f, "%s.%06u", buf, (unsigned int)(ns % 1000000000 / 1000));
}

void tool_print_record(FILE *f, const struct mmsb_delta *d, size_t max_bytes)
{
	if (!record_is_known(d)) {
		fprintf(f, "record of unknown type %u, %" PRIu32 " bytes: skipped\n",
			d->type, d->size);
		return;
	}
	if (d->type == MMSB_REC_OVERRUN) {
		fprintf(f, "overrun: lost %" PRIu64 " records, seq %" PRIu64
			" to %" PRIu64 "\n", (uint64_t)d->lost,
			(uint64_t)d->seq, (uint64_t)(d->seq + d->lost - 1));
		return;
	}
	tool_print_time(f, d->timestamp_ns);
	if (d->type != MMSB_REC_DELTA) {
		fprintf(f, " seq %" PRIu64 " page %" PRIu64 " %s: %" PRIu64
			" bytes, epoch %" PRIu64 ", pid %" PRIu32,
			(uint64_t)d->seq, (uint64_t)d->page_id,
			d->type == MMSB_REC_PAGE_ALLOC ? "alloc" : "free",
			(uint64_t)d->page_size, (uint64_t)d->epoch, d->pid);
		print_flags(f, d);
		fputc('\n', f);
		return;
	}
	fprintf(f, " seq %" PRIu64 " page %" PRIu64 " epoch %" PRIu64
		"->%" PRIu64 " pid %" PRIu32, (uint64_t)d->seq,
		(uint64_t)d->page_id, (uint64_t)d->base_epoch,
		(uint64_t)d->epoch, d->pid);
	print_flags(f, d);
	if (d->cause_seq)
		fprintf(f, " cause %" PRIu64, (uint64_t)d->cause_seq);
	fprintf(f, ": %" PRIu32 " run%s, %" PRIu64 " byte%s: ", d->nr_runs,
		d->nr_runs == 1 ? "" : "s", (uint64_t)d->payload_len,
		d->payload_len == 1 ? "" : "s");
	tool_print_runs(f, d, max_bytes);
	fputc('\n', f);
}

void tool_print_record_json(FILE *f, const struct mmsb_delta *d)
{
	const struct mmsb_run *run = mmsb_record_runs(d);
	const unsigned char *data = mmsb_record_payload(d);
	uint32_t i, j;

	if (!record_is_known(d)) {
		fprintf(f, "{\"type\":\"unknown\",\"type_id\":%u,\"size\":%"
			PRIu32 "}", d->type, d->size);
		return;
	}
	if (d->type == MMSB_REC_OVERRUN) {
		fprintf(f, "{\"type\":\"overrun\",\"seq\":%" PRIu64
			",\"lost\":%" PRIu64 "}", (uint64_t)d->seq,
			(uint64_t)d->lost);
		return;
	}
	if (d->type != MMSB_REC_DELTA) {
		fprintf(f, "{\"type\":\"%s\",\"seq\":%" PRIu64 ",\"page\":%"
			PRIu64 ",\"epoch\":%" PRIu64 ",\"page_size\":%" PRIu64
			",\"pid\":%" PRIu32 ",\"timestamp_ns\":%" PRIu64,
			d->type == MMSB_REC_PAGE_ALLOC ? "page_alloc" : "page_free",
			(uint64_t)d->seq, (uint64_t)d->page_id,
			(uint64_t)d->epoch, (uint64_t)d->page_size, d->pid,
			(uint64_t)d->timestamp_ns);
		print_flags_json(f, d);
		fprintf(f, "}");
		return;
	}
	fprintf(f, "{\"type\":\"delta\",\"seq\":%" PRIu64 ",\"page\":%" PRIu64
		",\"epoch\":%" PRIu64 ",\"base_epoch\":%" PRIu64
		",\"pid\":%" PRIu32 ",\"timestamp_ns\":%" PRIu64
		",\"cause_seq\":%" PRIu64 ",\"size\":%" PRIu32,
		(uint64_t)d->seq, (uint64_t)d->page_id, (uint64_t)d->epoch,
		(uint64_t)d->base_epoch, d->pid, (uint64_t)d->timestamp_ns,
		(uint64_t)d->cause_seq, d->size);
	print_flags_json(f, d);
	fprintf(f, ",\"runs\":[");
	for (i = 0; i < d->nr_runs; i++) {
		fprintf(f, "%s{\"offset\":%" PRIu32 ",\"len\":%" PRIu32
			",\"data\":\"", i ? "," : "", run[i].offset,
			run[i].len);
		for (j = 0; j < run[i].len; j++)
			fprintf(f, "%02x", data[j]);
		data += run[i].len;
		fprintf(f, "\"}");
	}
	fprintf(f, "]}");
}
