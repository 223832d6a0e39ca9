# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# The submission benchmark (bench/submit.c): write(2) against io_uring,
# one record at a time against packed.  It times the module, so it runs in
# the VM:
#   tools/vm/run --kver KVER --insmod build/kmod/KVER/mmsb.ko -- build/bench/submit
# It links libmmsb statically (its batch API) and the record builder of
# the submission tests.
build/bench/submit: bench/submit.c bench/vmbench.h selftests/submit_util.h \
	build/lib/libmmsb.a
build/bench/submit: CFLAGS += -Ilib/include -Iselftests
build/bench/submit: LDLIBS += -luring -pthread

BENCH_VM += build/bench/submit
USER_BINS += build/bench/submit
