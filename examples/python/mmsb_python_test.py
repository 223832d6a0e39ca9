#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Description: examples/python/mmsb.py, pure Python over /dev/mmsb, can
attach, allocate, store through a mapping, commit and read the stream, and
the record it decodes is exactly the store: the page, the epochs, the pid
and the bytes at their offsets.  Prints TAP 13; runs in the VM."""

import errno
import os
import sys

sys.dont_write_bytecode = True  # the checkout is read-only in the VM
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmsb  # noqa: E402

results = []


def test(fn):
    results.append(fn)
    return fn


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def fresh_bus():
    fresh_bus.n = getattr(fresh_bus, "n", 0) + 1
    return mmsb.Bus("mmsb-python-test-%d-%d" % (os.getpid(), fresh_bus.n),
                    excl=True)


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
        check(c.nr_records == 1 and c.first_seq == c.last_seq == 1,
              "commit %r" % (c,))
        recs = bus.read()
        check(len(recs) == 1, "%d records" % len(recs))
        r = recs[0]
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
        check([(r.page_id, r.runs, r.cause_seq) for r in recs] ==
              [(a.id, [(0, b"AA")], 42), (b.id, [(10, b"BB")], 42)],
              "records %r" % recs)
        ma.close()
        mb.close()


@test
def unchanged_page_commits_no_record():
    with mmsb.Bus("mmsb-python-test-%d-nb" % os.getpid(), excl=True,
                  nonblock=True) as bus:
        page = bus.alloc(4096)
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
            check([r.runs for r in reader.read()] == [[(1, b"xyz")]],
                  "reader saw something else")
            check(reader.info().attached == 2, "attached count")
            mem.close()


def main():
    print("TAP version 13")
    if not os.path.exists(mmsb.DEVICE):
        print("1..0 # SKIP no %s (module not loaded)" % mmsb.DEVICE)
        return 4
    print("1..%d" % len(results))
    failed = 0
    for i, fn in enumerate(results, 1):
        name = "python." + fn.__name__.replace("_", "-")
        try:
            fn()
            print("ok %d %s" % (i, name))
        except (AssertionError, OSError, ValueError) as e:
            print("# %s: %s: %s" % (name, type(e).__name__, e))
            print("not ok %d %s" % (i, name))
            failed += 1
    print("# Totals: pass:%d fail:%d skip:0" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
