# SPDX-License-Identifier: GPL-2.0
#
# The module's DKMS source tree (dkms.conf, packaging/dkms-source), the
# files that give /dev/mmsb its group and mode (packaging/udev,
# sysusers.d, modprobe.d, modules-load.d; Documentation/install.md), and
# the Debian packages that ship them (debian/).
#
#   make dkms-src        the DKMS source tree in build/dkms/mmsb-VERSION
#   make deb             the Debian packages in build/deb
#
# packaging/dkms-test.sh builds and installs the module through dkms for
# every kernel with headers, in a scratch directory.

.PHONY: dkms-src
dkms-src:
	packaging/dkms-source build/dkms

HOST_TESTS += packaging/dkms-test.sh

# make deb: the Debian packages of debian/ in build/deb
# (packaging/deb-build), lintian-checked; packaging/deb-test.sh installs
# them into a fresh Debian 12 chroot, so make check builds them first.
.PHONY: deb
deb:
	packaging/deb-build build/deb

check-run: deb
HOST_TESTS += packaging/deb-test.sh
