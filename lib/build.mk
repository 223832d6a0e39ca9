# SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
#
# libmmsb, the C API over /dev/mmsb (lib/include/mmsb.h): a shared library
# with a soname and the symbol versions of lib/libmmsb.map, and a static
# library; `make install` (packaging/install.mk) adds the headers and a
# pkg-config file, lib/libmmsb.pc.in.  The delta code, common/mmsb_delta.c,
# is compiled in and not exported.
#
# Its tests, selftests/lib_*.c, run in the VM as root and as nobody.  They
# link the shared library (found through an rpath relative to the binary),
# so a function missing from libmmsb.map fails their build.
LIBMMSB_VERSION := 1.0
LIBMMSB_SONAME := libmmsb.so.1
LIBMMSB_HEADERS := lib/include/mmsb.h lib/include/mmsb_graph.h \
	lib/include/mmsb_log.h include/uapi/linux/mmsb.h

LIBMMSB_OBJS := $(addprefix build/lib/,batch.o bus.o commit.o device.o \
	error.o page.o snapshot.o stream.o submit.o mmsb_delta.o)
LIBMMSB_OBJS += $(addprefix build/lib/,crc32c.o snapshot_file.o)
LIBMMSB_OBJS += build/lib/delta_merge.o
LIBMMSB_OBJS += $(addprefix build/lib/,log_append.o log_compact.o \
	log_cursor.o log_format.o log_fs.o log_net.o log_open.o log_record.o \
	log_replay.o log_scan.o log_target.o log_verify.o)
LIBMMSB_OBJS += build/lib/stream_follow.o
LIBMMSB := build/lib/$(LIBMMSB_SONAME) build/lib/libmmsb.so \
	build/lib/libmmsb.a

$(LIBMMSB_OBJS): CFLAGS += -fPIC -fvisibility=hidden -Ilib/include

build/lib/mmsb_delta.o: common/mmsb_delta.c
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

build/lib/$(LIBMMSB_SONAME): $(LIBMMSB_OBJS) lib/libmmsb.map
	$(CC) -shared -Wl,-soname,$(LIBMMSB_SONAME) \
		-Wl,--version-script=lib/libmmsb.map -Wl,-z,defs $(LDFLAGS) \
		-o $@ $(LIBMMSB_OBJS) -luring -pthread

build/lib/libmmsb.so: build/lib/$(LIBMMSB_SONAME)
	ln -sf $(LIBMMSB_SONAME) $@

build/lib/libmmsb.a: $(LIBMMSB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

LIBMMSB_TESTS := $(addprefix build/selftests/,lib_bus lib_page lib_commit \
	lib_submit)

$(LIBMMSB_TESTS): build/selftests/%: selftests/%.c build/lib/libmmsb.so \
	build/common/mmsb_delta.o
$(LIBMMSB_TESTS): CFLAGS += -Ilib/include
$(LIBMMSB_TESTS): LDFLAGS += -Wl,-rpath,'$$ORIGIN/../lib'
$(LIBMMSB_TESTS): LDLIBS += -Lbuild/lib -lmmsb

VM_TESTS += $(LIBMMSB_TESTS)
USER_BINS += $(LIBMMSB) $(LIBMMSB_TESTS)
