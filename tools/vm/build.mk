# SPDX-License-Identifier: GPL-2.0
# Module lifetime checks that need root and the guest (tools/vm/run).

VM_ROOT_TESTS += tools/vm/rmmod-test.sh
