# SPDX-License-Identifier: GPL-2.0
#
# Builds mmsb.ko for the installed Debian kernels and the userspace programs,
# and runs the tests: on the host, and in a qemu guest per kernel
# (tools/vm/run).  Each area adds its programs in its own fragments
# (DIR/*.mk, DIR/SUB/*.mk); see the list variables below.
#
#   make                 module for KVER, all userspace programs
#   make modules-all     module for every kernel with headers installed
#   make sparse          module through sparse, failing on any warning
#   make check           everything, all tests, "N passed, N failed"
#   make bench           the benchmark suite on the host, results in
#                        build/bench/latest.json (bench/README.md)
#   make check-debug     the VM tests on a debug kernel (KASAN, lockdep...;
#                        tools/debug-kernel/build.mk)
#   make vm CMD='...'    run CMD in the guest (KVER=..., or DEBUG_TREE=...
#                        for the debug kernel; INSMOD=0 to not load the
#                        module first)
#   make demo            run DEMO_CMD in the guest with the module loaded

.DEFAULT_GOAL := all
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

# Kernels with headers, oldest first.  KVER defaults to the running kernel
# when its headers are there, else to the newest installed one.
HOST_KVERS := $(shell ls -d /lib/modules/*/build 2>/dev/null | cut -d/ -f4 | \
	sort -V)
ifndef KVER
KVER := $(shell uname -r)
ifeq ($(wildcard /lib/modules/$(KVER)/build),)
KVER := $(or $(lastword $(HOST_KVERS)),none)
endif
endif

# The newest kernel in Debian's archive lives in a chroot of unstable, with
# the compiler its headers need (tools/deps/newest-kernel, created by
# `make deps`): its module is built by kbuild run in the chroot, and the
# guest boots the chroot's image and 9p modules.  KROOT_KVER names a
# kernel's chroot; a kernel without one is the host's.
NEWEST_ROOT := $(shell tools/deps/newest-kernel --cached 2>/dev/null)
ifneq ($(NEWEST_ROOT),)
NEWEST_KVER := $(shell cat $(NEWEST_ROOT)/kernel-release)
KROOT_$(NEWEST_KVER) := $(NEWEST_ROOT)
endif
KVERS := $(HOST_KVERS) $(NEWEST_KVER)
# Kernels the guest can boot: those with headers and an image.
VM_KVERS := $(foreach k,$(KVERS),\
	$(if $(wildcard $(KROOT_$(k))/boot/vmlinuz-$(k)),$(k)))

# The guest's kernel: KVER's, or with DEBUG_TREE=$(tools/debug-kernel/build)
# the debug kernel, whose modules build against that tree.
ifdef DEBUG_TREE
DEBUG_KVER := $(shell cat $(DEBUG_TREE)/include/config/kernel.release)
KDIR_$(DEBUG_KVER) := $(DEBUG_TREE)
endif
VM_KVER = $(if $(DEBUG_TREE),$(DEBUG_KVER),$(KVER))
# $(call kboot,KVER): the tools/vm/run options that boot an installed kernel.
kboot = --kver $(1)$(if $(KROOT_$(1)), --root $(KROOT_$(1)))
VM_BOOT = $(if $(DEBUG_TREE),--tree $(DEBUG_TREE),$(call kboot,$(KVER)))

USER_CFLAGS := -O2 -g -Wall -Wextra -Werror -Iinclude/uapi -Icommon

# What the build.mk fragments append to (paths from the repository root):
HOST_TESTS :=		# TAP programs run on the host
VM_TESTS :=		# TAP programs run in the guest as root and as nobody
VM_ROOT_TESTS :=	# TAP programs run in the guest as root only
VM_ONCE_TESTS :=	# ...as root, on the newest kernel only: long end-to-end
			# runs whose calls into the module the tests above
			# make on every kernel
BENCH_VM :=		# benchmarks run in the guest
BENCH_HOST :=		# benchmarks run on the host
USER_BINS :=		# everything `make` builds besides the module

include $(sort $(filter-out build/%,$(wildcard */*.mk */*/*.mk)))

# Default recipes, so that a fragment can just list prerequisites, e.g.
#   build/selftests/foo: selftests/foo.c selftests/harness.h
#   build/tests/bar: LDLIBS += -luring
# Header dependencies are tracked in build/**/*.d.
build/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

build/%: %.c
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ \
		$(filter %.c %.o %.a,$^) $(LDLIBS)

-include $(shell find build -path build/kmod -prune -o -name '*.d' -print \
	2>/dev/null)

.PHONY: all module modules-all sparse check check-run demo demo-run vm deps \
	bench clean FORCE

all: module $(USER_BINS)

# kbuild writes objects next to the sources, so each kernel gets a tree of
# real directories holding links to the source files, refreshed on every
# build: a directory link would put one kernel's objects into the sources.
# A kernel's build tree is /lib/modules/KVER/build unless KDIR_KVER says
# otherwise (DEBUG_TREE sets it for the debug kernel); a chroot's kernel
# is built by kbuild run in the chroot (kexec), where the checkout is
# bind-mounted at its own path.
KMOD_SRCS = Kbuild $(wildcard kmod/*.[ch] common/*.[ch])
kdir = $(or $(KDIR_$(1)),/lib/modules/$(1)/build)
kexec = $(if $(KROOT_$(1)),tools/deps/newest-kernel --exec)
KMOD_MAKE = $(call kexec,$*) $(MAKE) -C $(call kdir,$*) \
	M=$(CURDIR)/build/kmod/$* W=1

build/kmod/%/tree: FORCE
	@[ -d $(KROOT_$*)$(call kdir,$*) ] || { echo "no headers for kernel" \
		"'$*': run make deps as root"; exit 1; }
	@mkdir -p $(@D)/kmod $(@D)/common
	@find $(@D) -xtype l -delete
	@for f in $(KMOD_SRCS); do ln -sfr "$$f" "$(@D)/$$f"; done
	@ln -sfnr include $(@D)/include

build/kmod/%/mmsb.ko: build/kmod/%/tree
	+$(KMOD_MAKE) modules

module: build/kmod/$(KVER)/mmsb.ko
modules-all: $(foreach k,$(KVERS),build/kmod/$(k)/mmsb.ko)

# C=2 checks every file, not only the ones that get rebuilt.  kbuild only
# warns when it finds no sparse it can use (none installed, or headers
# without scripts/checker-valid.sh, as unstable's are): that fails too.
build/kmod/%/sparse: build/kmod/%/tree
	+$(KMOD_MAKE) C=2 modules 2>&1 | tee $(@D)/sparse.log
	@! grep -E ': (warning|error):|sparse is not available' \
		$(@D)/sparse.log >/dev/null || \
		{ echo "sparse: see $(@D)/sparse.log"; exit 1; }

sparse: build/kmod/$(KVER)/sparse

# Missing Debian packages are installed as root; others are told what is
# missing.  So is the newest kernel's chroot, which only root can create
# and enter: others go on without that kernel.  Recursive make after it,
# as the list of kernels may change.
deps:
	@tools/deps/install
	@tools/deps/newest-kernel >/dev/null || [ "$$(id -u)" != 0 ]

check: deps
	@$(MAKE) --no-print-directory check-run

# All logs go to build/check/: host.tap, vm-KVER.tap (what the guest
# printed), vm-KVER.console (the whole console, kernel log included).  A
# guest that hangs, crashes or logs a kernel complaint (tools/vm/run exits
# 125) adds a failed result of its own.
check-run: modules-all $(USER_BINS)
	@rm -rf build/check && mkdir -p build/check
	@for t in $(HOST_TESTS); do tools/tap-run "$$t"; done 2>&1 | \
		tee build/check/host.tap || true	# counted below
	@status=0; \
	$(foreach k,$(VM_KVERS),\
		$(call vm-check,build/check,$(k),$(call kboot,$(k)));) \
	[ -n "$(VM_KVERS)" ] || { echo "check: no kernel to boot"; status=1; }; \
	tools/tap-summary --each build/check/*.tap && exit $$status

# $(call vm-check,DIR,KVER,tools/vm/run options): the VM tests on one
# kernel, logs in DIR, in a shell that keeps the worst outcome in $status.
define vm-check
tap=$(1)/vm-$(2).tap; \
tools/vm/run $(3) --log "$(1)/vm-$(2).console" -- \
	tools/vm/selftests --all-users "$(VM_TESTS)" \
	--root-only "$(VM_ROOT_TESTS)$(if $(filter $(2),$(lastword \
		$(VM_KVERS))), $(VM_ONCE_TESTS))" 2>&1 | tee "$$tap"; \
rc=$$?; \
[ $$rc = 0 ] || status=1; \
{ [ $$rc != 125 ] || echo -n "not "; \
  echo "ok - guest-$(2)-ran-without-kernel-complaints"; } | tee -a "$$tap"
endef

DEMO_CMD ?= tools/demo.sh

demo: deps
	@$(MAKE) --no-print-directory demo-run

DEMO_KVER = $(lastword $(VM_KVERS))

demo-run: build/kmod/$(DEMO_KVER)/mmsb.ko $(USER_BINS)
	tools/vm/run $(call kboot,$(DEMO_KVER)) \
		--insmod build/kmod/$(DEMO_KVER)/mmsb.ko -- $(DEMO_CMD)

INSMOD ?= 1

vm: export MMSB_VM_CMD := $(value CMD)
vm: $(if $(filter 1,$(INSMOD)),build/kmod/$(VM_KVER)/mmsb.ko)
	@[ -n "$$MMSB_VM_CMD" ] || { echo "usage: make vm CMD='...'"; exit 2; }
	tools/vm/run $(VM_BOOT) $(if $(filter 1,$(INSMOD)),\
		--insmod build/kmod/$(VM_KVER)/mmsb.ko) \
		-- bash -c "$$MMSB_VM_CMD"

clean:
	rm -rf build

FORCE:
