# SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
#
# The local backend of libmmsb (lib/local.h, Documentation/local-backend.md)
# and the choice between backends (lib/backend_select.c).  They go into
# libmmsb with the rest of lib/; this file must come after lib/build.mk,
# whose variables it extends.
LOCAL_OBJS := $(addprefix build/lib/,backend_select.o local.o local_page.o \
	local_commit.o local_submit.o local_snapshot.o local_ring.o \
	local_capture.o local_capture_async.o local_capture_sync.o \
	local_capture_mprotect.o local_uffd.o)

$(LOCAL_OBJS): CFLAGS += -fPIC -fvisibility=hidden -Ilib/include
LIBMMSB_OBJS += $(LOCAL_OBJS)
build/lib/libmmsb.a build/lib/$(LIBMMSB_SONAME): $(LOCAL_OBJS)
