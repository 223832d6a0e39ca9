# SPDX-License-Identifier: GPL-2.0
# Selftest of the module's trace events (selftests/trace.c): it enables
# events/mmsb in tracefs, drives a bus and checks the events' fields.  It
# reads records with the shared delta code, and runs in the VM as root
# only: tracefs is root's.

build/selftests/trace: selftests/trace.c selftests/capture_util.h \
	selftests/submit_util.h build/common/mmsb_delta.o

VM_ROOT_TESTS += build/selftests/trace
USER_BINS += build/selftests/trace
