# SPDX-License-Identifier: GPL-2.0
# Regression tests of capture and commit, one per fixed defect
# (selftests/regress_capture.c).  Like the capture tests, they link the
# shared delta code to validate the records they read, use threads, and
# run in the VM as root and again as an unprivileged user.

SELFTESTS_REGRESS_CAPTURE := build/selftests/regress_capture

$(SELFTESTS_REGRESS_CAPTURE): build/selftests/%: selftests/%.c \
	build/common/mmsb_delta.o
$(SELFTESTS_REGRESS_CAPTURE): LDLIBS += -pthread

VM_TESTS += $(SELFTESTS_REGRESS_CAPTURE)
USER_BINS += $(SELFTESTS_REGRESS_CAPTURE)
