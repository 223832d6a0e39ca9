# SPDX-License-Identifier: GPL-2.0
# Regression tests of page and bus lifetime and of the per-user quota
# (selftests/regress_lifetime.c).  They build records with the shared
# delta code and run in the VM as root and again as an unprivileged user;
# the quota tests need root to lower max_user_bytes.

SELFTESTS_REGRESS_LIFETIME := build/selftests/regress_lifetime

$(SELFTESTS_REGRESS_LIFETIME): build/selftests/%: selftests/%.c \
	build/common/mmsb_delta.o

VM_TESTS += $(SELFTESTS_REGRESS_LIFETIME)
USER_BINS += $(SELFTESTS_REGRESS_LIFETIME)
