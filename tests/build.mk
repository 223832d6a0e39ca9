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

# Host tests of mmsb_delta_merge() (lib/delta_merge.c), plain and under
# AddressSanitizer and UBSan, built from its source and the delta code's
# without the rest of the library.
DELTA_MERGE_TEST_DEPS := tests/delta_merge_test.c lib/delta_merge.c \
	common/mmsb_delta.c common/mmsb_delta.h include/uapi/linux/mmsb.h \
	lib/include/mmsb.h lib/backend.h tests/test_util.h selftests/harness.h
DELTA_MERGE_TESTS := build/tests/delta_merge_test \
	build/tests/delta_merge_test_asan

$(DELTA_MERGE_TESTS): CFLAGS += -Ilib/include
build/tests/delta_merge_test: $(DELTA_MERGE_TEST_DEPS)

build/tests/delta_merge_test_asan: $(DELTA_MERGE_TEST_DEPS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(CFLAGS) -fsanitize=address,undefined \
		-fno-sanitize-recover=all -fno-omit-frame-pointer \
		-o $@ $(filter %.c,$^)

HOST_TESTS += $(DELTA_MERGE_TESTS)
USER_BINS += $(DELTA_MERGE_TESTS)

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

# Host tests of the transaction log (lib/log_*.c): the format, recovery
# from torn tails and bit flips, verify (log_test), and a simulated power
# cut through the log's file operations (log_crash).  They look inside the
# library (lib/log.h) and link the static one; the _asan builds compile the
# log's sources, and those of the snapshot files it writes, instrumented.
LOG_LIB_SRCS := $(wildcard lib/log_*.c) lib/crc32c.c lib/snapshot_file.c
LOG_TEST_DEPS := tests/log_util.h tests/test_util.h selftests/harness.h \
	build/lib/libmmsb.a
LOG_TEST_NAMES := log_test log_crash log_replay log_history log_pyref
LOG_TESTS := $(foreach t,$(LOG_TEST_NAMES),build/tests/$(t) \
	build/tests/$(t)_asan)

$(LOG_TESTS): CFLAGS += -Ilib/include -Ilib -Iselftests
$(LOG_TESTS): LDLIBS += -luring -pthread
$(LOG_TEST_NAMES:%=build/tests/%): build/tests/%: tests/%.c $(LOG_TEST_DEPS)
build/tests/log_crash build/tests/log_crash_asan build/tests/log_history \
build/tests/log_history_asan: tests/log_crash_fs.c tests/log_crash_fs.h
build/tests/log_history build/tests/log_history_asan: tests/log_model.h

$(LOG_TEST_NAMES:%=build/tests/%_asan): build/tests/%_asan: tests/%.c \
		$(LOG_LIB_SRCS) $(LOG_TEST_DEPS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(CFLAGS) -fsanitize=address,undefined \
		-fno-sanitize-recover=all -fno-omit-frame-pointer \
		-o $@ $(filter %.c %.a,$^) $(LDLIBS)

HOST_TESTS += $(LOG_TESTS)
USER_BINS += $(LOG_TESTS)
