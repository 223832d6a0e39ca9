# SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
#
# libmmsb_nats (lib/replicate*.c, lib/include/mmsb_replicate.h): a bus
# replicated over NATS JetStream (Documentation/replication.md).  A static
# library of its own, so that only what uses it links libnats: libmmsb
# does not.  Built when pkg-config finds libnats (libnats-dev); without it
# mmsb-tool's replicate and mirror say they are missing, and the tests
# that need it are not built (tests/replicate-test.sh skips).
HAVE_LIBNATS := $(shell pkg-config --exists libnats && echo 1)

ifeq ($(HAVE_LIBNATS),1)
LIBNATS_CFLAGS := $(shell pkg-config --cflags libnats)
LIBNATS_LDLIBS := $(shell pkg-config --libs libnats)
LIBMMSB_NATS_OBJS := $(patsubst lib/%.c,build/lib/%.o,\
	$(wildcard lib/replicate*.c))
LIBMMSB_NATS := build/lib/libmmsb_nats.a

$(LIBMMSB_NATS_OBJS): CFLAGS += -Ilib/include -Ilib $(LIBNATS_CFLAGS)

$(LIBMMSB_NATS): $(LIBMMSB_NATS_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

build/tools/mmsb-tool-replicate.o: CFLAGS += -DMMSB_HAVE_NATS

USER_BINS += $(LIBMMSB_NATS)
endif
