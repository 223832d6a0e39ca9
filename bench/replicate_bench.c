// SPDX-License-Identifier: GPL-2.0
/*
 * Replication end to end (bench/replicate-bench.sh): records/s, MB/s and
 * the latency from a source commit to the mirror having applied it, p50
 * and p99; and, as the baseline, plain JetStream: the same bytes, one
 * message per record, published asynchronously and read by an ordered
 * consumer, latency from publish to receipt.
 *
 *   replicate_bench mmsb|plain URL STREAM RECORDS BYTES RATE
 *
 * Each record changes BYTES bytes of a 4 KiB page (every byte inverted, so
 * that it is one run of exactly BYTES); the plain baseline sends messages
 * of that record's size.  RATE 0: as fast as it goes; else records a
 * second.  The stream (R3) is made if missing.  One line on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>
#include <mmsb.h>
#include <mmsb_replicate.h>

#define NR_PAGES	64
#define PAGE		4096
#define BENCH_RING	(64U << 20)

static int64_t *sent_ns;		/* by seq (mmsb) or index (plain) */
static uint64_t nr_sent;		/* room in sent_ns and lat_ns */
static int64_t *lat_ns;
static _Atomic uint64_t nr_lat;
static _Atomic int64_t last_ns;		/* when the last record arrived */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void pace(int64_t start, uint64_t n, double rate)
{
	int64_t due = start + (int64_t)(n * 1e9 / rate), now = now_ns();

	if (rate > 0 && due > now)
		usleep((due - now) / 1000);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t records, size_t size,
		   int64_t start)
{
	uint64_t n = atomic_load(&nr_lat);
	double secs = (atomic_load(&last_ns) - start) / 1e9;

	qsort(lat_ns, n, sizeof(*lat_ns), cmp_i64);
	printf("%-6s %8" PRIu64 " records of %5zu bytes: %9.0f records/s %7.2f MB/s"
	       "  p50 %8.3f ms  p99 %8.3f ms\n", what, records, size,
	       records / secs, records * size / secs / 1e6,
	       n ? lat_ns[n / 2] / 1e6 : 0, n ? lat_ns[n * 99 / 100] / 1e6 : 0);
}

/* mmsb: a bus, its replicator and a mirror, threads of this process. */
struct run {
	struct mmsb_repl_opts o;
	struct mmsb_bus *bus;
	volatile int stop;
	_Atomic uint64_t applied;
	uint64_t seen;		/* seqs whose latency is counted */
	int ret;
};

static void on_applied(void *arg, struct mmsb_bus *bus, uint64_t seq)
{
	struct run *m = arg;
	int64_t now = now_ns();

	(void)bus;
	/* The base at the start has no commit time: nothing to count. */
	for (; m->seen < seq && m->seen + 1 < nr_sent; m->seen++)
		if (sent_ns[m->seen + 1])
			lat_ns[atomic_fetch_add(&nr_lat, 1)] =
				now - sent_ns[m->seen + 1];
	atomic_store(&last_ns, now);
	atomic_store(&m->applied, seq);
}

static void *replicate_thread(void *arg)
{
	struct run *r = arg;

	r->ret = mmsb_replicate(r->bus, &r->o);
	return NULL;
}

static void *mirror_thread(void *arg)
{
	struct run *m = arg;

	m->ret = mmsb_mirror("bench-dst", MMSB_OPEN_LOCAL, &m->o);
	return NULL;
}

static int bench_mmsb(const char *url, const char *stream, uint64_t records,
		      size_t bytes, double rate)
{
	struct run r = { .o = { .url = url, .stream = stream, .replicas = 3,
				.base_ms = 3600000 } };
	struct run m = { .o = { .url = url, .stream = stream,
				.on_applied = on_applied } };
	/* A ring that a burst does not overrun: an OVERRUN costs a new base. */
	struct mmsb_bus_opts bo = { .ring_size = BENCH_RING };
	uint64_t ids[NR_PAGES], i, seq = 0;
	unsigned char *addr[NR_PAGES];
	struct mmsb_bus_info bi;
	struct mmsb_bus *bus;
	pthread_t rt, mt;
	int64_t start, t;
	size_t size;
	void *a;
	int ret;

	r.o.stop = &r.stop;
	m.o.stop = &m.stop;
	m.o.arg = &m;
	ret = mmsb_bus_open(&bus, "bench-src", MMSB_OPEN_LOCAL | MMSB_OPEN_CREATE,
			    &bo);
	for (i = 0; !ret && i < NR_PAGES; i++) {
		ret = mmsb_page_alloc(bus, PAGE, &ids[i]);
		if (!ret)
			ret = mmsb_page_map(bus, ids[i], &a, &size);
		addr[i] = a;
	}
	if (!ret)
		ret = mmsb_bus_open(&r.bus, "bench-src",
				    MMSB_OPEN_LOCAL | MMSB_OPEN_RDONLY, NULL);
	if (ret)
		return ret;
	pthread_create(&rt, NULL, replicate_thread, &r);
	pthread_create(&mt, NULL, mirror_thread, &m);
	/* The mirror has restored the first base: the bus as it is now. */
	mmsb_bus_info(bus, &bi);
	while (atomic_load(&m.applied) < bi.last_seq && !r.ret && !m.ret)
		usleep(10000);
	m.seen = bi.last_seq;
	start = now_ns();
	for (i = 0; !ret && i < records; i++) {
		unsigned char *p = addr[i % NR_PAGES] + (i * 61) % (PAGE - bytes);
		size_t k;

		for (k = 0; k < bytes; k++)
			p[k] = ~p[k];
		t = now_ns();
		ret = mmsb_commit(bus, ids[i % NR_PAGES], &seq);
		ret = ret == 1 ? 0 : ret < 0 ? ret : -EPROTO;
		if (!ret && seq < nr_sent)
			sent_ns[seq] = t;
		pace(start, i + 1, rate);
	}
	while (!ret && atomic_load(&m.applied) < seq && !r.ret && !m.ret)
		usleep(1000);
	r.stop = m.stop = 1;
	pthread_join(rt, NULL);
	pthread_join(mt, NULL);
	mmsb_bus_close(r.bus);
	mmsb_bus_close(bus);
	ret = ret ? ret : r.ret ? r.ret : m.ret;
	if (!ret)
		report("mmsb", records, sizeof(struct mmsb_delta) +
		       sizeof(struct mmsb_run) + ((bytes + 7) & ~7UL), start);
	return ret;
}

/* plain: one message a record, the same bytes, straight through JetStream. */
static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
		   void *closure)
{
	uint64_t idx;

	(void)nc;
	(void)sub;
	(void)closure;
	memcpy(&idx, natsMsg_GetData(msg), sizeof(idx));
	lat_ns[atomic_fetch_add(&nr_lat, 1)] = now_ns() - sent_ns[idx];
	atomic_store(&last_ns, now_ns());
	natsMsg_Destroy(msg);
}

static int bench_plain(const char *url, const char *stream, uint64_t records,
		       size_t bytes, double rate)
{
	size_t size = sizeof(struct mmsb_delta) + sizeof(struct mmsb_run) +
		      ((bytes + 7) & ~7UL);
	char subj[128], filter[128];
	const char *subjects[] = { filter };
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	jsStreamConfig cfg;
	jsSubOptions so;
	jsPubOptions po;
	jsCtx *js = NULL;
	jsErrCode jerr = 0;
	unsigned char *buf = calloc(1, size);
	int64_t start;
	natsStatus s;
	uint64_t i;

	snprintf(subj, sizeof(subj), "%s.plain", stream);
	snprintf(filter, sizeof(filter), "%s.>", stream);
	s = natsConnection_ConnectTo(&nc, url);
	if (!s)
		s = natsConnection_JetStream(&js, nc, NULL);
	if (!s) {
		jsStreamConfig_Init(&cfg);
		cfg.Name = stream;
		cfg.Subjects = subjects;
		cfg.SubjectsLen = 1;
		cfg.Storage = js_FileStorage;
		cfg.Replicas = 3;
		s = js_AddStream(NULL, js, &cfg, NULL, &jerr);
	}
	if (!s) {
		jsSubOptions_Init(&so);
		so.Ordered = true;
		so.Config.DeliverPolicy = js_DeliverNew;
		s = js_Subscribe(&sub, js, subj, on_msg, NULL, NULL, &so, &jerr);
	}
	jsPubOptions_Init(&po);
	start = now_ns();
	for (i = 0; !s && i < records; i++) {
		memcpy(buf, &i, sizeof(i));
		sent_ns[i] = now_ns();
		s = js_PublishAsync(js, subj, buf, size, &po);
		pace(start, i + 1, rate);
	}
	if (!s)
		s = js_PublishAsyncComplete(js, NULL);
	while (!s && atomic_load(&nr_lat) < records)
		usleep(1000);
	if (s)
		fprintf(stderr, "plain: %s (JetStream error %d)\n",
			natsStatus_GetText(s), jerr);
	else
		report("plain", records, size, start);
	natsSubscription_Destroy(sub);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	free(buf);
	return s ? -EIO : 0;
}

int main(int argc, char **argv)
{
	uint64_t records;
	size_t bytes;
	int ret;

	if (argc != 7 || (strcmp(argv[1], "mmsb") && strcmp(argv[1], "plain"))) {
		fprintf(stderr, "usage: %s mmsb|plain URL STREAM RECORDS BYTES RATE\n",
			argv[0]);
		return 2;
	}
	records = strtoull(argv[4], NULL, 10);
	bytes = strtoul(argv[5], NULL, 10);
	if (!records || !bytes || bytes > PAGE - 64)
		return 2;
	/* Seqs run from 1, past the pages' allocations. */
	nr_sent = records + NR_PAGES + 2;
	sent_ns = calloc(nr_sent, sizeof(*sent_ns));
	lat_ns = calloc(nr_sent, sizeof(*lat_ns));
	if (!sent_ns || !lat_ns)
		return 1;
	ret = !strcmp(argv[1], "mmsb") ?
	      bench_mmsb(argv[2], argv[3], records, bytes, atof(argv[6])) :
	      bench_plain(argv[2], argv[3], records, bytes, atof(argv[6]));
	if (ret)
		fprintf(stderr, "%s: %s\n", argv[1], mmsb_strerror(ret));
	return ret ? 1 : 0;
}
