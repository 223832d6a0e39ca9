#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# Runs the benchmarks that time the module (BENCH_VM in the build.mk
# fragments, see bench/README.md) in the test VM with the module loaded, on
# each kernel given or else on every kernel with a built module.  Prints
# their tables and then every goal line of every kernel.  Build first with
# make.
#
# usage: bench/run-vm.sh [KVER...]

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

kvers=("$@")
if ((!${#kvers[@]})); then
	for ko in build/kmod/*/mmsb.ko; do
		[[ -e $ko ]] && kvers+=("$(basename "$(dirname "$ko")")")
	done
fi
if ((!${#kvers[@]})); then
	echo "run-vm: no build/kmod/*/mmsb.ko: build the module first" >&2
	exit 2
fi

benches=$(make -s --no-print-directory -f Makefile -f - print-bench-vm \
	  <<<'print-bench-vm: ; @echo $(BENCH_VM)')
for bin in $benches; do
	[[ -x $bin ]] || { echo "run-vm: no $bin: run make first" >&2; exit 2; }
done

# In the guest: every benchmark runs, with its defaults, even if one
# fails; the worst status (4 is a skip) is the command's.
guest="rc=0
for bench in $benches; do
	\$bench
	s=\$?
	[ \$s -gt \$rc ] && rc=\$s
done
exit \$rc"

# QEMU's TCG runs "rep movsb" a byte per iteration, about 2 ns a byte:
# with ERMS/FSRM advertised the guest kernel copies with it, and a 9 KiB
# copy_from_user outweighs all else a write does, where hardware with ERMS
# does it at tens of bytes a cycle.  Hiding the two features makes the
# kernel copy with movsq and unrolled loops, whose TCG cost is in line with
# the rest.  MMSB_BENCH_CPU=max measures with them.
cpu=${MMSB_BENCH_CPU:-max,-erms,-fsrm}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
goals=
status=0
for kver in "${kvers[@]}"; do
	ko=build/kmod/$kver/mmsb.ko
	# TCG timings swing with the host's load: say what it was.
	echo "== $kver, -cpu $cpu (host load average $(cut -d' ' -f1-3 /proc/loadavg))"
	if [[ ! -r $ko ]]; then
		echo "run-vm: no $ko" >&2
		status=1
		continue
	fi
	tools/vm/run --timeout 900 --cpu "$cpu" --kver "$kver" --insmod "$ko" -- \
		sh -c "$guest" | tee "$out" || status=1
	goals+=$(grep '^goal ' "$out" | sed "s/^goal /$kver  /")$'\n'
done

echo "== goals"
printf '%s' "$goals"
exit "$status"
