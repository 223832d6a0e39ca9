#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: the Debian packages of make deb (build/deb) install into a
# fresh Debian 12 chroot, with apt resolving their dependencies from the
# archive as a user's apt would.  There, DKMS builds mmsb.ko for the
# chroot's kernel headers (linux-headers-amd64) during mmsb-dkms's
# configure, the group mmsb exists and the udev rule, modprobe.d and
# modules-load.d files are in place; a program built with
# `pkg-config --cflags --libs libmmsb` (examples/c/first_record.c), shared
# and static, runs on the local backend, and so does mmsb-tool.  Purging
# mmsb-dkms takes the module away again.
#
# The chroot is a minbase debootstrap of bookworm from the host's own
# Debian mirror, kept as a tarball in $MMSB_CACHE_DIR/deb-chroot (default
# ~/.cache/mmsb) and unpacked afresh for every run; the host's apt cache
# is shared with it, so packages are downloaded once.  Everything happens
# in a private mount namespace: nothing outside the scratch directory and
# the apt cache is touched (tools/in-chroot).  Needs root and debootstrap
# (tools/deps/install); skipped otherwise.

set -u
shopt -s nullglob

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
debs=$repo/build/deb
cache=${MMSB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsb}/deb-chroot
base=$cache/bookworm-minbase.tar
nr=0
failed=0

tap_prefix=deb
. "$repo/tools/tool-test-util.sh"

echo "TAP version 13"
if ((EUID)); then
	echo "1..0 # SKIP needs root (chroot and mounts)"
	exit 4
fi
if ! command -v debootstrap >/dev/null; then
	echo "1..0 # SKIP debootstrap is not installed: run tools/deps/install"
	exit 4
fi
echo "1..10"

pkgs=()
for p in mmsb-dkms libmmsb1 libmmsb-dev mmsb-tools; do
	f=("$debs/${p}_"*.deb)
	((${#f[@]} == 1)) && pkgs+=("${f[0]}")
done
if ((${#pkgs[@]} != 4)); then
	echo "# build/deb lacks some of the four packages: run make deb"
	result 0 "four-packages-built"
	exit 1
fi
result 1 "four-packages-built"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root

# The host's Debian suites, as apt sees them, become the chroot's sources.
apt-get indextargets --format '$(REPO_URI) $(RELEASE)' |
	awk '$2 ~ /^bookworm(-updates|-security)?$/' | sort -u \
	>"$work/suites"
mirror=$(awk '$2 == "bookworm" { print $1; exit }' "$work/suites")
if [[ -z $mirror ]]; then
	echo "# the host's apt has no bookworm main suite to take a mirror from"
	result 0 "chroot-made"
	exit 1
fi

if [[ ! -s $base ]]; then
	mkdir -p "$cache"
	echo "# making $base from $mirror (once)"
	if debootstrap --variant=minbase bookworm "$work/base" "$mirror" \
		>"$work/debootstrap.log" 2>&1 &&
	   tar -C "$work/base" -cf "$base.new" . && mv "$base.new" "$base"; then
		rm -rf "$work/base"
	else
		tail -n 20 "$work/debootstrap.log" | sed 's/^/# /'
		rm -f "$base.new"
		result 0 "chroot-made"
		exit 1
	fi
fi
mkdir "$root" && tar -C "$root" -xf "$base"
awk '{ print "deb " $1 " " $2 " main" }' "$work/suites" \
	>"$root/etc/apt/sources.list"
rm -f "$root"/etc/apt/sources.list.d/*
# The mirror may be a frozen snapshot, as the host's apt allows, whose
# Release files are past their Valid-Until; signatures are still checked.
echo 'Acquire::Check-Valid-Until "false";' \
	>"$root/etc/apt/apt.conf.d/50mmsb-snapshot"
mkdir -p "$root/debs" "$root/src"
cp "${pkgs[@]}" "$root/debs/"
cp "$repo/examples/c/first_record.c" "$root/src/"
result 1 "chroot-made"

# in_chroot SCRIPT: runs SCRIPT with bash in the chroot, which shares the
# host's apt cache.
in_chroot() {
	"$repo/tools/in-chroot" --bind /var/cache/apt/archives "$root" \
		/bin/bash -c "$1"
}

# The packages alone, and what a user adds to build against libmmsb-dev
# and to have DKMS build for a kernel: apt resolves everything else.
if in_chroot 'apt-get -q update &&
	apt-get -q install -y --no-install-recommends /debs/*.deb \
		gcc pkg-config linux-headers-amd64' >"$work/install.log" 2>&1; then
	result 1 "packages-install-with-their-dependencies"
else
	tail -n 30 "$work/install.log" | sed 's/^/# /'
	result 0 "packages-install-with-their-dependencies"
	exit 1
fi

# DKMS built the module during mmsb-dkms's configure, for the kernel whose
# headers came with linux-headers-amd64.
kos=("$root"/lib/modules/*/updates/dkms/mmsb.ko*)
if ((${#kos[@]} == 1)); then
	kver=${kos[0]#"$root"/lib/modules/}
	kver=${kver%%/*}
	vermagic=$(in_chroot "modinfo -F vermagic /${kos[0]#"$root"/}")
	echo "# $kver: ${kos[0]#"$root"}: vermagic $vermagic"
	result "$([[ $vermagic == "$kver "* ]] && echo 1 || echo 0)" \
		"dkms-built-the-module-for-the-chroot-kernel"
else
	grep -iE 'dkms|error|mmsb' "$work/install.log" | tail -n 20 | sed 's/^/# /'
	result 0 "dkms-built-the-module-for-the-chroot-kernel"
fi

missing=
for f in /lib/udev/rules.d/60-mmsb.rules /usr/lib/sysusers.d/mmsb.conf \
	 /etc/modprobe.d/mmsb.conf /usr/lib/modules-load.d/mmsb.conf \
	 /usr/share/man/man4/mmsb.4.gz /usr/share/man/man1/mmsb-tool.1.gz \
	 /usr/share/man/man3/mmsb_bus_open.3.gz \
	 /usr/lib/x86_64-linux-gnu/pkgconfig/libmmsb.pc; do
	[[ -e $root$f ]] || missing+=" $f"
done
[[ -z $missing ]] || echo "# missing:$missing"
in_chroot 'getent group mmsb' >"$work/group" 2>&1 || missing+=" group mmsb"
[[ -z $missing ]] || echo "# missing:$missing"
result "$([[ -z $missing ]] && echo 1 || echo 0)" \
	"group-udev-modprobe-and-man-files-installed"

# A program built against the installed library, shared and static, on
# the local backend (the chroot has no /dev/mmsb).
check_example() {
	local name=$1 how=$2

	if in_chroot "cd /src && gcc -Wall -Werror -o $name first_record.c \
		\$(pkg-config $how --cflags --libs libmmsb) &&
		MMSB_BACKEND=local ./$name" >"$work/$name.out" 2>&1 &&
	   grep -q '^local backend: .*"hello, bus"$' "$work/$name.out"; then
		sed 's/^/# /' "$work/$name.out"
		result 1 "pkg-config-$name-program-runs-on-local-backend"
	else
		sed 's/^/# /' "$work/$name.out"
		result 0 "pkg-config-$name-program-runs-on-local-backend"
	fi
}
check_example shared ""
check_example static --static
# /lib is /usr/lib on Debian 12: ld.so's cache may name either.
in_chroot 'ldd /src/shared' >"$work/ldd" 2>&1
if grep -Eq 'libmmsb\.so\.1 => (/usr)?/lib/x86_64-linux-gnu/libmmsb\.so\.1 ' \
	"$work/ldd"; then
	result 1 "shared-program-uses-the-packaged-libmmsb.so.1"
else
	sed 's/^/# /' "$work/ldd"
	result 0 "shared-program-uses-the-packaged-libmmsb.so.1"
fi

if in_chroot 'MMSB_BACKEND=local mmsb-tool demo --local' \
	>"$work/demo.out" 2>&1; then
	result 1 "packaged-mmsb-tool-runs-demo-on-local-backend"
else
	tail -n 10 "$work/demo.out" | sed 's/^/# /'
	result 0 "packaged-mmsb-tool-runs-demo-on-local-backend"
fi

if in_chroot 'apt-get -q purge -y mmsb-dkms' >"$work/purge.log" 2>&1 &&
   ! compgen -G "$root/lib/modules/*/updates/dkms/mmsb.ko*" >/dev/null &&
   [[ ! -e $root/usr/src/mmsb-$("$repo/packaging/dkms-source" --version) && ! -e $root/var/lib/dkms/mmsb ]]; then
	result 1 "purging-mmsb-dkms-removes-module-and-sources"
else
	tail -n 20 "$work/purge.log" | sed 's/^/# /'
	result 0 "purging-mmsb-dkms-removes-module-and-sources"
fi

exit $((failed ? 1 : 0))
