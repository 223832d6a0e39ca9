# SPDX-License-Identifier: GPL-2.0
# Regression tests of the stream: read(2), poll, STREAM_INFO and the ring,
# each for a defect that was fixed.  Like the stream tests they link the
# shared delta code to build and validate records, use threads, and run in
# the VM as root and again as an unprivileged user.

SELFTESTS_REGRESS := build/selftests/regress_stream

$(SELFTESTS_REGRESS): build/selftests/%: selftests/%.c selftests/submit_util.h \
	build/common/mmsb_delta.o
$(SELFTESTS_REGRESS): LDLIBS += -pthread

VM_TESTS += $(SELFTESTS_REGRESS)
USER_BINS += $(SELFTESTS_REGRESS)
