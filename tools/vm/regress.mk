# SPDX-License-Identifier: GPL-2.0
# Regression checks of the module parameters that need root and the guest
# (tools/vm/run): they write /sys/module/mmsb/parameters and reload the
# module.

VM_ROOT_TESTS += tools/vm/regress-params.sh
