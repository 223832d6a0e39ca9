# SPDX-License-Identifier: GPL-2.0
#
# TAP helpers for the root-only shell tests the guest runs (sourced by
# tools/vm/*-test.sh and regress-*.sh):
#
#   tap_begin NR_TESTS    the TAP header; skips the whole program (exit 4)
#                         unless it runs as root with the module loaded
#   result OK NAME        "ok" if OK is nonzero, else "not ok"
#   skipped NAME REASON   an "ok ... # SKIP"
#   eventually CMD...     polls up to 2 s for CMD to succeed
#   tap_end               the totals line; returns nonzero if any failed
#
# $module is the module built for the running kernel.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
module=$repo/build/kmod/$(uname -r)/mmsb.ko
pass=0
fail=0
skip=0

tap_begin() {
	echo "TAP version 13"
	if ((EUID)); then
		echo "1..0 # SKIP needs root"
		exit 4
	fi
	if [[ ! -d /sys/module/mmsb ]] && ! insmod "$module" 2>/dev/null; then
		echo "1..0 # SKIP cannot load $module"
		exit 4
	fi
	echo "1..$1"
}

tap_next() {
	echo $((pass + fail + skip + 1))
}

result() {
	local ok=$1 name=$2

	if ((ok)); then
		echo "ok $(tap_next) $name"
		pass=$((pass + 1))
	else
		echo "not ok $(tap_next) $name"
		fail=$((fail + 1))
	fi
}

skipped() {
	echo "ok $(tap_next) $1 # SKIP $2"
	skip=$((skip + 1))
}

eventually() {
	local _

	for _ in {1..20}; do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

tap_end() {
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
	((fail == 0))
}
