# SPDX-License-Identifier: GPL-2.0
#
# A 3-node NATS JetStream cluster on this machine, for the replication test
# (tests/replicate-test.sh) and benchmark (bench/replicate-bench.sh),
# sourced after they set $repo and $work (a scratch directory).  Each node
# is nats-server with tests/replicate/nats-node.conf, its ports and
# addresses from the environment: clients on base+1..3, routes on
# base+5..7, where pick_ports finds base.  With make_namespace (root), the
# third node runs in a network namespace of its own behind a veth pair
# ($veth, the host's end), so that taking the link down partitions it.
# Whatever was started, and the namespace, go at exit.
#
#   pick_ports; [make_namespace;] start_cluster; ... $url ...

conf=$repo/tests/replicate/nats-node.conf
declare -A pid=()		# name -> PID of every process started
host=127.0.0.1 peer=127.0.0.1	# the nodes' addresses: n1 and n2, n3
ns= veth=

cluster_cleanup() {
	local p

	for p in "${pid[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[[ -n $veth ]] && ip link del "$veth" 2>/dev/null
	[[ -n $ns ]] && ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
trap cluster_cleanup EXIT

# Ten free ports from a range this PID picks.
pick_ports() {
	local try p busy

	for try in $(seq 0 40); do
		base=$((20000 + (($$ + try * 7919) % 4000) * 10))
		busy=0
		for p in $(seq "$base" $((base + 9))); do
			ss -Htln "sport = :$p" | grep -q . && busy=1
		done
		((busy)) || return 0
	done
	return 1
}

make_namespace() {
	local a=$((($$ >> 8) % 200 + 20)) b=$(($$ % 63 * 4))

	ns=mmsbrepl$$
	ip netns add "$ns" 2>/dev/null || { ns=; return 1; }
	# The VM's kernel cannot load veth on demand: its request_module()
	# runs the initramfs's modprobe, which has no modules.
	modprobe -q veth 2>/dev/null
	veth=mr$$h
	host=10.$a.$b.1
	peer=10.$a.$b.2
	ip link add "$veth" type veth peer name "mr$$n" netns "$ns" 2>/dev/null &&
	ip addr add "$host/30" dev "$veth" && ip link set "$veth" up &&
	ip -n "$ns" addr add "$peer/30" dev "mr$$n" &&
	ip -n "$ns" link set "mr$$n" up && ip -n "$ns" link set lo up &&
		return 0
	# No veth here: all on loopback.
	ip link del "$veth" 2>/dev/null
	ip netns del "$ns"
	ns= veth= host=127.0.0.1 peer=127.0.0.1
	return 1
}

# start_node I: node I of the cluster, in the background.
start_node() {
	local i=$1 addr=$host run=() r1 r2

	case $i in
	1) r1=$host:$((base + 6)) r2=$peer:$((base + 7)) ;;
	2) r1=$host:$((base + 5)) r2=$peer:$((base + 7)) ;;
	3) r1=$host:$((base + 5)) r2=$host:$((base + 6)) addr=$peer
	   [[ -n $ns ]] && run=(ip netns exec "$ns") ;;
	esac
	NODE=n$i LISTEN=$addr:$((base + i)) STORE=$work/n$i \
	CLUSTER=$addr:$((base + 4 + i)) ROUTE1=nats-route://$r1 \
	ROUTE2=nats-route://$r2 "${run[@]}" nats-server -c "$conf" \
		>>"$work/n$i.log" 2>&1 &
	pid[n$i]=$!
}

# kill_node I: kill -9, and start again after 2 s.
kill_node() {
	echo "# $(date +%T) kill -9 NATS node n$1"
	kill -9 "${pid[n$1]}"
	wait "${pid[n$1]}" 2>/dev/null
	sleep 2
	start_node "$1"
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS.
wait_for() {
	local end=$((SECONDS + $1))

	shift
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep 0.1
	done
}

# Starts the three nodes and waits for a metadata leader; sets $url.
start_cluster() {
	local i

	# A guest (tools/vm/run) may boot with loopback down.
	((EUID == 0)) && ip link set lo up 2>/dev/null
	for i in 1 2 3; do
		start_node $i
	done
	url=nats://$host:$((base + 1)),nats://$host:$((base + 2)),nats://$peer:$((base + 3))
	wait_for 30 grep -qs "metadata leader" "$work"/n{1,2,3}.log
}
