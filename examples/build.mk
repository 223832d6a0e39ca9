# SPDX-License-Identifier: GPL-2.0
#
# Examples of using MMSB.  examples/python/mmsb.py drives /dev/mmsb with the
# Python standard library alone; its test runs in the VM.
# examples/python/mmsb_log.py reads a transaction log the same way; its
# test, tests/log_pyref.c, compares it with libmmsb on the host.
# examples/c/first_record.c is the smallest libmmsb program: built here
# against the tree's library, and by packaging/deb-test.sh against the
# installed packages through pkg-config, where it runs on the local backend.

VM_TESTS += examples/python/mmsb_python_test.py

build/examples/c/first_record: examples/c/first_record.c build/lib/libmmsb.a
build/examples/c/first_record: CFLAGS += -Ilib/include
build/examples/c/first_record: LDLIBS += -luring -pthread
USER_BINS += build/examples/c/first_record
