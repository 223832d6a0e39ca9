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

# Host unit tests of snapshot files and CRC32C (lib/snapshot_file.c,
# lib/crc32c.c), plain and under AddressSanitizer and UBSan.  They build
# those sources, and lib/snapshot.c for mmsb_snap_free() and
# mmsb_page_restore(), without the rest of the library: restore goes
# through a fake bus.
SNAPFILE_TEST_SRCS := tests/snapshot_file_test.c lib/snapshot_file.c \
	lib/crc32c.c lib/snapshot.c
SNAPFILE_TESTS := build/tests/snapshot_file_test \
	build/tests/snapshot_file_test_asan

$(SNAPFILE_TESTS): CFLAGS += -Ilib/include -Ilib
$(SNAPFILE_TESTS): LDLIBS += -pthread
build/tests/snapshot_file_test: $(SNAPFILE_TEST_SRCS)

build/tests/snapshot_file_test_asan: $(SNAPFILE_TEST_SRCS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(CFLAGS) -fsanitize=address,undefined \
		-fno-sanitize-recover=all -fno-omit-frame-pointer \
		-o $@ $(filter %.c,$^) $(LDLIBS)

HOST_TESTS += $(SNAPFILE_TESTS)
USER_BINS += $(SNAPFILE_TESTS)
