# SPDX-License-Identifier: GPL-2.0
# Selftests of page lifecycle records, MMSB_IOC_SNAPSHOT and
# MMSB_IOC_PAGE_RESTORE: a reader's snapshot plus the later records against
# later snapshots while writers in other processes run, and every errno.
# They apply records with the shared delta code and run in the VM as root
# and as nobody.

SELFTESTS_SNAPSHOT := build/selftests/snapshot

$(SELFTESTS_SNAPSHOT): build/selftests/%: selftests/%.c build/common/mmsb_delta.o
$(SELFTESTS_SNAPSHOT): LDLIBS += -pthread

VM_TESTS += $(SELFTESTS_SNAPSHOT)
USER_BINS += $(SELFTESTS_SNAPSHOT)
