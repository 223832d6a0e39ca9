#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: regression test of the ring size parameters.  default_ring_size
# and max_ring_size once took any number, so a bus could get a ring that is
# not a power of two, or too small or too large to be one.  A value that is
# not a power of two from 64 KiB to 1 GiB must now be refused with EINVAL
# and leave the parameter as it was, whether written to
# /sys/module/mmsb/parameters/ or given to insmod, which then fails.  Good
# values still go through.  The written parameters are put back at the end,
# and the module, unloaded to try insmod, is loaded again afterwards so that
# later tests find it.  Root only.

set -u

. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

params=/sys/module/mmsb/parameters

tap_begin 12

# set_param NAME VALUE: writes VALUE as echo(1) would; prints write(2)'s
# error message, if any, and returns its status.
set_param() {
	local err

	err=$( { printf '%s\n' "$2" >"$params/$1"; } 2>&1 )
	local rc=$?
	[[ -z $err ]] || echo "${err##*: }"
	return "$rc"
}

# refused NAME VALUE: passes if writing VALUE fails with EINVAL and the
# parameter keeps the value it had.
refused() {
	local name=$1 value=$2 before after err rc

	before=$(cat "$params/$name")
	err=$(set_param "$name" "$value")
	rc=$?
	after=$(cat "$params/$name")
	if ((rc == 0)); then
		echo "# $name: writing $value succeeded, it reads $after"
		return 1
	fi
	if [[ $err != "Invalid argument" ]]; then
		echo "# $name: writing $value failed with '$err', not EINVAL"
		return 1
	fi
	if [[ $after != "$before" ]]; then
		echo "# $name: was $before, reads $after after the refused write"
		return 1
	fi
	return 0
}

# taken NAME VALUE...: passes if each VALUE is written and read back.
taken() {
	local name=$1 value err after

	shift
	for value; do
		if ! err=$(set_param "$name" "$value"); then
			echo "# $name: writing $value failed: $err"
			return 1
		fi
		after=$(cat "$params/$name")
		if [[ $after != "$value" ]]; then
			echo "# $name: wrote $value, it reads $after"
			return 1
		fi
	done
	return 0
}

orig_default=$(cat "$params/default_ring_size")
orig_max=$(cat "$params/max_ring_size")

for p in default_ring_size max_ring_size; do
	t=regress-params-${p//_/-}
	refused "$p" 100000
	result "$((! $?))" "$t-not-power-of-two-is-einval"
	refused "$p" 32768
	result "$((! $?))" "$t-below-64-kib-is-einval"
	refused "$p" 2147483648
	result "$((! $?))" "$t-above-1-gib-is-einval"
done

# Each ring size kept within the other: max_ring_size stays above the
# default ring, whatever a module makes of a default above the maximum.
taken default_ring_size 65536 131072
result "$((! $?))" "regress-params-default-ring-size-good-values-are-taken"
taken max_ring_size 1073741824 134217728
result "$((! $?))" "regress-params-max-ring-size-good-values-are-taken"

set_param max_ring_size "$orig_max" >/dev/null &&
	set_param default_ring_size "$orig_default" >/dev/null ||
	echo "# could not restore the ring size parameters"

# insmod with a bad ring size must fail; a module that loads anyway is
# unloaded again, so that the next insmod is a fresh try.
bad_insmod() {
	local arg=$1

	if insmod "$module" "$arg" 2>/dev/null; then
		echo "# insmod $arg loaded the module, default_ring_size" \
		     "$(cat "$params/default_ring_size"), max_ring_size" \
		     "$(cat "$params/max_ring_size")"
		eventually rmmod mmsb
		return 1
	fi
	if [[ -d /sys/module/mmsb ]]; then
		echo "# insmod $arg failed, yet the module is there"
		return 1
	fi
	return 0
}

# good_insmod ARGS...: passes if the module loads with ARGS and reports
# them; it is unloaded again.
good_insmod() {
	local arg ok=1

	if ! insmod "$module" "$@"; then
		echo "# insmod $* failed"
		return 1
	fi
	for arg; do
		if [[ $(cat "$params/${arg%%=*}") != "${arg#*=}" ]]; then
			echo "# insmod $arg: ${arg%%=*} reads" \
			     "$(cat "$params/${arg%%=*}")"
			ok=0
		fi
	done
	eventually rmmod mmsb || { echo "# rmmod after insmod $* failed"; ok=0; }
	((ok))
}

insmod_tests=(
	regress-params-insmod-default-ring-size-100000-fails
	regress-params-insmod-max-ring-size-3-fails
	regress-params-insmod-with-good-ring-sizes-works
	regress-params-insmod-without-parameters-works
)

# Every earlier program has exited, but its last file may still be
# closing: rmmod gets 2 s.
if eventually rmmod mmsb; then
	bad_insmod default_ring_size=100000
	result "$((! $?))" "${insmod_tests[0]}"
	bad_insmod max_ring_size=3
	result "$((! $?))" "${insmod_tests[1]}"
	good_insmod default_ring_size=131072 max_ring_size=1048576
	result "$((! $?))" "${insmod_tests[2]}"
	insmod "$module"
	result "$((! $?))" "${insmod_tests[3]}"
else
	for t in "${insmod_tests[@]}"; do
		skipped "$t" "rmmod mmsb failed: the device is held open"
	done
fi

# Later tests need the module, however the tests above went.
[[ -d /sys/module/mmsb ]] || insmod "$module" ||
	echo "# could not load $module again"

tap_end
