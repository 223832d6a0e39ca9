# SPDX-License-Identifier: GPL-2.0
#
# mmsb-tool, linked statically with libmmsb (build/lib/libmmsb.a, built by
# lib/build.mk), and its tests: the device in the VM, and demo --local and
# info without the module on the host (and in the VM).  One object per
# tools/mmsb-tool*.c.

MMSB_TOOL_OBJS := $(patsubst %.c,build/%.o,$(wildcard tools/mmsb-tool*.c))

$(MMSB_TOOL_OBJS): CFLAGS += -Ilib/include
# info prints the local backend's fixed limits from the library's header.
build/tools/mmsb-tool-info.o: CFLAGS += -Ilib

# replicate and mirror link libmmsb_nats and libnats where lib/nats.mk
# builds them (both empty without libnats); it uses libmmsb, so it comes
# first.
build/tools/mmsb-tool: $(MMSB_TOOL_OBJS) $(LIBMMSB_NATS) build/lib/libmmsb.a
	$(CC) $(USER_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ -luring -lpthread \
		$(LIBNATS_LDLIBS)

USER_BINS += build/tools/mmsb-tool
VM_TESTS += tools/mmsb-tool-test.sh tools/mmsb-tool-local-test.sh
HOST_TESTS += tools/mmsb-tool-local-test.sh
