#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: mmsb-tool as a script uses it.  A background holder keeps a
# bus alive between commands; alloc, write, commit, cat, watch --json,
# stats and free each do what their output says; usage errors exit 2,
# failures exit 1 with a message; killing the holder destroys the bus; the
# demo runs to the end.  Runs in the VM (make check) as root and as nobody.

set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tool=$repo/build/tools/mmsb-tool
bus=mmsb-tool-test-$$
work=$(mktemp -d)
holder=
nr=0
failed=0

cleanup() {
	[[ -z $holder ]] || kill "$holder" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

result() {
	local ok=$1 name=$2

	nr=$((nr + 1))
	if ((ok)); then
		echo "ok $nr tool.$name"
	else
		echo "not ok $nr tool.$name"
		failed=$((failed + 1))
	fi
}

# expect NAME STATUS PATTERN COMMAND...: COMMAND exits with STATUS and its
# stdout and stderr together match the extended regex PATTERN.
expect() {
	local name=$1 want=$2 pattern=$3 status

	shift 3
	"$@" >"$work/out" 2>&1
	status=$?
	if ((status == want)) && grep -Eq -- "$pattern" "$work/out"; then
		result 1 "$name"
		return
	fi
	echo "# $name: '$*' exited with $status (want $want), printed:"
	sed 's/^/#   /' "$work/out"
	echo "# which should match: $pattern"
	result 0 "$name"
}

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

echo "TAP version 13"
if [[ ! -e /dev/mmsb ]]; then
	echo "1..0 # SKIP no /dev/mmsb (module not loaded)"
	exit 4
fi
echo "1..17"

expect info-names-the-device-backend 0 'backend: +device' "$tool" info
expect unknown-command-is-a-usage-error 2 'unknown command' "$tool" frob
expect missing-bus-name-is-a-usage-error 2 'no bus' env -u MMSB_BUS "$tool" alloc 4k
expect missing-bus-fails-with-a-hint 1 'bus hold' t alloc 4k

holder=$(t bus hold --background)
expect background-holder-keeps-the-bus 0 'attached: +2 files' t bus info

expect alloc-prints-page-ids 0 '^1$' t alloc 4k
expect alloc-prints-page-ids-in-order 0 '^2$' t alloc 10000
expect write-commit-prints-the-seq 0 '^page 1: seq 1$' \
	t write --offset 100 --string hello --commit 1
t write --hex 'de ad' --offset 4094 1
expect pending-stores-commit-from-another-process 0 \
	'^page 1: seq 2$' t commit 1
expect cat-shows-the-stored-bytes 0 \
	'^00000060  00 00 00 00 68 65 6c 6c  6f 00 ' t cat -l 128 1
expect cat-raw-gives-the-bytes 0 '^hello$' t cat --raw -o 100 -l 5 1

t watch --json --count 1 >"$work/watch" 2>"$work/ready" &
watcher=$!
wait_for "$work/ready" 'watching' || echo "# watch did not attach"
t write -o 7 -s xyz --commit 2 >/dev/null
wait "$watcher"
status=$?
grep -q '"seq":3,"page":2,"epoch":1,"base_epoch":0,' "$work/watch" &&
	grep -q '"runs":\[{"offset":7,"len":3,"data":"78797a"}\]}$' "$work/watch"
result "$((!status && !$?))" watch-json-shows-the-record
((!status)) || cat "$work/watch" | sed 's/^/#   /'

t write -s a 1
t write -s b 2
expect commit-all-counts-the-records 0 '^2 records, first seq 4$' \
	t commit --all
expect stats-lists-the-pages 0 '^ +2 +10000 +2 ' t stats

expect free-then-write-fails 1 'mapping page 1' \
	bash -c "\"$tool\" --bus $bus free 1 && \"$tool\" --bus $bus write -s x 1"

kill "$holder"
for tries in {1..20}; do
	t bus info >/dev/null 2>&1 || break
	sleep 0.1
done
holder=
expect bus-dies-with-its-holder 1 "no bus '$bus'" t bus info

expect demo-runs-to-the-end 0 'detached: the bus and its pages are gone' \
	"$tool" demo

echo "# Totals: pass:$((nr - failed)) fail:$failed skip:0"
((!failed))
