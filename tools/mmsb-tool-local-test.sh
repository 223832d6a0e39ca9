#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: mmsb-tool without the module.  demo --local runs the whole
# story on libmmsb's local backend, the engine a thread of the same
# process: the chain propagates, the records are told apart by cause, and
# the bus is gone at the end.  info names the local backend and its limits
# where there is no /dev/mmsb.  Runs on the host (make check) as whoever
# runs it, and in the VM as root and as nobody.

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
echo "1..9"

timeout 30 "$tool" demo --local >"$work/demo" 2>&1
status=$?
result "$((!status))" demo-local-exits-0
((!status)) || sed 's/^/#   /' "$work/demo"
has demo-local-says-two-threads '^MMSB demo: two threads share'
has engine-thread-attaches 'engine +a thread attached on its own'
has writer-commit-is-seq-1 'seq 1: page A epoch 0->1, by the writer'
has engine-propagates-upper 'seq 2: page B epoch 0->1, by the engine .*caused by seq 1'
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

echo "# Totals: pass:$((nr - failed - skipped)) fail:$failed skip:$skipped"
((!failed))
