#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: mmsb-tool as a script uses it.  A background holder keeps a
# bus alive between commands; alloc, write, commit, cat, watch --json,
# stats and free each do what their output says; usage errors exit 2,
# failures exit 1 with a message; snapshot and restore into a new bus give
# the same pages, epochs and bytes, restore's PAGE_ALLOC records show in
# watch, and a damaged file, a used bus and a bus of another owner are
# refused with a message; killing the holder destroys the bus; the demo
# runs to the end.  Runs in the VM (make check) as root and as nobody.
#
# Sequence numbers count the PAGE_ALLOC record of each page (seq 1 and 2
# are the two allocs) and its PAGE_FREE.

set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tool=$repo/build/tools/mmsb-tool
bus=mmsb-tool-test-$$
bus2=mmsb-tool-test-restored-$$
bus3=mmsb-tool-test-other-$$
work=$(mktemp -d)
holder=
holder2=
holder3=
nr=0
failed=0
skipped=0

cleanup() {
	[[ -z $holder ]] || kill "$holder" 2>/dev/null
	[[ -z $holder2 ]] || kill "$holder2" 2>/dev/null
	[[ -z $holder3 ]] || kill "$holder3" 2>/dev/null
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
echo "1..25"

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
	grep -q '"runs":\[{"offset":7,"len":3,"data":"78797a"}\]}$' "$work/watch"
result "$((!status && !$?))" watch-json-shows-the-record
((!status)) || cat "$work/watch" | sed 's/^/#   /'

t write -s a 1
t write -s b 2
expect commit-all-counts-the-records 0 '^2 records, first seq 6$' \
	t commit --all
expect stats-lists-the-pages 0 '^ +2 +10000 +2 ' t stats

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
	grep -q '^{"type":"page_alloc","seq":2,"page":2,"epoch":2,"page_size":10000,' "$work/watch2"
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
