#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""MMSB from Python with nothing but the standard library.

No binding and no compiled code: /dev/mmsb is driven with os.open,
fcntl.ioctl and os.read, pages are mapped with mmap, and the argument
structs and delta records are packed and unpacked with struct, following
include/uapi/linux/mmsb.h and Documentation/delta-format.md.

    with Bus("example", create=True) as bus:
        page = bus.alloc(4096)
        mem = bus.map(page)
        mem[100:105] = b"hello"          # plain stores, captured
        bus.commit(page)                 # a record: 5 bytes at 100
        for rec in bus.read():           # the page's PAGE_ALLOC, then it
            print(rec.seq, rec.type, rec.page_id, rec.runs)

Run this file to see that happen.
"""

import errno
import fcntl
import mmap
import os
import struct
import sys
from collections import namedtuple

DEVICE = "/dev/mmsb"
API_VERSION = 1
BUS_NAME_MAX = 64
CHUNK_SIZE = 4096

FEAT_CAPTURE = 1 << 0
FEAT_STREAM = 1 << 1
FEAT_SUBMIT = 1 << 2
FEAT_SNAPSHOT = 1 << 3

ATTACH_CREATE = 1 << 0
ATTACH_EXCL = 1 << 1
COMMIT_ALL = 1 << 0

REC_DELTA = 1
REC_OVERRUN = 2
REC_PAGE_ALLOC = 3
REC_PAGE_FREE = 4
DELTA_CAPTURED = 1 << 0
DELTA_SUBMITTED = 1 << 1
DELTA_FULL = 1 << 2
DELTA_CHECK_BASE = 1 << 3
DELTA_RESTORED = 1 << 4
DELTA_ALIGN = 8

# The ioctl argument structs, little-endian as on x86-64, the only
# architecture the module supports.  Field names are the header's.
VERSION = struct.Struct("<4Q")          # api features max_page_size max_ring_size
ATTACH = struct.Struct("<64sQIIQII")    # name flags mode ring_size bus_id created pad
PAGE_ALLOC = struct.Struct("<4Q")       # size flags page_id mmap_offset
PAGE_FREE = struct.Struct("<2Q")        # page_id flags
PAGE_INFO = struct.Struct("<11Q")
COMMIT = struct.Struct("<QIIQQQQQ")     # ids nr_ids nr_records flags seqs first_seq last_seq cause_seq
BUS_INFO = struct.Struct("<11QII")
STREAM_INFO = struct.Struct("<4Q")      # next_seq next_size pending_bytes lost
DELTA = struct.Struct("<IHHIIQQQQQQQ")  # struct mmsb_delta, 72 bytes
RUN = struct.Struct("<II")              # offset len


def _ioc(direction, nr, size):
    """_IOC() of <asm-generic/ioctl.h>: dir 1 = write (in), 2 = read (out)."""
    return direction << 30 | size << 16 | 0xB8 << 8 | nr


IOC_VERSION = _ioc(2, 0x00, VERSION.size)
IOC_ATTACH = _ioc(3, 0x01, ATTACH.size)
IOC_BUS_INFO = _ioc(2, 0x02, BUS_INFO.size)
IOC_PAGE_ALLOC = _ioc(3, 0x10, PAGE_ALLOC.size)
IOC_PAGE_FREE = _ioc(1, 0x11, PAGE_FREE.size)
IOC_PAGE_INFO = _ioc(3, 0x12, PAGE_INFO.size)
IOC_COMMIT = _ioc(3, 0x20, COMMIT.size)
IOC_STREAM_INFO = _ioc(2, 0x30, STREAM_INFO.size)

Page = namedtuple("Page", "id mmap_offset size")
PageInfo = namedtuple("PageInfo", "page_id size mmap_offset epoch map_count "
                      "dirty_chunks wp_faults commits bytes_diffed records "
                      "record_bytes")
BusInfo = namedtuple("BusInfo", "bus_id last_seq nr_pages bytes ring_size "
                     "wp_faults commits bytes_diffed records record_bytes "
                     "overruns attached")
Commit = namedtuple("Commit", "nr_records first_seq last_seq")
# runs: [(offset, new bytes)], in page order.  For an OVERRUN record, lost
# is the number of records lost from seq on, and epoch is None.  A
# PAGE_ALLOC or PAGE_FREE record has the page's epoch and page_size, and
# base_epoch None; page_size is None in the others.  A PAGE_ALLOC flagged
# DELTA_RESTORED is a page restored with bytes the record does not carry.
Record = namedtuple("Record", "type flags pid seq page_id epoch base_epoch "
                    "lost timestamp_ns cause_seq size runs page_size")
LIFECYCLE = (REC_PAGE_ALLOC, REC_PAGE_FREE)
KNOWN_TYPES = (REC_DELTA, REC_OVERRUN) + LIFECYCLE


def _ioctl(fd, request, packed):
    """Runs an ioctl on a copy of @packed and returns what the kernel wrote."""
    buf = bytearray(packed)
    fcntl.ioctl(fd, request, buf, True)
    return bytes(buf)


def _address_of(data):
    """The address of the bytes of a bytes object, for ioctls that take a
    user pointer.  In CPython id() is the object's address and the bytes
    follow its header (bytes.__basicsize__ counts their NUL terminator);
    the kernel only reads through such a pointer, and @data must stay
    referenced for as long as it does."""
    if sys.implementation.name != "cpython":
        raise NotImplementedError("page id lists need CPython; use commit_all()")
    return id(data) + bytes.__basicsize__ - 1


def version(device=DEVICE):
    """MMSB_IOC_VERSION as a dict; needs no bus."""
    fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    try:
        out = _ioctl(fd, IOC_VERSION, bytes(VERSION.size))
    finally:
        os.close(fd)
    return dict(zip(("api", "features", "max_page_size", "max_ring_size"),
                    VERSION.unpack(out)))


def decode(buf):
    """Decodes the whole records in @buf (what one read(2) returned).

    A record of a type this module does not know is skipped by its size,
    as every type allows (delta-format.md, "Skipping").  Such a record may
    have changed pages: this example keeps no copies of pages, but a reader
    that does would have to reload them."""
    records = []
    pos = 0
    while pos < len(buf):
        if len(buf) - pos < DELTA.size:
            raise ValueError("truncated record header at byte %d" % pos)
        (size, rtype, flags, nr_runs, pid, seq, page_id, epoch, base_epoch,
         timestamp_ns, cause_seq, payload_len) = DELTA.unpack_from(buf, pos)
        if size % DELTA_ALIGN or size < DELTA.size or size > len(buf) - pos:
            raise ValueError("bad record size %d at byte %d" % (size, pos))
        if rtype not in KNOWN_TYPES:
            pos += size
            continue
        runs = []
        data = pos + DELTA.size + nr_runs * RUN.size
        for i in range(nr_runs):
            offset, length = RUN.unpack_from(buf, pos + DELTA.size + i * RUN.size)
            runs.append((offset, bytes(buf[data:data + length])))
            data += length
        if data - (pos + DELTA.size + nr_runs * RUN.size) != payload_len:
            raise ValueError("runs do not add up to payload_len at byte %d" % pos)
        overrun = rtype == REC_OVERRUN
        lifecycle = rtype in LIFECYCLE
        records.append(Record(rtype, flags, pid, seq, page_id,
                              None if overrun else epoch,
                              None if lifecycle else base_epoch,
                              epoch if overrun else 0, timestamp_ns,
                              cause_seq, size, runs,
                              base_epoch if lifecycle else None))
        pos += size
    return records



class Bus:
    """One attachment to a named bus: an open file of /dev/mmsb.

    The bus lives while any file is attached to it; close() detaches (the
    mappings from map() keep the file, and so the bus, until they are
    closed too).  Errors are OSError with the module's errno."""

    def __init__(self, name, create=False, excl=False, mode=0o600,
                 ring_size=0, readonly=False, nonblock=False, device=DEVICE):
        oflags = (os.O_RDONLY if readonly else os.O_RDWR) | os.O_CLOEXEC
        if nonblock:
            oflags |= os.O_NONBLOCK
        flags = (ATTACH_CREATE if create or excl else 0) | (ATTACH_EXCL if excl else 0)
        self.name = name
        self.fd = os.open(device, oflags)
        try:
            out = _ioctl(self.fd, IOC_ATTACH,
                         ATTACH.pack(name.encode(), flags, mode, ring_size, 0, 0, 0))
        except OSError:
            os.close(self.fd)
            raise
        _, _, _, _, self.bus_id, created, _ = ATTACH.unpack(out)
        self.created = bool(created)

    def fileno(self):
        return self.fd

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def info(self):
        return BusInfo(*BUS_INFO.unpack(_ioctl(self.fd, IOC_BUS_INFO,
                                                bytes(BUS_INFO.size)))[:12])

    def alloc(self, size):
        """Allocates a zero-filled page of @size bytes."""
        out = _ioctl(self.fd, IOC_PAGE_ALLOC, PAGE_ALLOC.pack(size, 0, 0, 0))
        _, _, page_id, mmap_offset = PAGE_ALLOC.unpack(out)
        return Page(page_id, mmap_offset, size)

    def free(self, page):
        _ioctl(self.fd, IOC_PAGE_FREE, PAGE_FREE.pack(_page_id(page), 0))

    def page_info(self, page):
        request = PAGE_INFO.pack(_page_id(page), *[0] * 10)
        return PageInfo(*PAGE_INFO.unpack(_ioctl(self.fd, IOC_PAGE_INFO, request)))

    def map(self, page):
        """Maps the whole page, shared and writable: slice assignments to
        the returned mmap are plain stores, and the module captures them.
        Close it (or drop it) to unmap."""
        info = self.page_info(page)
        length = -(-info.size // CHUNK_SIZE) * CHUNK_SIZE
        return mmap.mmap(self.fd, length, mmap.MAP_SHARED,
                         mmap.PROT_READ | mmap.PROT_WRITE,
                         offset=info.mmap_offset)

    def commit(self, *pages, cause_seq=0):
        """Commits the pages at one consistent cut: one record per page
        whose bytes changed.  Returns Commit(nr_records, first_seq,
        last_seq); the seqs are 0 when nothing changed."""
        ids = struct.pack("<%dQ" % len(pages), *map(_page_id, pages))
        out = _ioctl(self.fd, IOC_COMMIT,
                     COMMIT.pack(_address_of(ids), len(pages), 0, 0, 0, 0, 0,
                                 cause_seq))
        return _commit_result(out)

    def commit_all(self, cause_seq=0):
        """Commits every dirty page of the bus; returns Commit(...)."""
        out = _ioctl(self.fd, IOC_COMMIT,
                     COMMIT.pack(0, 0, 0, COMMIT_ALL, 0, 0, 0, cause_seq))
        return _commit_result(out)

    def next_record_size(self):
        """Bytes of the next record, 0 if none is readable yet."""
        out = _ioctl(self.fd, IOC_STREAM_INFO, bytes(STREAM_INFO.size))
        return STREAM_INFO.unpack(out)[1]

    def read(self, size=64 << 10):
        """Reads and decodes the records readable now, as many whole ones as
        @size bytes hold (more if the next record alone is bigger).  Blocks
        until there is one, unless the bus was opened nonblock (then it
        raises BlockingIOError)."""
        while True:
            try:
                return decode(os.read(self.fd, size))
            except OSError as e:
                if e.errno != errno.EMSGSIZE:
                    raise
                size = max(size, self.next_record_size())


def _page_id(page):
    return page.id if isinstance(page, Page) else page


def _commit_result(out):
    _, _, nr_records, _, _, first_seq, last_seq, _ = COMMIT.unpack(out)
    return Commit(nr_records, first_seq, last_seq)


def main():
    v = version()
    print("module API %d, features 0x%x" % (v["api"], v["features"]))
    with Bus("python-example-%d" % os.getpid(), excl=True) as bus:
        page = bus.alloc(4096)
        mem = bus.map(page)
        mem[100:105] = b"hello"
        print("stored b'hello' at 100 of page %d; %d dirty 4 KiB chunk(s)"
              % (page.id, bus.page_info(page).dirty_chunks))
        c = bus.commit(page)
        print("commit: %d record(s), seq %d" % (c.nr_records, c.first_seq))
        for rec in bus.read():
            if rec.type == REC_PAGE_ALLOC:
                print("record seq %d page %d allocated, %d bytes at epoch %d"
                      % (rec.seq, rec.page_id, rec.page_size, rec.epoch))
                continue
            print("record seq %d page %d epoch %d->%d pid %d runs %r"
                  % (rec.seq, rec.page_id, rec.base_epoch, rec.epoch,
                     rec.pid, rec.runs))
        mem.close()


if __name__ == "__main__":
    main()
