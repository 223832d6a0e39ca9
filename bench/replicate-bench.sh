#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Replication end to end against plain JetStream, in one run on one
# 3-node cluster (tests/replicate/cluster.sh) with R3 streams: for each
# record size, as fast as it goes (throughput) and paced at RATE records
# a second (latency), build/bench/replicate_bench mmsb (source commit to
# mirror applied) and plain (one message per record, publish to receipt).
#
#   bench/replicate-bench.sh [RECORDS [RATE [BYTES...]]]
#   (defaults: 50000 records, 2000/s, 64 and 1024 bytes a record)

set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=$repo/build/bench/replicate_bench
records=${1:-50000}
rate=${2:-2000}
shift $(($# > 2 ? 2 : $#))
sizes=("${@:-64}")
(($#)) || sizes=(64 1024)

command -v nats-server >/dev/null || { echo "no nats-server" >&2; exit 4; }
[[ -x $bench ]] || { echo "no $bench (needs libnats-dev)" >&2; exit 4; }

work=$(mktemp -d)
. "$repo/tests/replicate/cluster.sh"
pick_ports || exit 1
start_cluster || { echo "no cluster leader" >&2; exit 1; }
echo "# $(nats-server --version), 3 nodes on 127.0.0.1, R3 file streams;" \
	"$(nproc) CPUs"
n=0
for bytes in "${sizes[@]}"; do
	for r in 0 "$rate"; do
		echo "# $bytes bytes changed a record, $([[ $r == 0 ]] &&
			echo "as fast as it goes" || echo "paced at $r records/s")"
		for kind in mmsb plain; do
			n=$((n + 1))
			"$bench" $kind "$url" "bench$$x$n" "$records" "$bytes" "$r" ||
				exit 1
		done
	done
done
