#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: an open /dev/mmsb pins the module.  rmmod must fail while a
# process holds the device open and work once it has exited; the module is
# loaded again afterwards so that later tests find it.  Root only.

set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
module=$repo/build/kmod/$(uname -r)/mmsb.ko
pass=0
fail=0

echo "TAP version 13"
if ((EUID)); then
	echo "1..0 # SKIP needs root"
	exit 4
fi
if [[ ! -d /sys/module/mmsb ]] && ! insmod "$module" 2>/dev/null; then
	echo "1..0 # SKIP cannot load $module"
	exit 4
fi
echo "1..3"

result() {
	local ok=$1 name=$2

	if ((ok)); then
		echo "ok $((pass + fail + 1)) $name"
		pass=$((pass + 1))
	else
		echo "not ok $((pass + fail + 1)) $name"
		fail=$((fail + 1))
	fi
}

# Polls up to 2 s for a command to succeed.
eventually() {
	local tries

	for tries in {1..20}; do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

(exec 3<>/dev/mmsb && exec sleep 600) &
holder=$!
eventually test -e "/proc/$holder/fd/3" ||
	echo "# the holder could not open /dev/mmsb"
if rmmod mmsb 2>/dev/null; then
	result 0 "rmmod-fails-while-open"
	insmod "$module"
else
	result 1 "rmmod-fails-while-open"
fi

kill "$holder"
wait "$holder" 2>/dev/null
eventually rmmod mmsb
result "$((! $?))" "rmmod-works-after-close"

[[ -d /sys/module/mmsb ]] || insmod "$module"
result "$((! $?))" "insmod-after-rmmod"

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
((fail == 0))
