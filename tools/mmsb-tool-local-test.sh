#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: mmsb-tool without the module.  demo --local runs the whole
# story on libmmsb's local backend, the engine a thread of the same
# process: the chain propagates, the records are told apart by cause, and
# the bus is gone at the end.  info names the local backend and its limits
# where there is no /dev/mmsb.  restore checks a snapshot file before it
# attaches to any bus, so a missing, damaged, cut or foreign file is
# refused here too, with the damaged page named.  log's usage errors exit
# 2; log record without the module fails and makes no log; log status,
# verify and dump refuse a missing log, and one whose segment header is
# damaged, naming the segment; so do log replay, checkpoint, compact
# (which make no log) and history, whose usage errors exit 2 too, as do
# those of stats --watch.  (snapshot, restore
# and log record themselves need the device, as every command but demo
# --local does: tools/mmsb-tool-test.sh.)  Runs on the host (make check) as
# whoever runs it, and in the VM as root and as nobody.

set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tool=$repo/build/tools/mmsb-tool
work=$(mktemp -d)
nr=0
failed=0

trap 'rm -rf "$work"' EXIT

tap_prefix=tool-local
. "$(dirname "${BASH_SOURCE[0]}")/tool-test-util.sh"

# has NAME PATTERN: the demo's output matches the extended regex PATTERN.
has() {
	if grep -Eq -- "$2" "$work/demo"; then
		result 1 "$1"
		return
	fi
	echo "# $1: the demo's output should match: $2"
	result 0 "$1"
}

echo "TAP version 13"
echo "1..50"

timeout 30 "$tool" demo --local >"$work/demo" 2>&1
status=$?
result "$((!status))" demo-local-exits-0
((!status)) || sed 's/^/#   /' "$work/demo"
has demo-local-says-two-threads '^MMSB demo: two threads share'
has engine-thread-attaches 'engine +a thread attached on its own'
# Seq 1 to 3 are the PAGE_ALLOC records of A, B and C.
has page-allocs-are-on-the-stream 'seq 3 page 3 alloc: 4096 bytes, epoch 0'
has writer-commit-is-seq-4 'seq 4: page A epoch 0->1, by the writer'
has engine-propagates-upper 'seq 5: page B epoch 0->1, by the engine .*caused by seq 4'
has engine-propagates-counts '"10 letters, 3 vowels"'
has unchanged-commit-emits-nothing 'commit A: no record'
has demo-local-detaches 'writer +detached: the bus and its pages are gone'

skipped=0
if [[ -e /dev/mmsb ]]; then
	echo "ok $((++nr)) tool-local.info-without-module-names-local # SKIP /dev/mmsb is present"
	skipped=1
else
	"$tool" info >"$work/info" 2>&1
	status=$?
	grep -Eq '^backend: +local' "$work/info" &&
		grep -Eq '^max page: +1 GiB$' "$work/info"
	result "$((!status && !$?))" info-without-module-names-local
	((!status)) || sed 's/^/#   /' "$work/info"
fi

# The example of Documentation/snapshot-format.md: seq 7, page 2 "hello"
# at epoch 3, page 9 (8 bytes) at epoch 0.
snap_hex=4d4d5342534e4150010000008000000020000000000000000700000000000000
snap_hex+=0200000000000000100000000000000000000000000000000000000000000000
snap_hex+=0000000000000000000000000000000000000000000000000000000000000000
snap_hex+=0000000000000000000000000000000000000000000000000000000031b166ba
snap_hex+=020000000000000005000000000000000300000000000000b3ed0390f8479409
snap_hex+=68656c6c6f000000090000000000000008000000000000000000000000000000
snap_hex+=3bbc2c8a9c05b6bb0001020304050607

# refused NAME PATTERN FILE: restore FILE exits 1 printing PATTERN.
refused() {
	"$tool" restore "$3" no-such-bus >"$work/out" 2>&1
	status=$?
	if ((status == 1)) && grep -Eq -- "$2" "$work/out"; then
		result 1 "$1"
		return
	fi
	echo "# $1: restore exited with $status (want 1), printed:"
	sed 's/^/#   /' "$work/out"
	echo "# which should match: $2"
	result 0 "$1"
}

xxd -r -p <<<"$snap_hex" >"$work/snap"
refused restore-of-a-missing-file-fails "cannot open '$work/none'" "$work/none"
# Byte 0xa1 is the 'e' of page 2's "hello".
cp "$work/snap" "$work/damaged"
printf 'E' | dd of="$work/damaged" bs=1 seek=$((0xa1)) conv=notrunc 2>/dev/null
refused restore-names-the-damaged-page \
	"damaged: page 2 \(page 1 of the file\) fails its checksum" "$work/damaged"
head -c $((0xc0)) "$work/snap" >"$work/cut"
refused restore-names-the-cut-page "damaged: the entry of page 2 of the file" \
	"$work/cut"
refused restore-of-a-foreign-file-fails 'is not an MMSB snapshot' \
	"${BASH_SOURCE[0]}"


# Options are checked before any bus is looked for.
expect stats-watch-bad-interval-is-a-usage-error 2 "bad interval '0': seconds, 0.01 to 86400" \
	"$tool" --bus b stats --watch --interval 0
expect stats-watch-bad-count-is-a-usage-error 2 "bad count 'x'" \
	"$tool" --bus b stats --watch --count x
expect stats-interval-without-watch-is-a-usage-error 2 '--interval and --count are for --watch' \
	"$tool" --bus b stats --interval 2
expect stats-watch-with-json-is-a-usage-error 2 '--json and --watch exclude each other' \
	"$tool" --bus b stats --watch --json

expect log-without-an-action-is-a-usage-error 2 \
	'expected record, status, verify, dump, show, replay, checkpoint, compact, history or diff' \
	"$tool" log
expect log-unknown-action-is-a-usage-error 2 "unknown action 'frob'" "$tool" log frob
expect log-record-without-a-dir-is-a-usage-error 2 'expected \[BUS\] DIR' \
	"$tool" --bus b log record
expect log-record-bad-sync-mode-is-a-usage-error 2 "bad sync mode 'sometimes'" \
	"$tool" log record --sync=sometimes b "$work/log"
expect log-record-ack-fd-not-open-is-a-usage-error 2 "bad --ack-fd '99'" \
	"$tool" log record --ack-fd 99 b "$work/log"
expect log-dump-from-and-since-is-a-usage-error 2 '--from and --since exclude each other' \
	"$tool" log dump --from 2 --since 3 "$work/log"
expect log-replay-to-seq-0-is-a-usage-error 2 "bad seq '0'" \
	"$tool" log replay --to-seq 0 "$work/log" "$work/replayed"
expect log-checkpoint-without-a-dir-is-a-usage-error 2 'expected DIR' \
	"$tool" log checkpoint
expect log-history-without-a-page-is-a-usage-error 2 'expected --page ID' \
	"$tool" log history "$work/log"
expect log-history-bad-page-is-a-usage-error 2 "bad page id 'x'" \
	"$tool" log history --page x "$work/log"
expect log-history-with-from-is-a-usage-error 2 'history takes --page and --json' \
	"$tool" log history --page 1 --from 3 "$work/log"
expect log-compact-without-a-seq-is-a-usage-error 2 'expected --before SEQ' \
	"$tool" log compact "$work/log"
expect log-diff-without-a-seq-is-a-usage-error 2 'expected --from SEQ' \
	"$tool" log diff "$work/log"
expect log-replay-to-two-targets-is-a-usage-error 2 \
	'--to-seq, --to-time and --to-epoch exclude each other' \
	"$tool" log replay --to-seq 3 --to-time 5 "$work/log" "$work/replayed"
expect log-replay-to-a-file-and-a-dir-is-a-usage-error 2 \
	'FILE, --out and --bus exclude each other' \
	"$tool" log replay --out "$work/pages" "$work/log" "$work/replayed"
expect log-replay-to-nothing-is-a-usage-error 2 \
	'expected FILE, --out DIR, --bus NAME or --verify' \
	"$tool" log replay "$work/log"
expect log-replay-bad-epoch-is-a-usage-error 2 "bad --to-epoch '7': PAGE:EPOCH" \
	"$tool" log replay --to-epoch 7 "$work/log" "$work/replayed"
expect log-record-bad-checkpoint-every-is-a-usage-error 2 "bad --checkpoint-every '5x'" \
	"$tool" log record --checkpoint-every 5x b "$work/log"
if [[ -e /dev/mmsb ]]; then
	echo "ok $((++nr)) tool-local.log-record-without-module-fails-and-makes-no-log # SKIP /dev/mmsb is present"
	skipped=$((skipped + 1))
else
	"$tool" log record b "$work/log" >"$work/out" 2>&1
	status=$?
	((status == 1)) && grep -q 'is the module loaded' "$work/out" &&
		[[ ! -e $work/log ]]
	status=$?
	result "$((!status))" log-record-without-module-fails-and-makes-no-log
	((!status)) || sed 's/^/#   /' "$work/out"
fi
expect log-status-of-a-missing-log-fails 1 "cannot open log '$work/log'" \
	"$tool" log status "$work/log"
expect log-replay-of-a-missing-log-fails 1 "cannot open log '$work/log'" \
	"$tool" log replay "$work/log" "$work/replayed"
# Checkpoint opens the log to write, but without creating it.
expect log-checkpoint-of-a-missing-log-fails 1 "cannot open log '$work/log'" \
	"$tool" log checkpoint "$work/log"
expect log-compact-of-a-missing-log-fails 1 "cannot open log '$work/log'" \
	"$tool" log compact --before 3 "$work/log"
[[ ! -e $work/log ]]
result "$((!$?))" log-checkpoint-of-a-missing-log-makes-no-log
expect log-history-of-a-missing-log-fails 1 "cannot open log '$work/log'" \
	"$tool" log history --page 1 "$work/log"
mkdir "$work/empty"
expect log-verify-of-a-directory-without-segments-fails 1 "cannot verify log '$work/empty'" \
	"$tool" log verify "$work/empty"
# A segment whose header is not one: the log cannot be read at all.
mkdir "$work/bad"
head -c 64 /dev/zero | tr '\0' x >"$work/bad/0000000000000001.seg"
expect log-status-names-a-damaged-segment-header 1 \
	'0000000000000001\.seg, offset 0: damaged segment header' \
	"$tool" log status "$work/bad"
expect log-verify-names-a-damaged-segment-header 1 \
	'^0000000000000001\.seg, offset 0: damaged segment header$' \
	"$tool" log verify "$work/bad"
expect log-dump-names-a-damaged-segment-header 1 \
	'0000000000000001\.seg, offset 0: damaged segment header' \
	"$tool" log dump "$work/bad"
expect log-replay-names-a-damaged-segment-header 1 \
	'0000000000000001\.seg, offset 0: damaged segment header' \
	"$tool" log replay "$work/bad" "$work/replayed"
expect log-checkpoint-names-a-damaged-segment-header 1 \
	'0000000000000001\.seg, offset 0: damaged segment header' \
	"$tool" log checkpoint "$work/bad"
expect log-history-names-a-damaged-segment-header 1 \
	'0000000000000001\.seg, offset 0: damaged segment header' \
	"$tool" log history --page 1 "$work/bad"

echo "# Totals: pass:$((nr - failed - skipped)) fail:$failed skip:$skipped"
((!failed))
