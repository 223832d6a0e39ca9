#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: mmsb-tool without the module.  demo --local runs the whole
# story on libmmsb's local backend, the engine a thread of the same
# process: the chain propagates, the records are told apart by cause, and
# the bus is gone at the end.  info names the local backend and its limits
# where there is no /dev/mmsb.  restore checks a snapshot file before it
# attaches to any bus, so a missing, damaged, cut or foreign file is
# refused here too, with the damaged page named.  (snapshot and restore
# themselves need the device, as every command but demo --local does:
# tools/mmsb-tool-test.sh.)  Runs on the host (make check) as whoever runs
# it, and in the VM as root and as nobody.

set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tool=$repo/build/tools/mmsb-tool
work=$(mktemp -d)
nr=0
failed=0

trap 'rm -rf "$work"' EXIT

result() {
	local ok=$1 name=$2

	nr=$((nr + 1))
	if ((ok)); then
		echo "ok $nr tool-local.$name"
	else
		echo "not ok $nr tool-local.$name"
		failed=$((failed + 1))
	fi
}

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
echo "1..14"

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

echo "# Totals: pass:$((nr - failed - skipped)) fail:$failed skip:$skipped"
((!failed))
