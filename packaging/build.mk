# SPDX-License-Identifier: GPL-2.0
#
# The module's DKMS source tree (dkms.conf, packaging/dkms-source) and the
# files that give /dev/mmsb its group and mode (packaging/udev,
# sysusers.d, modprobe.d, modules-load.d; Documentation/install.md).
#
#   make dkms-src        the DKMS source tree in build/dkms/mmsb-VERSION
#
# packaging/dkms-test.sh builds and installs the module through dkms for
# every kernel with headers, in a scratch directory.

.PHONY: dkms-src
dkms-src:
	packaging/dkms-source build/dkms

HOST_TESTS += packaging/dkms-test.sh
