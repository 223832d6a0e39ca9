#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Description: examples/python/mmsb.py, pure Python over /dev/mmsb, can
attach, allocate, store through a mapping, commit and read the stream, and
the records it decodes are exactly what happened: each page's PAGE_ALLOC
first, then the store's delta with its page, epochs, pid and bytes at
their offsets, and a PAGE_FREE with the page's last epoch.  Its decoder,
checked on hand-made records, reads restored pages and skips unknown
types.  Prints TAP 13; runs in the VM, where the decoder tests also run
without the module."""

import errno
import os
import sys

sys.dont_write_bytecode = True  # the checkout is read-only in the VM
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmsb  # noqa: E402

results = []


def test(fn):
    fn.needs_device = True
    results.append(fn)
    return fn


def host_test(fn):
    fn.needs_device = False
    results.append(fn)
    return fn


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def fresh_bus():
    fresh_bus.n = getattr(fresh_bus, "n", 0) + 1
    return mmsb.Bus("mmsb-python-test-%d-%d" % (os.getpid(), fresh_bus.n),
                    excl=True)


def record(rtype, flags=0, seq=1, page_id=1, epoch=0, base=0, runs=(),
           size=None):
    """A record as the module lays it out, from delta-format.md."""
    body = b"".join(mmsb.RUN.pack(off, len(data)) for off, data in runs)
    payload = b"".join(data for _, data in runs)
    need = mmsb.DELTA.size + len(body) + len(payload)
    padded = (need + 7) // 8 * 8
    head = mmsb.DELTA.pack(size or padded, rtype, flags, len(runs), 1234,
                           seq, page_id, epoch, base, 1700000000000000000,
                           0, len(payload))
    return head + body + payload + bytes(padded - need)


@host_test
def decoder_reads_lifecycle_records_and_skips_unknown_types():
    future = record(9, flags=0x8000, seq=3, runs=[(0, b"\xff" * 12)])
    buf = (record(mmsb.REC_PAGE_ALLOC, seq=1, page_id=5, base=5000)
           + record(mmsb.REC_PAGE_ALLOC, mmsb.DELTA_RESTORED, seq=2,
                    page_id=6, epoch=41, base=1 << 20)
           + future
           + record(mmsb.REC_DELTA, mmsb.DELTA_CAPTURED, seq=4, page_id=6,
                    epoch=42, base=41, runs=[(7, b"hi")])
           + record(mmsb.REC_PAGE_FREE, seq=5, page_id=6, epoch=42,
                    base=1 << 20))
    recs = mmsb.decode(buf)
    check([(r.type, r.seq) for r in recs] ==
          [(mmsb.REC_PAGE_ALLOC, 1), (mmsb.REC_PAGE_ALLOC, 2),
           (mmsb.REC_DELTA, 4), (mmsb.REC_PAGE_FREE, 5)],
          "records %r" % recs)
    a, r, d, f = recs
    check((a.page_id, a.page_size, a.epoch, a.base_epoch, a.runs, a.size) ==
          (5, 5000, 0, None, [], 72), "alloc %r" % (a,))
    check(not a.flags & mmsb.DELTA_RESTORED, "alloc flags %#x" % a.flags)
    check(r.flags & mmsb.DELTA_RESTORED and (r.epoch, r.page_size) ==
          (41, 1 << 20), "restored %r" % (r,))
    check((d.base_epoch, d.epoch, d.page_size, d.runs) ==
          (41, 42, None, [(7, b"hi")]), "delta %r" % (d,))
    check((f.page_id, f.epoch, f.page_size) == (6, 42, 1 << 20),
          "free %r" % (f,))


@host_test
def decoder_refuses_a_bad_size_even_of_an_unknown_type():
    for size in (64, 76, 200):
        try:
            mmsb.decode(record(9, size=size) + bytes(8))
            check(False, "size %d decoded" % size)
        except ValueError:
            pass
    try:
        mmsb.decode(record(9)[:40])
        check(False, "a truncated header decoded")
    except ValueError:
        pass


def check_alloc(r, page, size):
    """@r is the PAGE_ALLOC record of @page, @size bytes, by this process."""
    check(r.type == mmsb.REC_PAGE_ALLOC, "type %d, not PAGE_ALLOC" % r.type)
    check((r.page_id, r.page_size, r.epoch, r.flags, r.runs, r.size) ==
          (page.id, size, 0, 0, [], 72), "alloc %r" % (r,))
    check(r.pid == os.getpid() and r.cause_seq == 0, "alloc %r" % (r,))


@test
def version_reports_api_and_capture():
    v = mmsb.version()
    check(v["api"] == mmsb.API_VERSION, "api %d" % v["api"])
    want = mmsb.FEAT_CAPTURE | mmsb.FEAT_STREAM
    check(v["features"] & want == want, "features 0x%x" % v["features"])


@test
def attach_creates_and_alloc_gives_a_mappable_page():
    with fresh_bus() as bus:
        check(bus.created, "not created")
        page = bus.alloc(5000)
        check(page.id >= 1, "page id %d" % page.id)
        check(page.mmap_offset and page.mmap_offset % 4096 == 0,
              "mmap_offset %#x" % page.mmap_offset)
        mem = bus.map(page)
        check(len(mem) == 8192, "mapped %d bytes" % len(mem))
        check(mem[:] == bytes(8192), "page not zero-filled")
        mem.close()


@test
def decoded_record_equals_the_store():
    with fresh_bus() as bus:
        page = bus.alloc(1 << 20)
        mem = bus.map(page)
        mem[777777:777782] = b"hello"
        info = bus.page_info(page)
        check(info.dirty_chunks == 1, "dirty_chunks %d" % info.dirty_chunks)
        c = bus.commit(page)
        # The bus's first record is the page's allocation.
        check(c.nr_records == 1 and c.first_seq == c.last_seq == 2,
              "commit %r" % (c,))
        recs = bus.read()
        check(len(recs) == 2, "%d records" % len(recs))
        check_alloc(recs[0], page, 1 << 20)
        check(recs[0].seq == 1, "alloc seq %d" % recs[0].seq)
        r = recs[1]
        check(r.type == mmsb.REC_DELTA, "type %d" % r.type)
        check(r.flags == mmsb.DELTA_CAPTURED, "flags %#x" % r.flags)
        check(r.seq == c.first_seq, "seq %d" % r.seq)
        check(r.page_id == page.id, "page %d" % r.page_id)
        check((r.base_epoch, r.epoch) == (0, 1),
              "epochs %d->%d" % (r.base_epoch, r.epoch))
        check(r.pid == os.getpid(), "pid %d" % r.pid)
        check(r.cause_seq == 0, "cause_seq %d" % r.cause_seq)
        check(r.runs == [(777777, b"hello")], "runs %r" % r.runs)
        check(r.size == 88, "size %d" % r.size)
        mem.close()


@test
def runs_are_byte_exact_and_rebuild_the_page():
    with fresh_bus() as bus:
        page = bus.alloc(3 * 4096)
        mem = bus.map(page)
        mem[0:3] = b"abc"
        mem[4095:4097] = b"XY"          # one run across a chunk boundary
        mem[9000] = 7
        bus.commit(page)
        mem[1] = ord("b")               # same byte: no change
        mem[2] = ord("C")
        bus.commit_all()
        copy = bytearray(len(mem))
        recs = bus.read()
        check_alloc(recs[0], page, 3 * 4096)
        recs = recs[1:]
        for r in recs:
            for off, data in r.runs:
                copy[off:off + len(data)] = data
        check([r.runs for r in recs] ==
              [[(0, b"abc"), (4095, b"XY"), (9000, b"\x07")], [(2, b"C")]],
              "runs %r" % [r.runs for r in recs])
        check(bytes(copy) == mem[:], "replayed records differ from the page")
        mem.close()


@test
def commit_of_two_pages_emits_two_records_in_order():
    with fresh_bus() as bus:
        a, b = bus.alloc(4096), bus.alloc(4096)
        ma, mb = bus.map(a), bus.map(b)
        ma[0:2] = b"AA"
        mb[10:12] = b"BB"
        c = bus.commit(a, b, cause_seq=42)
        check(c.nr_records == 2 and c.last_seq == c.first_seq + 1,
              "commit %r" % (c,))
        recs = bus.read()
        check_alloc(recs[0], a, 4096)
        check_alloc(recs[1], b, 4096)
        check([(r.page_id, r.runs, r.cause_seq) for r in recs[2:]] ==
              [(a.id, [(0, b"AA")], 42), (b.id, [(10, b"BB")], 42)],
              "records %r" % recs)
        ma.close()
        mb.close()


@test
def unchanged_page_commits_no_record():
    with mmsb.Bus("mmsb-python-test-%d-nb" % os.getpid(), excl=True,
                  nonblock=True) as bus:
        page = bus.alloc(4096)
        check_alloc(bus.read()[0], page, 4096)
        mem = bus.map(page)
        mem[5] = 0
        c = bus.commit(page)
        check(c == (0, 0, 0), "commit %r" % (c,))
        try:
            recs = bus.read()
            check(False, "read %r" % recs)
        except BlockingIOError as e:
            check(e.errno == errno.EAGAIN, "errno %d" % e.errno)
        mem.close()


@test
def another_attachment_reads_the_same_record():
    with fresh_bus() as bus:
        with mmsb.Bus(bus.name, readonly=True) as reader:
            check(not reader.created and reader.bus_id == bus.bus_id,
                  "reader attached to bus %d" % reader.bus_id)
            page = bus.alloc(4096)
            mem = bus.map(page)
            mem[1:4] = b"xyz"
            bus.commit(page)
            recs = reader.read()
            check_alloc(recs[0], page, 4096)
            check([r.runs for r in recs[1:]] == [[(1, b"xyz")]],
                  "reader saw something else")
            check(reader.info().attached == 2, "attached count")
            mem.close()


@test
def free_emits_page_free_at_the_last_epoch():
    with fresh_bus() as bus:
        page = bus.alloc(5000)
        mem = bus.map(page)
        mem[0] = 1
        bus.commit(page)
        mem[1] = 2
        bus.commit(page)
        mem[2] = 3                      # never committed: discarded
        mem.close()
        bus.free(page)
        recs = bus.read()
        check([r.type for r in recs] ==
              [mmsb.REC_PAGE_ALLOC, mmsb.REC_DELTA, mmsb.REC_DELTA,
               mmsb.REC_PAGE_FREE], "types %r" % [r.type for r in recs])
        check([r.seq for r in recs] == [1, 2, 3, 4],
              "seqs %r" % [r.seq for r in recs])
        f = recs[3]
        check((f.page_id, f.epoch, f.page_size, f.flags, f.size) ==
              (page.id, 2, 5000, 0, 72), "free %r" % (f,))


def main():
    print("TAP version 13")
    device = os.path.exists(mmsb.DEVICE)
    print("1..%d" % len(results))
    failed = skipped = 0
    for i, fn in enumerate(results, 1):
        name = "python." + fn.__name__.replace("_", "-")
        if fn.needs_device and not device:
            print("ok %d %s # SKIP no %s (module not loaded)"
                  % (i, name, mmsb.DEVICE))
            skipped += 1
            continue
        try:
            fn()
            print("ok %d %s" % (i, name))
        except (AssertionError, OSError, ValueError) as e:
            print("# %s: %s: %s" % (name, type(e).__name__, e))
            print("not ok %d %s" % (i, name))
            failed += 1
    print("# Totals: pass:%d fail:%d skip:%d"
          % (len(results) - failed - skipped, failed, skipped))
    # 4, kselftest's "skipped", as before the decoder tests ran here too.
    return 1 if failed else 4 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
