# SPDX-License-Identifier: GPL-2.0
# Selftests of the module's ABI: one program per topic, each printing TAP 13
# through selftests/harness.h.  They run in the guest as root and again as
# nobody; root-only cases skip with a reason.  The top Makefile's build/%
# rule compiles each from selftests/<name>.c.

SELFTESTS_ABI := $(addprefix build/selftests/,\
	attach pages sharing badinput limits perms lifetime)

VM_TESTS += $(SELFTESTS_ABI)
USER_BINS += $(SELFTESTS_ABI)
