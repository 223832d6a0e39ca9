#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: DKMS builds mmsb.ko from the source tree that
# packaging/dkms-source lays out, for every kernel with headers in
# /lib/modules/*/build: dkms add, then per kernel dkms build (mmsb.ko's
# vermagic names that kernel) and dkms install (the module lands in
# DEST_MODULE_LOCATION, /updates/dkms), then dkms remove --all takes every
# copy away again.
#
# Nothing outside a scratch directory is touched: --sourcetree,
# --dkmstree and --installtree move /usr/src, /var/lib/dkms and
# /lib/modules there, --no-depmod keeps depmod off the real module
# directories, and TMPDIR holds dkms's temporary files.  Debian's dkms
# signs what it builds, with a key it creates as /var/lib/dkms/mok.key
# unless mok_signing_key and mok_certificate say otherwise: dkms takes
# them from the environment, so the key is made in the scratch directory
# too.  The last case checks that the real trees gained nothing.
#
# Needs dkms (tools/deps/install); install and remove need root, as dkms
# does, and are skipped for anyone else.  Fails when no kernel has headers.

set -u
shopt -s nullglob

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nr=0
failed=0

echo "TAP version 13"
if ! command -v dkms >/dev/null; then
	echo "1..0 # SKIP dkms is not installed: run tools/deps/install as root"
	exit 4
fi

mapfile -t kvers < <(ls -d /lib/modules/*/build 2>/dev/null | cut -d/ -f4 |
		     sort -V)
if ((${#kvers[@]} == 0)); then
	echo "1..1"
	echo "not ok 1 dkms.kernel-headers # no /lib/modules/*/build"
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/dkms" "$work/lib/modules" "$work/tmp"
export TMPDIR=$work/tmp
export mok_signing_key=$work/mok.key mok_certificate=$work/mok.pub

# What the real trees hold now, to compare with at the end.
real_trees() {
	local paths=(/usr/src/mmsb-* /var/lib/dkms/mmsb* /var/lib/dkms/mok.*
		     /lib/modules/*/updates/dkms/mmsb.ko*)

	printf '%s\n' "${paths[@]}"
}
real_trees >"$work/before"

# result OK NAME: one TAP line; OK is 1 or 0.
result() {
	nr=$((nr + 1))
	if (($1)); then
		echo "ok $nr dkms.$2"
	else
		echo "not ok $nr dkms.$2"
		failed=$((failed + 1))
	fi
}

# dkms_run NAME ACTION ARGS...: dkms ACTION on the scratch trees; on
# failure its output, and the make.log of a failed build, become comments.
dkms_run() {
	local name=$1 action=$2 log

	shift 2
	if dkms "$action" -m mmsb -v "$version" --sourcetree "$work/src" \
		--dkmstree "$work/dkms" --installtree "$work/lib/modules" \
		--no-depmod "$@" >"$work/out" 2>&1; then
		return 0
	fi
	echo "# $name: dkms $action $* failed:"
	sed 's/^/#   /' "$work/out"
	log=$work/dkms/mmsb/$version/build/make.log
	[[ ! -f $log ]] || tail -n 30 "$log" | sed 's/^/#   make.log: /'
	return 1
}

# Per kernel: build and install.  Then add, remove and the real trees.
echo "1..$((2 * ${#kvers[@]} + 3))"

version=$("$repo/packaging/dkms-source" --version)
ok=0
"$repo/packaging/dkms-source" "$work/src" >/dev/null &&
	dkms_run add add && ok=1
result "$ok" add

for k in "${kvers[@]}"; do
	ok=0
	if dkms_run "build-$k" build -k "$k"; then
		ko=("$work/dkms/mmsb/$version/$k"/*/module/mmsb.ko*)
		magic=$(modinfo -F vermagic "${ko[@]:0:1}" 2>/dev/null)
		if [[ ${magic%% *} == "$k" ]]; then
			ok=1
		else
			echo "# build-$k: built '${ko[*]}', vermagic '$magic'"
		fi
	fi
	result "$ok" "build-$k"

	if ((EUID || !ok)); then
		nr=$((nr + 1))
		echo "ok $nr dkms.install-$k # SKIP" \
		     "$( ((ok)) && echo "dkms install needs root" || echo "no build")"
		continue
	fi
	ok=0
	mkdir -p "$work/lib/modules/$k"
	if dkms_run "install-$k" install -k "$k"; then
		ko=("$work/lib/modules/$k/updates/dkms"/mmsb.ko*)
		if ((${#ko[@]} == 1)) &&
		   modinfo -F vermagic "${ko[0]}" | grep -q "^$k "; then
			ok=1
		else
			echo "# install-$k: no mmsb.ko for $k in updates/dkms"
		fi
	fi
	result "$ok" "install-$k"
done

ok=0
if dkms_run remove remove --all; then
	left=$(find "$work/lib/modules" "$work/dkms" -name 'mmsb.ko*')
	[[ -n $left ]] && echo "# remove: left behind: $left" || ok=1
fi
result "$ok" remove-all

real_trees >"$work/after"
ok=1
if ! cmp -s "$work/before" "$work/after"; then
	echo "# the real /usr/src, /var/lib/dkms or /lib/modules changed:"
	diff "$work/before" "$work/after" | sed 's/^/#   /'
	ok=0
fi
result "$ok" real-trees-untouched

exit $((failed != 0))
