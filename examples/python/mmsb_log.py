#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Reading an MMSB transaction log with nothing but the standard library.

No libmmsb and no compiled code: the segment, index and snapshot files of
a log directory are parsed with struct, following
Documentation/log-format.md, delta-format.md and snapshot-format.md, and
every CRC32C is computed here, from a table.  Nothing is written to the
log: a torn tail is reported, not cut.

    log = Log("/var/lib/mmsb/log")
    for frame in log.frames():           # in order, every CRC checked
        print(KIND_NAMES[frame.kind], frame.seq, frame.time_ns)
    snap = log.replay(1234)              # the pages just after record 1234
    with open("1234.snap", "wb") as f:
        write_snapshot(snap, f)          # mmsb-tool restore reads it

From the shell:

    mmsb_log.py dump [--hex] DIR         one line per frame, then the torn
                                         tail if any; --hex adds each
                                         record's bytes
    mmsb_log.py replay DIR SEQ OUTFILE   the pages just after record SEQ
                                         (0: the log's position), as a
                                         snapshot file

Exit status: 0; 1 when the log is damaged (the message names the file
and offset) or cannot be read; 3 when SEQ is not in the log.  It reads
about 10 MB/s, the speed of a CRC32C in Python.
"""

import os
import re
import struct
import sys
from collections import namedtuple

# Frame kinds.
RECORD = 1
SNAPSHOT = 2
GAP = 3
KIND_NAMES = {RECORD: "RECORD", SNAPSHOT: "SNAPSHOT", GAP: "GAP"}

# Record types and flags (delta-format.md).
REC_DELTA = 1
REC_OVERRUN = 2
REC_PAGE_ALLOC = 3
REC_PAGE_FREE = 4
DELTA_FLAGS_ALL = 0x1f
DELTA_RESTORED = 1 << 4

# Segment flags.  BASE: the segment begins the log with a SNAPSHOT frame;
# segments named below it are what a cut-short compaction left.
SEG_BASE = 1 << 0
SEG_FLAGS_ALL = SEG_BASE

SEG_MAGIC = b"MMSBLOG\0"
IDX_MAGIC = b"MMSBIDX\0"
SNAP_MAGIC = b"MMSBSNAP"
MAX_FRAME_LEN = 1 << 30
INDEX_BLOCK = 4096

# magic version header_size first_seq bus_id salt created_ns flags
# reserved header_crc
SEG_HEADER = struct.Struct("<8sIIQQQQI8sI")
# len kind reserved seq time_ns crc reserved
FRAME_HEADER = struct.Struct("<IHHQQII")
SNAPSHOT_FRAME = struct.Struct("<QQII")  # file_bytes nr_pages header_crc 0
GAP_FRAME = struct.Struct("<Q")          # lost
# magic version entry_size salt end_offset end_pos records snapshots gaps
# last_time_ns flags nr_entries reserved header_crc
IDX_HEADER = struct.Struct("<8sIIQQQQIIQIIII")
IDX_ENTRY = struct.Struct("<QQQ")        # seq time_ns offset
IDX_TRAILER = struct.Struct("<II")       # entries' crc, 0
IDX_SEEN = 1 << 0
IDX_LAST_GAP = 1 << 1
# magic version header_size entry_size reserved seq nr_pages data_bytes
# bus_id bus_name; header_crc ends the header, wherever that is
SNAP_HEADER = struct.Struct("<8sIIIIQQQQ64s")
SNAP_HEADER_SIZE = 128
SNAP_ENTRY = struct.Struct("<QQQI")      # page_id size epoch data_crc
SNAP_ENTRY_SIZE = 32
DELTA = struct.Struct("<IHHIIQQQQQQQ")   # struct mmsb_delta, 72 bytes
RUN = struct.Struct("<II")               # offset len

# A frame as the log holds it.  payload: a RECORD's bytes; lost: a GAP's;
# file_bytes, nr_pages, header_crc: a SNAPSHOT's.  segment (the segment's
# first seq) and offset say where it is.
Frame = namedtuple("Frame", "kind seq time_ns payload lost file_bytes "
                   "nr_pages header_crc segment offset")
# The frames a crash left half written at the end of the last segment:
# from offset to the end of the file, bytes of them, and the whole frames
# found in there past the damage (a clean torn write leaves none).
Torn = namedtuple("Torn", "segment offset bytes intact_beyond")
Page = namedtuple("Page", "page_id size epoch data")
Snapshot = namedtuple("Snapshot", "seq bus_id pages")


class LogError(Exception):
    """Damage: the file and the offset in it where it is, and what."""

    def __init__(self, path, offset, what):
        super().__init__("%s: offset %d: %s" % (path, offset, what))
        self.path = path
        self.offset = offset


class NotInLog(LookupError):
    """A seq whose pages the log does not hold: before its base, past its
    position, or among records a GAP says were lost."""


def _crc32c_table():
    table = []
    for n in range(256):
        for _ in range(8):
            n = n >> 1 ^ 0x82F63B78 if n & 1 else n >> 1
        table.append(n)
    return tuple(table)


_CRC_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC32C (Castagnoli, reflected) of @data, going on from the CRC32C
    @crc of the bytes before it: crc32c(b, crc32c(a)) == crc32c(a + b)."""
    table = _CRC_TABLE
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ crc >> 8
    return crc ^ 0xFFFFFFFF


def _round8(n):
    return (n + 7) & ~7


def _zero(data):
    return not any(data)


Segment = namedtuple("Segment", "first_seq path salt bus_id flags")


def _read_segment_header(path, first_seq):
    with open(path, "rb") as f:
        raw = f.read(SEG_HEADER.size)
    if len(raw) < SEG_HEADER.size:
        raise LogError(path, len(raw), "segment header cut short")
    (magic, version, header_size, seq, bus_id, salt, _created, flags,
     reserved, crc) = SEG_HEADER.unpack(raw)
    if magic != SEG_MAGIC:
        raise LogError(path, 0, "not a segment (magic %r)" % magic)
    if crc != crc32c(raw[:60]):
        raise LogError(path, 60, "segment header CRC does not hold")
    if version != 1 or header_size != SEG_HEADER.size:
        raise LogError(path, 8, "segment version %d, header size %d"
                       % (version, header_size))
    if seq != first_seq:
        raise LogError(path, 16, "first_seq %d is not the file's name" % seq)
    if flags & ~SEG_FLAGS_ALL or not _zero(reserved):
        raise LogError(path, 48, "unknown segment flags 0x%x or reserved "
                       "bytes set" % flags)
    return Segment(seq, path, salt, bus_id, flags)


def _next_frame(seg, data, off):
    """The frame at @off of segment @data and where the next one starts,
    or (None, off) where the frames end: at the end of the file, or at an
    all-zero frame header, or at zeros that run to the end of the file.
    Raises LogError when the bytes there are neither."""
    rest = len(data) - off
    if rest == 0 or (rest < FRAME_HEADER.size and _zero(data[off:])):
        return None, off
    if rest < FRAME_HEADER.size:
        raise LogError(seg.path, off, "frame header cut short")
    if _zero(data[off:off + FRAME_HEADER.size]):
        if not _zero(data[off:]):
            raise LogError(seg.path, off, "bytes after an all-zero frame "
                           "header")
        return None, off
    return _frame_at(seg, data, off)


def _frame_at(seg, data, off):
    """The whole frame whose header is at @off, and where it ends."""
    header = data[off:off + FRAME_HEADER.size]
    length, kind, res16, seq, time_ns, crc, res32 = FRAME_HEADER.unpack(header)
    if length > MAX_FRAME_LEN or kind not in KIND_NAMES or res16 or res32:
        raise LogError(seg.path, off, "bad frame header (len %d, kind %d)"
                       % (length, kind))
    start = off + FRAME_HEADER.size
    end = start + _round8(length)
    if end > len(data):
        raise LogError(seg.path, off, "frame cut short")
    payload = data[start:start + length]
    salted = crc32c(struct.pack("<Q", seg.salt))
    if crc != crc32c(payload, crc32c(header[:24], salted)):
        raise LogError(seg.path, off, "frame CRC does not hold")
    if not _zero(data[start + length:end]):
        raise LogError(seg.path, off, "frame padding is not zero")
    return _frame(seg, off, kind, seq, time_ns, bytes(payload)), end


def _intact_beyond(seg, data, off):
    """Whole frames after the damage at @off, found at any 8-byte aligned
    offset past it: a torn write leaves none, bit rot does."""
    count = 0
    off += 8
    while off + FRAME_HEADER.size <= len(data):
        if not _zero(data[off:off + FRAME_HEADER.size]):
            try:
                _, off = _frame_at(seg, data, off)
                count += 1
                continue
            except LogError:
                pass
        off += 8
    return count


def _frame(seg, off, kind, seq, time_ns, payload):
    lost = file_bytes = nr_pages = header_crc = None
    if kind == SNAPSHOT:
        if len(payload) != SNAPSHOT_FRAME.size:
            raise LogError(seg.path, off, "SNAPSHOT frame of %d bytes"
                           % len(payload))
        file_bytes, nr_pages, header_crc, zero = SNAPSHOT_FRAME.unpack(payload)
        if zero:
            raise LogError(seg.path, off, "SNAPSHOT frame's reserved bytes")
        payload = None
    elif kind == GAP:
        if len(payload) != GAP_FRAME.size:
            raise LogError(seg.path, off, "GAP frame of %d bytes"
                           % len(payload))
        (lost,) = GAP_FRAME.unpack(payload)
        if not lost:
            raise LogError(seg.path, off, "GAP of no records")
        payload = None
    else:
        # Any type is logged, so only what every record has is checked:
        # size first and a multiple of 8 (delta-format.md, "Skipping"),
        # the frame's seq, and no OVERRUN (the log has GAPs).
        if len(payload) < 24 or len(payload) % 8:
            raise LogError(seg.path, off, "record of %d bytes" % len(payload))
        size, rtype = struct.unpack_from("<IH", payload)
        (rseq,) = struct.unpack_from("<Q", payload, 16)
        if size != len(payload) or rseq != seq or rtype == REC_OVERRUN:
            raise LogError(seg.path, off, "record (size %d, type %d, seq %d) "
                           "is not its frame's" % (size, rtype, rseq))
    return Frame(kind, seq, time_ns, payload, lost, file_bytes, nr_pages,
                 header_crc, seg.first_seq, off)


class _Rules:
    """The sequence rules (log-format.md, "Sequence rules") as frames come
    in order across segments: check() says which one a frame breaks, if
    any; take() moves on past it."""

    def __init__(self):
        self.position = None        # None until the base
        self.after_gap = False
        self.time_ns = 0

    def check(self, seg, frame, first_in_segment, first_segment):
        f = frame
        if first_in_segment and f.seq != seg.first_seq:
            return "segment's first frame has seq %d" % f.seq
        if f.time_ns < self.time_ns:
            return "time_ns goes back"
        if self.position is None:
            return None if f.kind == SNAPSHOT else "log does not begin " \
                "with a SNAPSHOT"
        if first_in_segment and not first_segment and f.kind == SNAPSHOT:
            return "a segment other than the first begins with a SNAPSHOT"
        if self.after_gap and f.kind != SNAPSHOT:
            return "a GAP not followed by a SNAPSHOT"
        if f.kind == SNAPSHOT:
            ok = f.seq >= self.position if self.after_gap \
                else f.seq == self.position
        else:
            ok = f.seq == self.position + 1
        return None if ok else "seq %d after position %d" % (f.seq,
                                                             self.position)

    def take(self, frame):
        self.position = frame.seq + frame.lost - 1 if frame.kind == GAP \
            else frame.seq
        self.after_gap = frame.kind == GAP
        self.time_ns = frame.time_ns


class Log:
    """A log directory, opened read-only: it takes no lock and writes
    nothing.  The segments from the highest-named one with the BASE flag
    (else from the lowest) upward are the log."""

    def __init__(self, path):
        self.path = path
        names = sorted(n for n in os.listdir(path)
                       if re.fullmatch(r"[0-9a-f]{16}\.seg", n))
        if not names:
            raise LogError(path, 0, "no segment: not a log")
        self.segments = []
        for name in reversed(names):
            seg = _read_segment_header(os.path.join(path, name),
                                       int(name[:16], 16))
            self.segments.insert(0, seg)
            if seg.flags & SEG_BASE:
                break
        self.bus_id = self.segments[0].bus_id
        for seg in self.segments:
            if seg.bus_id != self.bus_id:
                raise LogError(seg.path, 24, "bus_id %d, not the log's %d"
                               % (seg.bus_id, self.bus_id))
        self.torn = None

    def frames(self):
        """Yields every frame, in order across segments, checking CRCs,
        padding and the sequence rules.  Damage raises LogError, but in the
        last segment it begins the torn tail: the frames stop before it and
        self.torn says where it is."""
        self.torn = None
        rules = _Rules()
        last = len(self.segments) - 1
        for i, seg in enumerate(self.segments):
            with open(seg.path, "rb") as f:
                data = memoryview(f.read())
            off = SEG_HEADER.size
            seen = []
            while True:
                try:
                    frame, end = _next_frame(seg, data, off)
                    if frame is None:
                        break
                    broken = rules.check(seg, frame, not seen, i == 0)
                    if broken:
                        raise LogError(seg.path, off, broken)
                except LogError:
                    if i != last:
                        raise
                    self.torn = Torn(seg.first_seq, off, len(data) - off,
                                     _intact_beyond(seg, data, off))
                    return
                if frame.kind == SNAPSHOT and i == last:
                    self._check_snapshot_file(frame, seg)
                rules.take(frame)
                seen.append(frame)
                yield frame
                off = end
            if i != last:
                if not seen:
                    raise LogError(seg.path, off, "sealed segment without "
                                   "frames")
                self._check_index(seg, seen, off, rules)

    def _check_snapshot_file(self, frame, seg):
        path = self.snapshot_path(frame.seq)
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            raise LogError(seg.path, frame.offset, "SNAPSHOT frame's file "
                           "%s is missing" % path) from None
        if size != frame.file_bytes:
            raise LogError(seg.path, frame.offset, "SNAPSHOT frame's file "
                           "has %d bytes, not %d" % (size, frame.file_bytes))

    def _check_index(self, seg, frames, end_offset, rules):
        """Checks a sealed segment's index against its frames.  A missing
        index, or one whose own CRCs fail, is not an error: the writer
        makes it again from the frames (log-format.md, "Recovery")."""
        path = seg.path[:-4] + ".idx"
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return
        if len(raw) < IDX_HEADER.size:
            return
        (magic, version, entry_size, salt, idx_end, end_pos, records,
         snapshots, gaps, last_time_ns, flags, nr_entries, _reserved,
         header_crc) = IDX_HEADER.unpack_from(raw)
        if magic != IDX_MAGIC or header_crc != crc32c(raw[:76]):
            return
        entries_end = IDX_HEADER.size + nr_entries * IDX_ENTRY.size
        if version != 1 or entry_size != IDX_ENTRY.size or \
                len(raw) != entries_end + IDX_TRAILER.size:
            raise LogError(path, 8, "index version %d, entry size %d, %d "
                           "bytes" % (version, entry_size, len(raw)))
        entries_crc, zero = IDX_TRAILER.unpack_from(raw, entries_end)
        if entries_crc != crc32c(raw[IDX_HEADER.size:entries_end]) or zero:
            return
        entries = []
        for f in frames:
            if not entries or f.offset // INDEX_BLOCK != \
                    entries[-1][2] // INDEX_BLOCK:
                entries.append((f.seq, f.time_ns, f.offset))
        want = (seg.salt, end_offset, rules.position,
                sum(f.kind == RECORD for f in frames),
                sum(f.kind == SNAPSHOT for f in frames),
                sum(f.kind == GAP for f in frames), frames[-1].time_ns,
                IDX_SEEN | (IDX_LAST_GAP if frames[-1].kind == GAP else 0),
                entries)
        got = (salt, idx_end, end_pos, records, snapshots, gaps, last_time_ns,
               flags, [IDX_ENTRY.unpack_from(raw, IDX_HEADER.size + n *
                                             IDX_ENTRY.size)
                       for n in range(nr_entries)])
        if got != want:
            raise LogError(path, 0, "index does not match its segment's "
                           "frames")

    def snapshot_path(self, seq):
        return os.path.join(self.path, "%016x.snap" % seq)

    def load_snapshot(self, frame):
        """The snapshot file a SNAPSHOT frame names, checked whole and
        against the frame."""
        path = self.snapshot_path(frame.seq)
        with open(path, "rb") as f:
            snap, header_crc = read_snapshot(f, path)
            end = f.tell()
        if (snap.seq, len(snap.pages), header_crc, end) != \
                (frame.seq, frame.nr_pages, frame.header_crc,
                 frame.file_bytes) or os.stat(path).st_size != end:
            raise LogError(path, 0, "snapshot is not the one its frame "
                           "names")
        return snap

    def replay(self, seq=0):
        """The pages just after record @seq (0: the log's position): the
        last snapshot at or before it that loads, and the records after it
        applied.  NotInLog if @seq is not in the log; LogError if a record
        does not apply to its page, or no snapshot loads."""
        pages = None    # page_id -> [size, epoch, bytearray]; None: unknown
        why = LogError(self.path, 0, "no snapshot")     # why pages is None
        covered = False  # a RECORD or SNAPSHOT frame has seq @seq
        last = None
        for frame in self.frames():
            if seq and frame.seq > seq:
                break
            last = frame
            covered = frame.kind != GAP and frame.seq == seq
            if frame.kind == SNAPSHOT:
                try:
                    snap = self.load_snapshot(frame)
                except (LogError, OSError) as e:
                    # Passed over: the pages the records made go on.
                    if pages is None:
                        why = e
                    continue
                pages = {p.page_id: [p.size, p.epoch, bytearray(p.data)]
                         for p in snap.pages}
            elif frame.kind == GAP:
                pages = None
                why = LogError(self._segment_path(frame), frame.offset,
                               "records from seq %d on were lost" % frame.seq)
            elif pages is not None:
                try:
                    _apply(pages, frame.payload)
                except ValueError as e:
                    pages = None
                    why = LogError(self._segment_path(frame), frame.offset,
                                   "record %d: %s" % (frame.seq, e))
        if not seq and last is not None and last.kind != GAP:
            seq, covered = last.seq, True
        if not covered:
            raise NotInLog("seq %d is not in the log" % seq)
        if pages is None:
            raise why
        return Snapshot(seq, self.bus_id,
                        [Page(page_id, size, epoch, bytes(data))
                         for page_id, (size, epoch, data)
                         in sorted(pages.items())])

    def _segment_path(self, frame):
        return os.path.join(self.path, "%016x.seg" % frame.segment)


def _apply(pages, rec):
    """Applies record @rec to @pages, or raises ValueError saying why it
    does not apply: the checks of delta-format.md, "Validation", then
    log-format.md's, "Replay"."""
    (rtype,) = struct.unpack_from("<H", rec, 4)
    if rtype not in (REC_DELTA, REC_PAGE_ALLOC, REC_PAGE_FREE):
        # A type added later: skipped by its size (delta-format.md,
        # "Skipping"); OVERRUNs never reach a log.
        return
    if len(rec) < DELTA.size:
        raise ValueError("%d bytes" % len(rec))
    # base_epoch is page_size in PAGE_ALLOC and PAGE_FREE records.
    (size, _, flags, nr_runs, _pid, _seq, page_id, epoch, base_epoch,
     _timestamp_ns, _cause_seq, payload_len) = DELTA.unpack_from(rec)
    if flags & ~DELTA_FLAGS_ALL:
        raise ValueError("reserved flags 0x%x" % flags)
    if payload_len >= 1 << 32 or \
            DELTA.size + RUN.size * nr_runs + payload_len > 0xfffffff8 or \
            size != _round8(DELTA.size + RUN.size * nr_runs + payload_len):
        raise ValueError("size %d, %d runs, payload_len %d" % (size, nr_runs,
                                                              payload_len))
    if (nr_runs == 0) == (rtype == REC_DELTA):
        raise ValueError("type %d with %d runs" % (rtype, nr_runs))
    page = pages.get(page_id)
    if rtype == REC_PAGE_ALLOC:
        if page is not None:
            raise ValueError("page %d allocated again" % page_id)
        if flags & DELTA_RESTORED:
            raise ValueError("page %d restored with bytes the log does not "
                             "have" % page_id)
        page_size = base_epoch
        if not page_size:
            raise ValueError("page %d of no bytes" % page_id)
        pages[page_id] = [page_size, epoch, bytearray(page_size)]
        return
    if page is None:
        raise ValueError("page %d does not exist" % page_id)
    if rtype == REC_PAGE_FREE:
        if epoch != page[1]:
            raise ValueError("page %d freed at epoch %d, not its %d"
                             % (page_id, epoch, page[1]))
        del pages[page_id]
        return
    if base_epoch != page[1]:
        raise ValueError("page %d at epoch %d, not the base_epoch %d"
                         % (page_id, page[1], base_epoch))
    runs = [RUN.unpack_from(rec, DELTA.size + RUN.size * n)
            for n in range(nr_runs)]
    data = DELTA.size + RUN.size * nr_runs
    end = -1
    for offset, length in runs:
        if not length or offset <= end or offset + length > page[0]:
            raise ValueError("run %d+%d in page %d of %d bytes"
                             % (offset, length, page_id, page[0]))
        end = offset + length
    if sum(length for _, length in runs) != payload_len or \
            not _zero(rec[data + payload_len:]):
        raise ValueError("runs do not add up to payload_len, or padding")
    for offset, length in runs:
        page[2][offset:offset + length] = rec[data:data + length]
        data += length
    page[1] = epoch


def read_snapshot(f, path="snapshot"):
    """Reads a snapshot file from binary file @f front to back, checking
    it as snapshot-format.md, "Reading", says, and nothing after it.
    Returns the Snapshot and its header CRC; LogError names @path."""
    off = 0

    def take(n, what):
        nonlocal off
        data = f.read(n)
        if len(data) < n:
            raise LogError(path, off + len(data), "%s cut short" % what)
        off += n
        return data

    head = take(16, "header")
    magic, version, header_size = struct.unpack_from("<8sII", head)
    if magic != SNAP_MAGIC or header_size % 8 or \
            not 24 <= header_size <= 65536:
        raise LogError(path, 0, "not a snapshot")
    head += take(header_size - 16, "header")
    (header_crc,) = struct.unpack_from("<I", head, header_size - 4)
    if header_crc != crc32c(head[:-4]):
        raise LogError(path, header_size - 4, "header CRC does not hold")
    if version != 1:
        raise LogError(path, 8, "version %d" % version)
    if header_size < SNAP_HEADER_SIZE:
        raise LogError(path, 12, "header of %d bytes" % header_size)
    (_, _, _, entry_size, _, seq, nr_pages, data_bytes, bus_id,
     _) = SNAP_HEADER.unpack_from(head)
    if entry_size % 8 or not SNAP_ENTRY_SIZE <= entry_size <= 4096 or \
            nr_pages >= 1 << 32 or data_bytes % 8 or \
            data_bytes < 8 * nr_pages or data_bytes >= 1 << 63:
        raise LogError(path, 16, "malformed header")
    pages = []
    left = data_bytes
    for n in range(nr_pages):
        at = off
        entry = take(entry_size, "page entry %d" % n)
        page_id, size, epoch, data_crc = SNAP_ENTRY.unpack_from(entry)
        (entry_crc,) = struct.unpack_from("<I", entry, entry_size - 4)
        if entry_crc != crc32c(entry[:-4]):
            raise LogError(path, at, "page entry %d: CRC does not hold" % n)
        prev = pages[-1].page_id if pages else 0
        if page_id <= prev or not size or _round8(size) > left:
            raise LogError(path, at, "page %d: id or size %d" % (page_id,
                                                                 size))
        data = take(_round8(size), "page %d" % page_id)
        if data_crc != crc32c(data):
            raise LogError(path, at + entry_size, "page %d: bytes' CRC "
                           "does not hold" % page_id)
        pages.append(Page(page_id, size, epoch, data[:size]))
        left -= _round8(size)
    if left:
        raise LogError(path, off, "pages do not add up to data_bytes")
    return Snapshot(seq, bus_id, pages), header_crc


def write_snapshot(snap, f):
    """Writes @snap to binary file @f as snapshot-format.md lays it out,
    bus name unknown (zero)."""
    data_bytes = sum(_round8(p.size) for p in snap.pages)
    head = SNAP_HEADER.pack(SNAP_MAGIC, 1, SNAP_HEADER_SIZE, SNAP_ENTRY_SIZE,
                            0, snap.seq, len(snap.pages), data_bytes,
                            snap.bus_id, bytes(64)) + bytes(4)
    f.write(head + struct.pack("<I", crc32c(head)))
    for p in snap.pages:
        data = bytes(p.data) + bytes(_round8(p.size) - p.size)
        entry = SNAP_ENTRY.pack(p.page_id, p.size, p.epoch, crc32c(data))
        f.write(entry + struct.pack("<I", crc32c(entry)) + data)


def dump_line(frame, with_bytes=False):
    """One line for @frame; the C test tests/log_pyref.c prints the same
    from libmmsb's reader, so keep the two in step."""
    line = "%s seq=%d time_ns=%d segment=%016x offset=%d" % (
        KIND_NAMES[frame.kind], frame.seq, frame.time_ns, frame.segment,
        frame.offset)
    if frame.kind == SNAPSHOT:
        return line + " file_bytes=%d nr_pages=%d header_crc=0x%08x" % (
            frame.file_bytes, frame.nr_pages, frame.header_crc)
    if frame.kind == GAP:
        return line + " lost=%d" % frame.lost
    rec = frame.payload
    size, rtype = struct.unpack_from("<IH", rec)
    line += " size=%d type=%d" % (size, rtype)
    if rtype in (REC_DELTA, REC_PAGE_ALLOC, REC_PAGE_FREE) and \
            len(rec) >= DELTA.size:
        line += " page_id=%d epoch=%d" % struct.unpack_from("<QQ", rec, 24)
    return line + (" bytes=" + rec.hex() if with_bytes else "")


def main(argv):
    import argparse

    parser = argparse.ArgumentParser(description="Reads an MMSB transaction "
                                     "log, read-only, without libmmsb.")
    sub = parser.add_subparsers(dest="command", required=True)
    dump = sub.add_parser("dump", help="one line per frame")
    dump.add_argument("--hex", action="store_true",
                      help="each record's bytes too")
    dump.add_argument("dir")
    replay = sub.add_parser("replay", help="the pages just after record SEQ "
                            "(0: the log's position), as a snapshot file")
    replay.add_argument("dir")
    replay.add_argument("seq", type=int)
    replay.add_argument("outfile")
    args = parser.parse_args(argv)

    try:
        log = Log(args.dir)
        if args.command == "dump":
            out = sys.stdout
            for frame in log.frames():
                out.write(dump_line(frame, args.hex) + "\n")
            if log.torn:
                out.write("TORN segment=%016x offset=%d bytes=%d "
                          "intact_beyond=%d\n" % log.torn)
        else:
            snap = log.replay(args.seq)
            with open(args.outfile, "wb") as f:
                write_snapshot(snap, f)
    except (LogError, OSError) as e:
        print("%s: %s" % (parser.prog, e), file=sys.stderr)
        return 1
    except NotInLog as e:
        print("%s: %s" % (parser.prog, e), file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
