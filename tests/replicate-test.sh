#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: a bus replicated over NATS JetStream converges byte for
# byte (Documentation/replication.md).  Starts a 3-node JetStream cluster
# from tests/replicate/nats-node.conf, the third node in a network
# namespace of its own behind a veth pair; a writer (random stores,
# commits, allocations and frees on bus A, replicated to an R3 stream) and
# two mirrors, B and C, each a build/tests/replicate_node process on the
# local backend.  While the writer runs, at random moments: kill -9 and
# restart a NATS node, kill the replicator (a thread: on the local backend
# the bus lives in the writer's process), kill -9 and restart mirror B,
# partition the third node (its link down) and heal it, and kill a node
# again.  Then every mirror must hold the writer's pages: the same ids,
# sizes, epochs and bytes.  Last, with the module, a second replicator on
# the stream: one of the two stops rather than interleave.  Prints the lag
# under load and the time to
# converge.  Without root (no namespace) the partition is skipped.
#
# Where /dev/mmsb exists (the VM, module loaded), the buses are the
# module's and the processes mmsb-tool's: the replicator is mmsb-tool
# replicate, killed with SIGKILL and started again, the mirrors mmsb-tool
# mirror, read at the end by mmsb-tool snapshot.
#
#   REPLICATE_SECONDS (default 30, in the VM 20) of writing at
#   REPLICATE_RATE (default 1000, in the VM 200) commits a second;
#   REPLICATE_SEED for a given run's choices.  make check runs it on the
#   host and, as root, in the VM on the newest kernel.

set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
node=$repo/build/tests/replicate_node
tool=$repo/build/tools/mmsb-tool
export REPLICATE_SEED=${REPLICATE_SEED:-$$}	# the writer's seed too
RANDOM=$REPLICATE_SEED
nr=0
failed=0
tap_prefix=replicate

skip() {
	echo "1..0 # SKIP $*"
	exit 4
}

command -v nats-server >/dev/null ||
	skip "no nats-server (tools/deps/install installs it)"
[[ -x $node ]] || skip "no $node (built only with libnats-dev)"

device=0
[[ -e /dev/mmsb ]] && device=1
# The VM emulates its CPUs (TCG), several times slower than the host:
# there the run is shorter and slower, and still sees every kill.
if ((device)); then
	load_s=${REPLICATE_SECONDS:-20} rate=${REPLICATE_RATE:-200}
else
	load_s=${REPLICATE_SECONDS:-30} rate=${REPLICATE_RATE:-1000}
fi
work=$(mktemp -d)
. "$repo/tests/replicate/cluster.sh"
. "$repo/tools/tool-test-util.sh"

# With the module the processes are mmsb-tool's: the replicator and the
# mirrors each a process of their own, on buses of the device.
if ((device)); then
	export MMSB_BACKEND=device REPLICATOR=external SRC_BUS=replsrc$$
	rlog=$work/replicator.log rname=replicate
else
	rlog=$work/writer.log rname=replicator
fi

start_replicator() {
	"$tool" --bus "$SRC_BUS" replicate --nats "$url" --stream "$stream" \
		--replicas 3 --base-ms 5000 >>"$rlog" 2>&1 &
	pid[r]=$!
}

# show_threads PID NAME: each thread's state, system call and kernel stack.
show_threads() {
	local t

	for t in /proc/"$1"/task/*; do
		echo "# $2 thread ${t##*/}: $(awk '{print $3}' "$t/stat" 2>/dev/null)" \
			"wchan $(cat "$t/wchan" 2>/dev/null)," \
			"syscall $(cut -d' ' -f1-3 "$t/syscall" 2>/dev/null)"
		sed 's/^/#     /' "$t/stack" 2>/dev/null
	done
}

kill_replicator() {
	echo "# $(date +%T) kill the replicator"
	if ((!device)); then
		kill -USR1 "${pid[w]}"
		return
	fi
	kill -9 "${pid[r]}"
	wait "${pid[r]}" 2>/dev/null
	sleep 0.$((RANDOM % 10))
	start_replicator
	echo "replicator restarted" >>"$work/restarts"
}

start_mirror() {
	if ((device)); then
		"$tool" --bus "mirror$1$$" mirror --nats "$url" \
			--stream "$stream" >>"$work/mirror$1.log" 2>&1 &
	else
		"$node" mirror "$url" "$stream" "mirror$1" "$work/target" \
			"$work/mirror$1" >>"$work/mirror$1.log" 2>&1 &
	fi
	pid[m$1]=$!
}

# The value of field NAME in the last line of FILE that starts "mirror: seq".
last_field() {
	awk -v f="$2" '$1 == "mirror:" && $2 == "seq" {
		for (i = 2; i < NF; i++) if ($i == f) v = $(i + 1)
	} END { print v + 0 }' "$1"
}

# Mirror M at the target, its pages in $work/mirrorM.  The helper writes
# the file itself; a device bus is read by mmsb-tool snapshot.
mirror_done() {
	if ((!device)); then
		test -e "$work/mirror$1"
		return
	fi
	(($(last_field "$work/mirror$1.log" seq) == $(cat "$work/target"))) &&
		"$tool" snapshot "mirror$1$$" "$work/mirror$1" >/dev/null 2>&1
}

# The largest "lag-ms" (mirror) or "lag" (replicator: records) of FILE.
max_lag() {
	awk -v p="$2" '$1 == p":" {
		for (i = 2; i < NF; i++) {
			if ($i == "lag-ms" && $(i + 1) > ms) ms = $(i + 1)
			if ($i == "lag" && $(i + 1) > n) n = $(i + 1)
		}
	} END {
		if (p == "mirror") printf "%.1f ms behind the commit", ms
		else printf "%d records behind the bus", n
	}' "$1"
}

pick_ports || skip "no free ports"
partition=0
((EUID == 0)) && make_namespace && partition=1
stream=mmsbtest$$

echo "TAP version 13"
echo "1..$((device ? 11 : 10))"
echo "# seed $REPLICATE_SEED, ports $base.., $load_s s at $rate commits/s," \
	"$( ((device)) && echo "the module" || echo "the local backend")," \
	"$( ((partition)) || echo "no ")partition"

start_cluster
result $((!$?)) cluster-elects-a-leader

"$node" writer "$url" "$stream" "$load_s" "$rate" "$work/src" \
	>"$work/writer.log" 2>&1 &
pid[w]=$!
if ((device)); then
	wait_for 30 grep -qs "ready" "$work/writer.log" && start_replicator
fi
wait_for 30 grep -qs "^$rname: seq" "$rlog"
result $((!$?)) writer-replicates
start_mirror B
start_mirror C
wait_for 30 grep -qs "bases 1" "$work/mirrorB.log"
result $((!$?)) mirror-restores-base

# The disturbances, each at a random moment of its fifth of the run.
slice=$((load_s / 5))
t0=$SECONDS
at() {
	local t=$((t0 + $1 * slice + RANDOM % (slice > 2 ? slice - 2 : 1)))

	((t > SECONDS)) && sleep $((t - SECONDS))
}
ok=1
at 0
kill_node $((RANDOM % 3 + 1))
at 1
kill_replicator
at 2
echo "# $(date +%T) kill -9 mirror B"
kill -9 "${pid[mB]}"
wait "${pid[mB]}" 2>/dev/null
sleep 1
start_mirror B
if ((partition)); then
	at 3
	echo "# $(date +%T) partition n3 for 5 s"
	ip link set "$veth" down || ok=0
	sleep 5
	ip link set "$veth" up || ok=0
	echo "# $(date +%T) n3 healed"
fi
at 4
kill_node $((RANDOM % 3 + 1))
# Killed nodes came back, and the writer's process lived through it all.
for i in 1 2 3; do
	kill -0 "${pid[n$i]}" 2>/dev/null || ok=0
done
kill -0 "${pid[w]}" 2>/dev/null || ok=0
((device)) && { kill -0 "${pid[r]}" 2>/dev/null || ok=0; }
result "$ok" disturbances-survived
# The helper's writer says so itself once its new thread runs.
grep -qs "replicator restarted" "$work/writer.log" "$work/restarts"
result $((!$?)) replicator-restarted

wait_for $((load_s + 60)) test -e "$work/src.seq"
finished=$((!$?))
# A writer that did not finish: where each of its threads, and the
# replicator's, waits.
if ((!finished)); then
	show_threads "${pid[w]}" writer
	((device)) && show_threads "${pid[r]}" replicator
fi
result "$finished" writer-finishes
done_at=$SECONDS
echo "# $(sed -n 's/^writer: //p' "$work/writer.log" | tail -n 1)"
echo "# lag under load: replicator $(max_lag "$rlog" "$rname")," \
	"mirror B $(max_lag "$work/mirrorB.log" mirror)," \
	"mirror C $(max_lag "$work/mirrorC.log" mirror)"
cp "$work/src.seq" "$work/target"
for m in B C; do
	wait_for 90 mirror_done $m
	result $((!$?)) "mirror-$m-converges"
	echo "# mirror $m: converged $((SECONDS - done_at)) s after the writer" \
		"stopped; bases restored by its last process:" \
		"$(last_field "$work/mirror$m.log" bases)"
done
for m in B C; do
	if "$node" cmp "$work/src" "$work/mirror$m" >"$work/cmp$m" 2>&1; then
		result 1 "mirror-$m-equals-source"
	else
		sed 's/^/#   /' "$work/cmp$m"
		result 0 "mirror-$m-equals-source"
	fi
done

# A second publisher for the stream, another bus's replicator: the two
# never interleave.  Whichever publishes against a stream that moved since
# it last looked (the second at its start, if the first has just published
# a periodic base; else the first at its next publish, the PAGE_ALLOC of
# a page allocated now) stops, exit 1 with EBUSY, and the other goes on.
# With the module only: on the local backend no second process can
# publish a bus the writer's process holds.
if ((device)); then
	other=$("$tool" bus hold --background "other$$")
	"$tool" --bus "other$$" replicate --nats "$url" --stream "$stream" \
		>"$work/other.log" 2>&1 &
	pid[o]=$!
	wait_for 60 grep -qs "^replicate: .* bases 1 \|^mmsb-tool:" \
		"$work/other.log"
	"$tool" --bus "$SRC_BUS" alloc 4096 >/dev/null
	stopped=
	if wait_for 60 eval '! kill -0 "${pid[r]}" 2>/dev/null ||
			     ! kill -0 "${pid[o]}" 2>/dev/null'; then
		for p in r o; do
			kill -0 "${pid[$p]}" 2>/dev/null && continue
			wait "${pid[$p]}" 2>/dev/null
			stopped+=" $p:$?"
		done
	fi
	[[ $stopped == " r:"* ]] && log=$rlog || log=$work/other.log
	echo "# stopped (r first, o second):${stopped:- none in 60 s}:" \
		"$(grep -v '^replicate: seq' "$log" | tail -n 1)"
	kill "$other" 2>/dev/null
	[[ $stopped == " r:1" || $stopped == " o:1" ]] &&
		grep -q 'Device or resource busy' "$log"
	result $((!$?)) one-of-two-publishers-stops-with-ebusy
fi
if ((failed)); then
	for f in writer.log replicator.log mirrorB.log mirrorC.log \
		 n1.log n2.log n3.log; do
		[[ -e $work/$f ]] || continue
		echo "# --- $f (last lines)"
		tail -n 15 "$work/$f" | sed 's/^/#   /'
	done
fi
exit $((failed > 0))
