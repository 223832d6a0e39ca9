# SPDX-License-Identifier: GPL-2.0
#
# Host unit tests of the delta code, common/mmsb_delta.c, built twice: as
# it is, and under AddressSanitizer and UBSan, which abort on the first
# finding.  The plain one is built by the top Makefile's build/% rule.
DELTA_TEST_DEPS := common/mmsb_delta.c common/mmsb_delta.h \
	include/uapi/linux/mmsb.h selftests/harness.h
DELTA_TESTS := build/tests/delta_test build/tests/delta_test_asan

HOST_TESTS += $(DELTA_TESTS)
USER_BINS += $(DELTA_TESTS)

build/tests/delta_test: tests/delta_test.c $(DELTA_TEST_DEPS)

build/tests/delta_test_asan: tests/delta_test.c $(DELTA_TEST_DEPS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(CFLAGS) -fsanitize=address,undefined \
		-fno-sanitize-recover=all -fno-omit-frame-pointer \
		-o $@ $(filter %.c,$^)
