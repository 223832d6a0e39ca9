# SPDX-License-Identifier: GPL-2.0
# Selftests of submission, write(2) and io_uring writes of delta records,
# and its fuzz test against a userspace model.  They link the shared delta
# code to build, validate and apply records; submit_uring also links
# libmmsb (its batch API) and liburing.  All run in the VM as root and
# again as an unprivileged user.

SELFTESTS_SUBMIT := $(addprefix build/selftests/,submit submit_uring \
	submit_fuzz)

$(SELFTESTS_SUBMIT): build/selftests/%: selftests/%.c selftests/submit_util.h \
	build/common/mmsb_delta.o
build/selftests/submit_uring: build/lib/libmmsb.a
build/selftests/submit_uring: CFLAGS += -Ilib/include
build/selftests/submit_uring: LDLIBS += -luring -pthread

VM_TESTS += $(SELFTESTS_SUBMIT)
USER_BINS += $(SELFTESTS_SUBMIT)
