# SPDX-License-Identifier: GPL-2.0
# Selftests of dirty capture, commit and the delta stream, and the model
# test that checks all three against shadow copies.  They link the shared
# delta code to validate and apply the records they read, and run in the
# VM as root and again as an unprivileged user.

SELFTESTS_CAPTURE := $(addprefix build/selftests/,capture stream model)

$(SELFTESTS_CAPTURE): build/selftests/%: selftests/%.c build/common/mmsb_delta.o
$(SELFTESTS_CAPTURE): LDLIBS += -pthread

VM_TESTS += $(SELFTESTS_CAPTURE)
USER_BINS += $(SELFTESTS_CAPTURE)
