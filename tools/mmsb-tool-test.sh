#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: mmsb-tool as a script uses it.  A background holder keeps a
# bus alive between commands; alloc, write, commit, cat, watch --json,
# stats (as text, as JSON with every documented field, and --watch's rates
# of one bus and, for root, of every bus) and free each do what their
# output says; usage errors exit 2,
# failures exit 1 with a message; snapshot and restore into a new bus give
# the same pages, epochs and bytes, restore's PAGE_ALLOC records show in
# watch, and a damaged file, a used bus and a bus of another owner are
# refused with a message; log record follows a bus into a log until
# SIGINT, acknowledging each record once synced, and resumes it with a gap
# until SIGTERM; log status, dump and verify show that log; log replay
# gives the snapshot the bus gives at the log's position, before and after
# log checkpoint adds one, and log history lists only the page's records;
# show and history print JSON; diff merges a page's deltas; replay to an
# epoch or a time, to files, into
# a new bus, and checked against a snapshot or a bus, says what differs;
# compact makes a log that begins later and replays the same;
# a damaged byte in a sealed segment makes verify and dump fail naming the
# segment; killing the holder destroys the bus; the demo runs to the end.
# Runs in the VM (make check) as root and as nobody.
#
# Sequence numbers count the PAGE_ALLOC record of each page (seq 1 and 2
# are the two allocs) and its PAGE_FREE.

set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tool=$repo/build/tools/mmsb-tool
bus=mmsb-tool-test-$$
bus2=mmsb-tool-test-restored-$$
bus3=mmsb-tool-test-other-$$
buslog=mmsb-tool-test-log-$$
work=$(mktemp -d)
holder=
holder2=
holder3=
holder4=
holder5=
recorder=
nr=0
failed=0
skipped=0

cleanup() {
	[[ -z $holder ]] || kill "$holder" 2>/dev/null
	[[ -z $holder2 ]] || kill "$holder2" 2>/dev/null
	[[ -z $holder3 ]] || kill "$holder3" 2>/dev/null
	[[ -z $holder4 ]] || kill "$holder4" 2>/dev/null
	[[ -z $holder5 ]] || kill "$holder5" 2>/dev/null
	[[ -z $recorder ]] || kill "$recorder" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

tap_prefix=tool
. "$(dirname "${BASH_SOURCE[0]}")/tool-test-util.sh"


# Waits up to 5 s for a file to match a pattern.
wait_for() {
	local tries

	for tries in {1..50}; do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

t() {
	"$tool" --bus "$bus" "$@"
}

# json_fields stats|records FILE: every field Documentation/tool-json.md
# documents is in FILE's objects (one stats --json object, or one record of
# watch --json per line), with its type; fields it does not know are
# allowed, as the document says.
json_fields() {
	python3 - "$@" <<'PY'
import json, sys
U, S, L = int, str, list
BUS = dict(bus=S, bus_id=U, backend=S, attached=U, nr_pages=U, bytes=U,
           ring_size=U, last_seq=U, wp_faults=U, commits=U, bytes_diffed=U,
           records=U, record_bytes=U, overruns=U, pages=L)
PAGE = dict(page=U, size=U, epoch=U, map_count=U, dirty_chunks=U,
            wp_faults=U, commits=U, records=U, record_bytes=U,
            bytes_diffed=U)
PAGE_REC = dict(type=S, seq=U, page=U, epoch=U, page_size=U, pid=U,
                timestamp_ns=U, flags=L)
RECORD = {
    "delta": dict(type=S, seq=U, page=U, epoch=U, base_epoch=U, pid=U,
                  timestamp_ns=U, cause_seq=U, size=U, flags=L, runs=L),
    "page_alloc": PAGE_REC, "page_free": PAGE_REC,
    "overrun": dict(type=S, seq=U, lost=U),
    "unknown": dict(type=S, type_id=U, size=U),
}
RUN = dict(offset=U, len=U, data=S)

def check(obj, fields, what):
    for name, kind in fields.items():
        assert name in obj, f"{what}: no {name}: {obj}"
        ok = isinstance(obj[name], kind) and not isinstance(obj[name], bool)
        assert ok, f"{what}: {name} is not {kind.__name__}: {obj}"

if sys.argv[1] == "stats":
    bus = json.load(open(sys.argv[2]))
    check(bus, BUS, "bus")
    for p in bus["pages"]:
        check(p, PAGE, "page")
else:
    for line in open(sys.argv[2]):
        r = json.loads(line)
        check(r, RECORD[r["type"]], r["type"])
        assert all(isinstance(f, str) for f in r.get("flags", []))
        for run in r.get("runs", []):
            check(run, RUN, "run")
            assert len(run["data"]) == 2 * run["len"]
PY
}

echo "TAP version 13"
if [[ ! -e /dev/mmsb ]]; then
	echo "1..0 # SKIP no /dev/mmsb (module not loaded)"
	exit 4
fi
echo "1..66"

expect info-names-the-device-backend 0 'backend: +device' "$tool" info
expect unknown-command-is-a-usage-error 2 'unknown command' "$tool" frob
expect missing-bus-name-is-a-usage-error 2 'no bus' env -u MMSB_BUS "$tool" alloc 4k
expect missing-bus-fails-with-a-hint 1 'bus hold' t alloc 4k

holder=$(t bus hold --background)
expect background-holder-keeps-the-bus 0 'attached: +2 files' t bus info

expect alloc-prints-page-ids 0 '^1$' t alloc 4k
expect alloc-prints-page-ids-in-order 0 '^2$' t alloc 10000
expect write-commit-prints-the-seq 0 '^page 1: seq 3$' \
	t write --offset 100 --string hello --commit 1
t write --hex 'de ad' --offset 4094 1
expect pending-stores-commit-from-another-process 0 \
	'^page 1: seq 4$' t commit 1
expect cat-shows-the-stored-bytes 0 \
	'^00000060  00 00 00 00 68 65 6c 6c  6f 00 ' t cat -l 128 1
expect cat-raw-gives-the-bytes 0 '^hello$' t cat --raw -o 100 -l 5 1

t watch --json --count 1 >"$work/watch" 2>"$work/ready" &
watcher=$!
wait_for "$work/ready" 'watching' || echo "# watch did not attach"
t write -o 7 -s xyz --commit 2 >/dev/null
wait "$watcher"
status=$?
grep -q '"seq":5,"page":2,"epoch":1,"base_epoch":0,' "$work/watch" &&
	grep -q '"runs":\[{"offset":7,"len":3,"data":"78797a"}\]}$' "$work/watch" &&
	json_fields records "$work/watch"
result "$((!status && !$?))" watch-json-shows-the-record
((!status)) || cat "$work/watch" | sed 's/^/#   /'

t write -s a 1
t write -s b 2
expect commit-all-counts-the-records 0 '^2 records, first seq 6$' \
	t commit --all
expect stats-lists-the-pages 0 '^ +2 +10000 +2 ' t stats
t stats --json >"$work/stats.json"
status=$?
json_fields stats "$work/stats.json" && python3 -c '
import json, sys
bus = json.load(open(sys.argv[1]))
assert bus["bus"] == sys.argv[2] and bus["backend"] == "device"
assert bus["nr_pages"] == 2 and bus["last_seq"] == 7 and bus["attached"] == 2
assert bus["records"] == 7 - 2 and bus["ring_size"] > 0
got = [(p["page"], p["size"], p["epoch"], p["records"]) for p in bus["pages"]]
assert got == [(1, 4096, 3, 3), (2, 10000, 2, 2)], got
' "$work/stats.json" "$bus"
ok=$((!status && !$?))
result "$ok" stats-json-has-every-documented-field-and-the-pages
((ok)) || sed 's/^/#   /' "$work/stats.json"

# The pages as stats shows them (id, size, epoch) and their bytes.
pages_of() {
	"$tool" --bus "$1" stats | awk '/^ +[0-9]+ +[0-9]+ +[0-9]+ / { print $1, $2, $3 }'
	"$tool" --bus "$1" cat --raw 1
	"$tool" --bus "$1" cat --raw 2
}

expect snapshot-saves-the-pages 0 "^bus '$bus': 2 pages, 14096 bytes, seq 7 -> " \
	"$tool" snapshot "$bus" "$work/snap"
holder2=$("$tool" bus hold --background "$bus2")
"$tool" --bus "$bus2" watch --json --count 2 >"$work/watch2" 2>"$work/ready2" &
watcher=$!
wait_for "$work/ready2" 'watching' || echo "# watch did not attach"
expect restore-makes-the-pages 0 "^bus '$bus2': 2 pages, 14096 bytes restored, as of seq 7" \
	"$tool" restore "$work/snap" "$bus2"
wait "$watcher"
status=$?
grep -q '^{"type":"page_alloc","seq":1,"page":1,"epoch":3,"page_size":4096,.*"flags":\["restored"\]}$' \
	"$work/watch2" &&
	grep -q '^{"type":"page_alloc","seq":2,"page":2,"epoch":2,"page_size":10000,' "$work/watch2" &&
	json_fields records "$work/watch2"
result "$((!status && !$?))" watch-json-shows-restored-page-allocs
((!status)) || sed 's/^/#   /' "$work/watch2"
pages_of "$bus" >"$work/pages1"
pages_of "$bus2" >"$work/pages2"
cmp -s "$work/pages1" "$work/pages2" && (($(wc -l <"$work/pages1") >= 2))
result "$((!$?))" restored-pages-have-the-same-ids-sizes-epochs-and-bytes
expect restore-into-a-used-bus-is-eexist 1 'already used page ids as high as 1' \
	"$tool" restore "$work/snap" "$bus2"
expect restore-of-a-missing-file-fails 1 "cannot open '$work/none'" \
	"$tool" restore "$work/none" "$bus2"
cp "$work/snap" "$work/damaged"
# Byte 200 is in page 1's bytes: the header is 128, the entry 32.
printf '\xff' | dd of="$work/damaged" bs=1 seek=200 conv=notrunc 2>/dev/null
expect restore-names-the-damaged-page 1 "damaged: page 1 \(page 1 of the file\)" \
	"$tool" restore "$work/damaged" "$bus2"
if ((EUID)) || ! command -v setpriv >/dev/null; then
	echo "ok $((++nr)) tool.restore-into-another-owners-bus-is-eperm # SKIP needs root and setpriv"
	skipped=1
else
	holder3=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$tool" bus hold --background --mode 666 "$bus3")
	expect restore-into-another-owners-bus-is-eperm 1 "only the owner of bus '$bus3'" \
		"$tool" restore "$work/snap" "$bus3"
fi

expect free-then-write-fails 1 'mapping page 1' \
	bash -c "\"$tool\" --bus $bus free 1 && \"$tool\" --bus $bus write -s x 1"

# The log tests have a bus of their own, so that its seqs are known: seq 1
# is the page's PAGE_ALLOC, before the recorder attaches, so the log's base
# snapshot is at seq 1; seqs 2 to 8 are commits of page 1.
lt() {
	"$tool" --bus "$buslog" "$@"
}

# start_recorder OPTIONS...: log record into $work/log in the background,
# acknowledgements to $work/acks, stdout and stderr to $work/recorder.*.
# The tool itself is the job, not a function: $! must be the process that
# the signal is for (a background subshell ignores SIGINT).
start_recorder() {
	"$tool" --bus "$buslog" log record --ack-fd 3 "$@" "$work/log" \
		3>"$work/acks" >"$work/recorder.out" 2>"$work/recorder.err" &
	recorder=$!
}

# stop_recorder SIGNAL: the recorder's exit status.
stop_recorder() {
	local status

	kill -"$1" "$recorder"
	wait "$recorder"
	status=$?
	recorder=
	return $status
}

expect log-record-of-a-missing-bus-fails-with-a-hint 1 'bus hold' \
	lt log record "$work/log"
[[ ! -e $work/log ]]
result "$((!$?))" log-record-of-a-missing-bus-makes-no-log

holder4=$("$tool" bus hold --background "$buslog")
lt alloc 16k >/dev/null
head -c 8192 /dev/urandom >"$work/noise"
# Segments of 4 KiB: each 8 KiB record of noise seals the one before it.
start_recorder --sync=always --segment-bytes 4k --quiet
wait_for "$work/acks" '^durable 1$' || echo "# the recorder did not attach"
for offset in 100 200 300 400 500 600; do
	lt write -o "$offset" -f "$work/noise" --commit 1 >/dev/null
done
lt write -s hello --commit 1 >/dev/null
wait_for "$work/acks" '^durable 8$'
status=$?
result "$((!status))" log-record-acks-each-record-once-synced
((!status)) || sed 's/^/#   /' "$work/acks" "$work/recorder.err"
stop_recorder INT
status=$?
grep -q "^bus '$buslog' -> $work/log: 7 records, 1 snapshot, 0 gaps recorded; the log holds seq 1 to 8, durable to 8, in [2-9] segments" \
	"$work/recorder.out"
ok=$((!status && !$?))
result "$ok" log-record-stops-on-sigint-and-says-what-it-recorded
((ok)) || sed 's/^/#   /' "$work/recorder.out" "$work/recorder.err"

lt log status "$work/log" >"$work/status"
status=$?
grep -Eq '^base seq: +1$' "$work/status" &&
	grep -Eq '^last seq: +8$' "$work/status" &&
	grep -Eq '^records: +7$' "$work/status" &&
	grep -Eq '^segments: +[2-9]$' "$work/status" &&
	grep -Eq '^first time: +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z$' "$work/status" &&
	grep -Eq '^torn tail: +none$' "$work/status"
ok=$((!status && !$?))
result "$ok" log-status-shows-seqs-records-segments-and-times
((ok)) || sed 's/^/#   /' "$work/status"
expect log-verify-finds-no-fault 0 '^0 faults$' lt log verify "$work/log"
lt log dump "$work/log" >"$work/dump"
status=$?
grep -Eq '^0000000000000001\.seg:64 snapshot [0-9:.]+ seq 1$' "$work/dump" &&
	(($(grep -Ec '\.seg:[0-9]+ record [0-9:.]+ seq [2-8] page 1 ' "$work/dump") == 7)) &&
	grep -Eq '\.seg:[0-9]+ record [0-9:.]+ seq 8 page 1 epoch 6->7 .*: 1 run, 5 bytes: \[0,\+5\) "hello"$' \
		"$work/dump"
ok=$((!status && !$?))
result "$ok" log-dump-prints-the-snapshot-and-every-record-as-watch-does
((ok)) || sed 's/^/#   /' "$work/dump"
expect log-dump-from-a-seq-starts-there 0 '^[0-9a-f]{16}\.seg:64 record [0-9:.]+ seq 5 page 1 ' \
	bash -c "\"$tool\" log dump --from 5 \"$work/log\" | head -1"

# Nothing records and nothing commits until seq 9: the bus and the log
# are both at seq 8, so the replay is the bus's snapshot, byte for byte.
"$tool" snapshot "$buslog" "$work/snap8" >/dev/null
expect log-replay-writes-the-pages-at-the-log-position 0 \
	"^log '$work/log': 1 pages, 16384 bytes, seq 8 -> $work/replayed$" \
	lt log replay "$work/log" "$work/replayed"
cmp -s "$work/snap8" "$work/replayed"
result "$((!$?))" log-replay-gives-what-a-snapshot-of-the-bus-gives
# The base is seq 1, so the seq outside the log is one past its end.
expect log-replay-outside-the-log-fails 1 'seq 9 is outside the log \(1 to 8\)' \
	lt log replay --to-seq 9 "$work/log" "$work/replayed"
lt log history --page 1 "$work/log" >"$work/history"
status=$?
grep -Eq '^0000000000000001\.seg:64 snapshot [0-9:.]+ seq 1$' "$work/history" &&
	(($(grep -Ec ' record [0-9:.]+ seq [2-8] page 1 ' "$work/history") == 7)) &&
	(($(wc -l <"$work/history") == 8))
ok=$((!status && !$?))
result "$ok" log-history-lists-the-snapshot-and-the-pages-records
((ok)) || sed 's/^/#   /' "$work/history"
lt log history --page 2 "$work/log" >"$work/history"
status=$?
grep -Eq ' snapshot [0-9:.]+ seq 1$' "$work/history" &&
	(($(wc -l <"$work/history") == 1))
ok=$((!status && !$?))
result "$ok" log-history-of-another-page-lists-no-record
((ok)) || sed 's/^/#   /' "$work/history"
expect log-checkpoint-says-its-seq 0 "^log '$work/log': checkpoint at seq 8$" \
	lt log checkpoint "$work/log"
lt log status "$work/log" | grep -Eq '^snapshots: +2$' &&
	lt log verify "$work/log" | grep -q '^0 faults$'
result "$((!$?))" log-checkpoint-adds-a-snapshot-that-verifies
lt log replay "$work/log" "$work/replayed" >/dev/null &&
	cmp -s "$work/snap8" "$work/replayed"
result "$((!$?))" log-replay-from-the-checkpoint-gives-the-same-pages

# show --json: one object per frame, records as watch --json prints them.
lt log show --json "$work/log" >"$work/show.json"
status=$?
python3 -c '
import json, sys
frames = [json.loads(line) for line in open(sys.argv[1])]
assert frames[0]["frame"] == "snapshot" and frames[0]["seq"] == 1
records = [f for f in frames if f["frame"] == "record"]
assert [f["seq"] for f in records] == list(range(2, 9))
last = records[-1]["record"]
assert last["type"] == "delta" and last["epoch"] == 7
assert last["runs"] == [{"offset": 0, "len": 5, "data": "68656c6c6f"}]
assert frames[-1]["frame"] == "snapshot" and frames[-1]["seq"] == 8
' "$work/show.json"
ok=$((!status && !$?))
result "$ok" log-show-json-prints-each-frame-and-every-byte
((ok)) || sed 's/^/#   /' "$work/show.json"
lt log history --page 1 --json "$work/log" | python3 -c '
import json, sys
frames = [json.loads(line) for line in sys.stdin]
assert sum(f["frame"] == "record" for f in frames) == 7
assert all(f["record"]["page"] == 1 for f in frames if f["frame"] == "record")
'
result "$((!$?))" log-history-json-lists-the-pages-records
# The net change from seq 4 to 8: page 1's four deltas as one, epoch 3 to 7.
lt log diff --from 4 --json "$work/log" | python3 -c '
import json, sys
records = [json.loads(line) for line in sys.stdin]
assert len(records) == 1, records
d = records[0]
assert d["type"] == "delta" and d["page"] == 1 and d["seq"] == 8
assert d["base_epoch"] == 3 and d["epoch"] == 7
'
result "$((!$?))" log-diff-merges-a-pages-deltas-into-one

# Page 1 was allocated at seq 1, epoch 0; the commit of seq N made epoch N - 1.
expect log-replay-to-an-epoch-replays-to-the-record-that-made-it 0 \
	"^log '$work/log': 1 pages, 16384 bytes, seq 4 -> $work/replayed4$" \
	lt log replay --to-epoch 1:3 "$work/log" "$work/replayed4"
expect log-replay-verify-against-the-bus-snapshot-matches 0 \
	"^replay to seq 8 matches $work/snap8: 1 pages, 16384 bytes$" \
	lt log replay --to-epoch 1:7 --verify "$work/snap8" "$work/log"
expect log-replay-verify-names-the-first-difference 1 \
	"^page 1: epoch 3 in the replay, 7 in $work/snap8\$" \
	lt log replay --to-seq 4 --verify "$work/snap8" "$work/log"
# The bus's snapshot with one byte changed, rewritten whole by the Python
# log reader's snapshot writer (examples/python/mmsb_log.py).
python3 - "$repo/examples/python" "$work/snap8" "$work/snap8-bad" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import mmsb_log
with open(sys.argv[2], "rb") as f:
    snap, _ = mmsb_log.read_snapshot(f)
page = snap.pages[0]
data = bytearray(page.data)
data[100] ^= 0xff
snap.pages[0] = page._replace(data=bytes(data))
with open(sys.argv[3], "wb") as f:
    mmsb_log.write_snapshot(snap, f)
PY
expect log-replay-verify-names-the-first-differing-offset 1 \
	'^page 1, offset 100: 0x[0-9a-f]{2} in the replay, 0x[0-9a-f]{2} in ' \
	lt log replay --verify "$work/snap8-bad" "$work/log"
seq5_time=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    f = json.loads(line)
    if f["frame"] == "record" and f["seq"] == 5:
        print(f["time_ns"])
' "$work/show.json")
expect log-replay-to-a-time-replays-to-the-last-record-before-it 0 \
	"seq 5 -> $work/replayed5\$" \
	lt log replay --to-time "$seq5_time" "$work/log" "$work/replayed5"
lt log replay --out "$work/pages" "$work/log" >/dev/null &&
	[[ $(cat "$work/pages/pages") == $'seq 8\n1 16384 7' ]] &&
	lt cat --raw 1 | cmp -s - "$work/pages/1"
result "$((!$?))" log-replay-out-writes-each-pages-bytes-and-a-list

# --bus: the pages rebuilt in a new bus, checked against the live one.
holder5=$("$tool" bus hold --background "$buslog-rebuilt")
expect log-replay-into-a-new-bus-gives-the-live-buses-pages 0 \
	"^replay to seq 8 matches bus:$buslog: 1 pages, 16384 bytes$" \
	lt log replay --bus "$buslog-rebuilt" --verify "bus:$buslog" "$work/log"
[[ $("$tool" --bus "$buslog-rebuilt" stats |
	awk '/^ +[0-9]+ +[0-9]+ +[0-9]+ / { print $1, $2, $3 }') == "1 16384 7" ]] &&
	"$tool" --bus "$buslog-rebuilt" cat --raw 1 | cmp -s - "$work/pages/1"
result "$((!$?))" log-replay-into-a-bus-keeps-ids-epochs-and-bytes
expect log-replay-into-a-bus-with-pages-fails 1 'the bus has pages' \
	lt log replay --bus "$buslog-rebuilt" "$work/log"
kill "$holder5"
holder5=

# compact, on a copy: the log below keeps its first segment.
cp -r "$work/log" "$work/log-compact"
expect log-compact-says-where-the-log-begins 0 \
	"^log '$work/log-compact': begins at seq 5 \(was 1\), [0-9]+ bytes \(was [0-9]+\)$" \
	lt log compact --before 5 "$work/log-compact"
expect log-replay-before-a-compaction-fails 1 'seq 4 is outside the log \(5 to 8\)' \
	lt log replay --to-seq 4 "$work/log-compact" "$work/replayed"
lt log replay "$work/log-compact" "$work/replayed" >/dev/null &&
	cmp -s "$work/snap8" "$work/replayed" &&
	lt log verify "$work/log-compact" | grep -q '^0 faults$'
result "$((!$?))" log-compacted-log-replays-the-same-and-verifies

# Seq 9 is committed while nobody records: the log resumes with a gap.
lt write -s again --commit 1 >/dev/null
start_recorder
wait_for "$work/acks" '^durable 9$'
status=$?
result "$((!status))" log-record-resumes-a-log-and-acks-its-snapshot
((!status)) || sed 's/^/#   /' "$work/acks" "$work/recorder.err"
sleep 1.5
stop_recorder TERM
status=$?
grep -Eq '^mmsb-tool: [0-9]+ records/s, [0-9.]+ MB/s, lag 0 records, durable seq 9$' \
	"$work/recorder.err" &&
	grep -q ': 0 records, 1 snapshot, 1 gap recorded; the log holds seq 1 to 9, durable to 9,' \
		"$work/recorder.out"
ok=$((!status && !$?))
result "$ok" log-record-prints-rates-each-second-and-stops-on-sigterm
((ok)) || sed 's/^/#   /' "$work/recorder.out" "$work/recorder.err"
expect log-dump-shows-the-gap 0 ' gap [0-9:.]+ seq 9: lost 1 records, to seq 9$' \
	lt log dump "$work/log"

# Byte 96 of the first segment is in the payload of its first frame, the
# base snapshot's: the segment is sealed, so that is damage, not a tail.
printf '\xff' | dd of="$work/log/0000000000000001.seg" bs=1 seek=96 conv=notrunc 2>/dev/null
expect log-verify-names-the-damaged-segment 1 '^0000000000000001\.seg, offset 64: CRC mismatch$' \
	lt log verify "$work/log"
expect log-verify-counts-the-fault 1 '^1 fault$' lt log verify "$work/log"
expect log-dump-stops-at-the-damage-naming-it 1 '0000000000000001\.seg, offset 64: CRC mismatch' \
	lt log dump "$work/log"
kill "$holder4"
holder4=

# stats --watch on a bus of its own, while a background loop commits.
buswatch=$bus-watch
holder5=$("$tool" bus hold --background "$buswatch")
"$tool" --bus "$buswatch" alloc 4k >/dev/null
# It commits until killed, and says when its first commit is done: one
# run of the tool takes a while on a slow (debug, emulated) kernel.
(for ((i = 0; ; i++)); do
	"$tool" --bus "$buswatch" write -s "x$i" --commit 1 >/dev/null || exit
	((i)) || echo committed >"$work/committing"
done) &
committer=$!
wait_for "$work/committing" committed || echo "# the committer did not commit"
"$tool" --bus "$buswatch" stats --watch --count 3 --interval 1 \
	>"$work/rates" 2>&1
status=$?
kill "$committer" 2>/dev/null
wait "$committer"
# Three blocks, each of a header, the column names, a row and an empty line.
(($(grep -c '^ *readers  *records/s  *bytes/s  *faults/s  *commits/s  *overruns/s  *last-seq  *bus$' \
	"$work/rates") == 3)) &&
	(($(grep -c '^$' "$work/rates") == 3)) &&
	! grep -q $'\e' "$work/rates" &&
	awk -v bus="$buswatch" '$8 == bus && $2 > 0 && $3 > 0 && $5 > 0 { n++ }
		END { exit n < 1 }' "$work/rates"
ok=$((!status && !$?))
result "$ok" stats-watch-shows-the-rates-of-a-bus-in-blocks
((ok)) || sed 's/^/#   /' "$work/rates"
"$tool" --bus "$buswatch" stats --watch --interval 0.1 >"$work/rates" 2>&1 &
watcher=$!
wait_for "$work/rates" "$buswatch\$"
kill -INT "$watcher"
wait "$watcher"
status=$?
result "$((!status))" stats-watch-stops-on-sigint
((!status)) || sed 's/^/#   /' "$work/rates"
# Every bus is in the module's debugfs file, which only root reads.
if ((EUID)); then
	expect stats-watch-of-every-bus-needs-root 2 'no bus: give --bus NAME' \
		env -u MMSB_BUS "$tool" stats --watch --count 1
elif [[ ! -r /sys/kernel/debug/mmsb/buses ]]; then
	echo "ok $((++nr)) tool.stats-watch-lists-every-bus # SKIP no debugfs"
	skipped=$((skipped + 1))
else
	env -u MMSB_BUS "$tool" stats --watch --count 1 --interval 0.1 \
		>"$work/rates" 2>&1
	status=$?
	# The tool attaches to no bus here: the holder is $bus's one reader.
	grep -Eq "^ +1 .* $bus\$" "$work/rates" &&
		grep -q " $buswatch\$" "$work/rates"
	ok=$((!status && !$?))
	result "$ok" stats-watch-lists-every-bus
	((ok)) || sed 's/^/#   /' "$work/rates"
fi
kill "$holder5"
holder5=

kill "$holder"
for tries in {1..20}; do
	t bus info >/dev/null 2>&1 || break
	sleep 0.1
done
holder=
expect bus-dies-with-its-holder 1 "no bus '$bus'" t bus info

expect demo-runs-to-the-end 0 'detached: the bus and its pages are gone' \
	"$tool" demo

echo "# Totals: pass:$((nr - failed - skipped)) fail:$failed skip:$skipped"
((!failed))
