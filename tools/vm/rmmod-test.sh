#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: an open /dev/mmsb pins the module.  rmmod must fail while a
# process holds the device open and work once it has exited; the module is
# loaded again afterwards so that later tests find it.  Root only.

set -u

. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

tap_begin 3

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

tap_end
