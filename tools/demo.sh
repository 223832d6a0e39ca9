#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What `make demo` runs in the guest (tools/vm/run, as root): loads the
# module unless it is loaded, shows what it offers, runs `mmsb-tool demo`,
# then checks that the module holds no more memory than before and unloads
# it.  Exits 1 if any of that fails.

set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tool=$repo/build/tools/mmsb-tool
module=$repo/build/kmod/$(uname -r)/mmsb.ko
held=/sys/module/mmsb/parameters/bytes_held

[[ -d /sys/module/mmsb ]] || insmod "$module"
before=$(<"$held")

echo "== mmsb-tool info"
"$tool" info
echo
echo "== mmsb-tool demo"
"$tool" demo
echo

# The last close may free the bus from deferred work: give it 2 s.
for tries in {1..20}; do
	after=$(<"$held")
	[[ $after != "$before" ]] || break
	sleep 0.1
done
if [[ $after != "$before" ]]; then
	echo "demo.sh: the module holds $after bytes, $before before the demo"
	exit 1
fi
rmmod mmsb
echo "demo.sh: the module held $before bytes before and after the demo, and unloaded"
