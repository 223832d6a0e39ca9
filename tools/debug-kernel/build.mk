# SPDX-License-Identifier: GPL-2.0
#
# The VM tests on a debug kernel: KASAN, KFENCE, lockdep, UBSAN and more
# (tools/debug-kernel/config), built once from Debian's 6.12 source by
# tools/debug-kernel/build and cached outside the checkout.
#
#   make check-debug    build the kernel unless cached, the module against
#                       it, and run every VM test on it; logs in
#                       build/check-debug/, any kernel report fails
#
# Where the tree is, is known once it is built, so a recursive make gets it
# as DEBUG_TREE (the top Makefile derives DEBUG_KVER and its KDIR from it).
# .ci/run runs make check-debug only where the kernel is cached (README).

.PHONY: check-debug check-debug-run debug-module

check-debug: deps
	@tree=$$(tools/debug-kernel/build) && \
	$(MAKE) --no-print-directory check-debug-run DEBUG_TREE="$$tree"

# Seconds the guest may take: the whole suite took more than 1500 s, the
# default, on 2 shared cores.
DEBUG_TIMEOUT ?= 3600

ifdef DEBUG_TREE
debug-module: build/kmod/$(DEBUG_KVER)/mmsb.ko

check-debug-run: debug-module $(USER_BINS)
	@rm -rf build/check-debug && mkdir -p build/check-debug
	@status=0; \
	$(call vm-check,build/check-debug,$(DEBUG_KVER),\
		--tree $(DEBUG_TREE) --timeout $(DEBUG_TIMEOUT)); \
	tools/tap-summary build/check-debug/*.tap && exit $$status
else
debug-module check-debug-run:
	@echo "$@ needs DEBUG_TREE=(tools/debug-kernel/build's tree):" \
		"run make check-debug"; exit 2
endif
