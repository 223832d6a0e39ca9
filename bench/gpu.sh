#!/bin/bash
# SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
#
# Everything mmsb_cuda needs a GPU for, in one go, on a machine that has
# one (Documentation/gpu.md): builds the CUDA code, runs the host tests of
# the CPU reference, the GPU tests (every case against the CPU reference),
# a few of them under compute-sanitizer, and the benchmark, then prints a
# summary.
#
#   bench/gpu.sh [-q]	(-q: the benchmark's quick sizes)
#
# It takes 5 to 8 minutes, and never more than GPU_SH_BUDGET seconds (540
# by default, under the device tool's 10 minutes a command): each step
# gets at most what is left, and the summary is always printed.  Logs go
# to $OUT when it is set (the device tool's folder), else to
# build/cuda/results.  Exits 1 if anything failed or was cut short, or if
# no GPU was seen.

set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

bench_args=()
[[ ${1:-} == -q ]] && bench_args=(-q)
out=${OUT:-build/cuda/results}
mkdir -p "$out"
deadline=$((SECONDS + ${GPU_SH_BUDGET:-540}))
# Seconds kept back for the summary.
reserve=15
status=0

step() {
	echo
	echo "=== $*"
}

# At most @1 seconds, or what is left before the deadline (at least 1:
# timeout takes 0 for no limit at all).
limit() {
	local left=$((deadline - SECONDS - reserve))

	((left < 1)) && left=1
	((left < $1)) && echo "$left" || echo "$1"
}

# Runs a step for at most @2 seconds, output to the terminal and to @1.
run() {
	local log=$1 secs
	secs=$(limit "$2")
	shift 2
	if ((secs < 20)); then
		echo "gpu.sh: out of time, skipped: $*" | tee "$out/$log"
		return 1
	fi
	timeout -k 5 "$secs" "$@" 2>&1 | tee "$out/$log"
	return "${PIPESTATUS[0]}"
}

step "machine"
nvidia-smi -L || echo "nvidia-smi: not found or failed"
command -v nvcc >/dev/null || { echo "nvcc not found: cannot build"; exit 1; }
nvcc --version | tail -n 2

step "build"
cpu_tests=(build/cuda/tests/plan_test build/cuda/tests/mirror_cpu_test
	   build/cuda/tests/diff_cpu_test)
if ! run build.log 240 make -j"$(nproc)" "${cpu_tests[@]}" \
		build/cuda/tests/gpu_test build/cuda/bench/gpu_bench; then
	echo "build failed"
	exit 1
fi

step "CPU reference and kernel emulation"
for t in "${cpu_tests[@]}"; do
	TAP_RUN_TIMEOUT=$(limit 60) tools/tap-run "$t"
done 2>&1 | tee "$out/cpu.tap"

step "GPU tests"
TAP_RUN_TIMEOUT=$(limit 240) tools/tap-run build/cuda/tests/gpu_test 2>&1 |
	tee "$out/gpu.tap"
if grep -q '# SKIP no CUDA device' "$out/gpu.tap"; then
	echo "gpu.sh: the tests saw no CUDA device"
	status=1
fi

step "compute-sanitizer (memcheck, racecheck) on the small cases"
small=(-t apply-of-one-page-over-and-over-matches-cpu
       -t apply-refusals-match-cpu -t overrun-sets-resync-and-the-rest-applies
       -t diff-of-small-pages-matches-cpu -t diff-refuses-as-cpu-does)
sanitizer=$(command -v compute-sanitizer)
for s in /usr/local/cuda*/bin/compute-sanitizer; do
	[[ -z $sanitizer && -x $s ]] && sanitizer=$s
done
if [[ -n $sanitizer ]]; then
	for tool in memcheck racecheck; do
		run "sanitizer-$tool.log" 90 "$sanitizer" --tool "$tool" \
			--target-processes all --error-exitcode 99 \
			build/cuda/tests/gpu_test "${small[@]}" ||
			{ echo "gpu.sh: $tool failed"; status=1; }
	done
else
	echo "compute-sanitizer: not found, skipped"
fi

step "benchmark"
run bench.txt 200 build/cuda/bench/gpu_bench "${bench_args[@]}" ||
	{ echo "gpu.sh: the benchmark failed or was cut short"; status=1; }

step "summary"
{
	echo "tests: $(tools/tap-summary "$out/cpu.tap" "$out/gpu.tap")"
	grep -h 'ERROR SUMMARY' "$out"/sanitizer-*.log 2>/dev/null
	grep -E '^(device|copy|route measured)' "$out/bench.txt"
	grep -E '^apply .* in +[0-9]+ runs of 64K' "$out/bench.txt" | tail -n 3
	grep -E '^diff .*256M' "$out/bench.txt"
	grep -E '^e2e' "$out/bench.txt"
	echo "gpu.sh took $SECONDS s"
} 2>&1 | tee "$out/summary.txt"
tools/tap-summary "$out/cpu.tap" "$out/gpu.tap" >/dev/null || status=1
exit $status
