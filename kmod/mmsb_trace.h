/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trace events of the MMSB module, system "mmsb" (Documentation/tracing.md
 * lists them with their fields: keep the two in step, the document is the
 * contract).  Each event fires under the lock that makes its fields one
 * consistent view, and takes only pointers and values the caller has at
 * hand, so that a disabled event costs its static-key branch and nothing
 * else.  kmod/trace.c instantiates them.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM mmsb

#if !defined(MMSB_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define MMSB_TRACE_H

#include <linux/tracepoint.h>

#include "mmsb.h"

TRACE_DEFINE_ENUM(MMSB_REC_DELTA);
TRACE_DEFINE_ENUM(MMSB_REC_OVERRUN);
TRACE_DEFINE_ENUM(MMSB_REC_PAGE_ALLOC);
TRACE_DEFINE_ENUM(MMSB_REC_PAGE_FREE);

#define mmsb_show_rec_type(type)					\
	__print_symbolic(type,						\
			 { MMSB_REC_DELTA,	"DELTA" },		\
			 { MMSB_REC_OVERRUN,	"OVERRUN" },		\
			 { MMSB_REC_PAGE_ALLOC,	"PAGE_ALLOC" },		\
			 { MMSB_REC_PAGE_FREE,	"PAGE_FREE" })

/* ->page_mkwrite of chunk @chunk of @pg; under bus->lock. */
TRACE_EVENT(mmsb_wp_fault,
	TP_PROTO(const struct mmsb_page *pg, u32 chunk, bool first),
	TP_ARGS(pg, chunk, first),

	TP_STRUCT__entry(
		__field(u64, bus)
		__field(u64, page)
		__field(u64, offset)
		__field(u32, chunk)
		__field(u8, first)
	),

	TP_fast_assign(
		__entry->bus = pg->bus->id;
		__entry->page = pg->id;
		__entry->offset = (u64)chunk << PAGE_SHIFT;
		__entry->chunk = chunk;
		__entry->first = first;
	),

	TP_printk("bus=%llu page=%llu chunk=%u offset=%llu first=%u",
		  __entry->bus, __entry->page, __entry->chunk,
		  __entry->offset, __entry->first)
);

/* The end of one commit of a batch of dirty pages; under bus->lock. */
TRACE_EVENT(mmsb_commit,
	TP_PROTO(const struct mmsb_bus *bus, u32 pages, u32 records,
		 u64 bytes_diffed, u64 duration_ns, int err),
	TP_ARGS(bus, pages, records, bytes_diffed, duration_ns, err),

	TP_STRUCT__entry(
		__field(u64, bus)
		__field(u64, bytes_diffed)
		__field(u64, duration_ns)
		__field(u32, pages)
		__field(u32, records)
		__field(int, err)
	),

	TP_fast_assign(
		__entry->bus = bus->id;
		__entry->bytes_diffed = bytes_diffed;
		__entry->duration_ns = duration_ns;
		__entry->pages = pages;
		__entry->records = records;
		__entry->err = err;
	),

	TP_printk("bus=%llu pages=%u records=%u bytes_diffed=%llu duration_ns=%llu err=%d",
		  __entry->bus, __entry->pages, __entry->records,
		  __entry->bytes_diffed, __entry->duration_ns, __entry->err)
);

/* A record published to the ring, as @hdr says; under ring->lock. */
TRACE_EVENT(mmsb_record,
	TP_PROTO(const struct mmsb_bus *bus, const struct mmsb_delta *hdr),
	TP_ARGS(bus, hdr),

	TP_STRUCT__entry(
		__field(u64, bus)
		__field(u64, seq)
		__field(u64, page)
		__field(u64, epoch)
		__field(u32, size)
		__field(u16, type)
		__field(u16, flags)
	),

	TP_fast_assign(
		__entry->bus = bus->id;
		__entry->seq = hdr->seq;
		__entry->page = hdr->page_id;
		__entry->epoch = hdr->epoch;
		__entry->size = hdr->size;
		__entry->type = hdr->type;
		__entry->flags = hdr->flags;
	),

	TP_printk("bus=%llu seq=%llu type=%s page=%llu epoch=%llu size=%u flags=0x%x",
		  __entry->bus, __entry->seq, mmsb_show_rec_type(__entry->type),
		  __entry->page, __entry->epoch, __entry->size, __entry->flags)
);

/* The end of one write of records; under bus->lock. */
TRACE_EVENT(mmsb_submit,
	TP_PROTO(const struct mmsb_bus *bus, u32 records, u64 bytes, int err),
	TP_ARGS(bus, records, bytes, err),

	TP_STRUCT__entry(
		__field(u64, bus)
		__field(u64, bytes)
		__field(u32, records)
		__field(int, err)
	),

	TP_fast_assign(
		__entry->bus = bus->id;
		__entry->bytes = bytes;
		__entry->records = records;
		__entry->err = err;
	),

	TP_printk("bus=%llu records=%u bytes=%llu err=%d",
		  __entry->bus, __entry->records, __entry->bytes, __entry->err)
);

/* A reader handed an OVERRUN record; under ring->lock. */
TRACE_EVENT(mmsb_overrun,
	TP_PROTO(const struct mmsb_bus *bus, u64 seq, u64 lost),
	TP_ARGS(bus, seq, lost),

	TP_STRUCT__entry(
		__field(u64, bus)
		__field(u64, seq)
		__field(u64, lost)
	),

	TP_fast_assign(
		__entry->bus = bus->id;
		__entry->seq = seq;
		__entry->lost = lost;
	),

	TP_printk("bus=%llu seq=%llu lost=%llu",
		  __entry->bus, __entry->seq, __entry->lost)
);

/* A page's id published or killed; under bus->lock. */
DECLARE_EVENT_CLASS(mmsb_page_event,
	TP_PROTO(const struct mmsb_page *pg),
	TP_ARGS(pg),

	TP_STRUCT__entry(
		__field(u64, bus)
		__field(u64, page)
		__field(u64, size)
		__field(u64, epoch)
	),

	TP_fast_assign(
		__entry->bus = pg->bus->id;
		__entry->page = pg->id;
		__entry->size = pg->size;
		__entry->epoch = pg->epoch;
	),

	TP_printk("bus=%llu page=%llu size=%llu epoch=%llu",
		  __entry->bus, __entry->page, __entry->size, __entry->epoch)
);

DEFINE_EVENT(mmsb_page_event, mmsb_page_alloc,
	TP_PROTO(const struct mmsb_page *pg),
	TP_ARGS(pg)
);

DEFINE_EVENT(mmsb_page_event, mmsb_page_free,
	TP_PROTO(const struct mmsb_page *pg),
	TP_ARGS(pg)
);

#endif /* MMSB_TRACE_H */

/* Outside the guard: define_trace.h reads this header again. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#define TRACE_INCLUDE_FILE mmsb_trace
#include <trace/define_trace.h>
