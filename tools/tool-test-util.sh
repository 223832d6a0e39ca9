# SPDX-License-Identifier: GPL-2.0
#
# What mmsb-tool's TAP tests share (tools/mmsb-tool-test.sh, run in the VM,
# and tools/mmsb-tool-local-test.sh, run on the host): sourced after they
# set $tap_prefix (each line's "PREFIX.name"), $work (a scratch
# directory), nr=0 and failed=0.

# result OK NAME: one TAP line; OK is 1 or 0.
result() {
	local ok=$1 name=$2

	nr=$((nr + 1))
	if ((ok)); then
		echo "ok $nr $tap_prefix.$name"
	else
		echo "not ok $nr $tap_prefix.$name"
		failed=$((failed + 1))
	fi
}

# expect NAME STATUS PATTERN COMMAND...: COMMAND exits with STATUS and its
# stdout and stderr together match the extended regex PATTERN.
expect() {
	local name=$1 want=$2 pattern=$3 status

	shift 3
	"$@" >"$work/out" 2>&1
	status=$?
	if ((status == want)) && grep -Eq -- "$pattern" "$work/out"; then
		result 1 "$name"
		return
	fi
	echo "# $name: '$*' exited with $status (want $want), printed:"
	sed 's/^/#   /' "$work/out"
	echo "# which should match: $pattern"
	result 0 "$name"
}
