# SPDX-License-Identifier: GPL-2.0
#
# Tests of the local backend (lib/local*.c).  tests/local_*.c link the
# static library (they look inside: tests/local_util.h) and run on the host
# as whoever runs make check, and in the guest, whose kernels offer other
# capture mechanisms (6.1: sync and mprotect; 6.12: all three), as root and
# as nobody.
#
# The library's own tests (selftests/lib_*.c, propagate) run against the
# local backend too, through build/tests/local-<test>: a two-line script
# that runs build/selftests/<test> with MMSB_BACKEND=local.  On the host,
# where /dev/mmsb is absent, they would pick the local backend anyway; in
# the guest the plain programs test the device.
LOCAL_TESTS := $(addprefix build/tests/,local_capture local_stream \
	local_submit local_bus local_snapshot)
LOCAL_LIB_TESTS := $(addprefix build/tests/local-,lib_bus lib_page \
	lib_commit lib_submit propagate)

$(LOCAL_TESTS): build/tests/%: tests/%.c tests/local_util.h \
	selftests/lib_util.h selftests/poll_util.h selftests/harness.h \
	selftests/submit_util.h build/lib/libmmsb.a
$(LOCAL_TESTS): CFLAGS += -Ilib/include -Ilib -Iselftests
$(LOCAL_TESTS): LDLIBS += -luring -pthread

$(LOCAL_LIB_TESTS): build/tests/local-%: build/selftests/% tests/local.mk
	@mkdir -p $(@D)
	printf '#!/bin/sh\nMMSB_BACKEND=local exec "$$(dirname "$$0")/../selftests/%s" "$$@"\n' \
		$* > $@
	chmod +x $@

HOST_TESTS += $(LOCAL_TESTS) $(LOCAL_LIB_TESTS)
VM_TESTS += $(LOCAL_TESTS) $(LOCAL_LIB_TESTS)
USER_BINS += $(LOCAL_TESTS) $(LOCAL_LIB_TESTS)

# The kill -9 test of the log's recorder (tests/log_kill.c) runs on
# whichever backend the library picks: the local one on the host, the
# device in the guest, where it also resumes one log across every kill.
# In the guest it runs as root only: it takes a minute or two under TCG,
# and what it tests, the log, is the same for every user.
LOG_KILL_TEST := build/tests/log_kill

$(LOG_KILL_TEST): tests/log_kill.c tests/log_util.h tests/test_util.h \
	selftests/lib_util.h selftests/poll_util.h selftests/harness.h \
	build/lib/libmmsb.a
$(LOG_KILL_TEST): CFLAGS += -Ilib/include -Iselftests
$(LOG_KILL_TEST): LDLIBS += -luring -pthread

HOST_TESTS += $(LOG_KILL_TEST)
VM_ROOT_TESTS += $(LOG_KILL_TEST)
USER_BINS += $(LOG_KILL_TEST)
