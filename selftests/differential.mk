# SPDX-License-Identifier: GPL-2.0
#
# The differential test of the local backend against the module
# (selftests/differential.c).  It links the static library, whose
# internals it uses for several records per write (bus->ops->write), and
# runs in the guest as root and as nobody.
build/selftests/differential: selftests/differential.c selftests/lib_util.h \
	selftests/submit_util.h selftests/poll_util.h selftests/harness.h \
	build/lib/libmmsb.a
build/selftests/differential: CFLAGS += -Ilib/include -Ilib
build/selftests/differential: LDLIBS += -luring -pthread

VM_TESTS += build/selftests/differential
USER_BINS += build/selftests/differential
