# SPDX-License-Identifier: GPL-2.0
#
# The replication test (tests/replicate-test.sh): a 3-node JetStream
# cluster, a writer and two mirrors on the local backend, killed and
# partitioned, checked byte for byte; in the VM the same with the module.
# Its processes are build/tests/replicate_node; without libnats
# (lib/nats.mk) it is not built and the script skips.
ifeq ($(HAVE_LIBNATS),1)
build/tests/replicate_node: tests/replicate_node.c $(LIBMMSB_NATS) \
	build/lib/libmmsb.a
build/tests/replicate_node: CFLAGS += -Ilib/include
build/tests/replicate_node: LDLIBS += $(LIBNATS_LDLIBS) -luring -pthread

USER_BINS += build/tests/replicate_node
endif
HOST_TESTS += tests/replicate-test.sh
# In the VM with the module (buses of /dev/mmsb, mmsb-tool's processes),
# once: two minutes of TCG, and the module calls it makes (the stream,
# snapshots, restore, submission) are tested on every kernel already.
VM_ONCE_TESTS += tests/replicate-test.sh
