# SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
#
# The dependency graph and propagation engine of libmmsb
# (lib/include/mmsb_graph.h): lib/graph.c keeps the graph and its
# topological order and touches no bus, lib/propagate.c runs the waves.
# Both go into libmmsb with the rest of lib/; this file must come after
# lib/build.mk, whose variables it extends.
#
# Tests: tests/graph_test.c builds lib/graph.c alone on the host, plain and
# under AddressSanitizer and UBSan (which abort on the first finding);
# selftests/propagate.c runs in the VM as root and as nobody.  It links the
# static library: the shared one exports only what lib/libmmsb.map lists.
GRAPH_OBJS := build/lib/graph.o build/lib/propagate.o

$(GRAPH_OBJS): CFLAGS += -fPIC -fvisibility=hidden -Ilib/include
LIBMMSB_OBJS += $(GRAPH_OBJS)
build/lib/libmmsb.a build/lib/$(LIBMMSB_SONAME): $(GRAPH_OBJS)

GRAPH_TESTS := build/tests/graph_test build/tests/graph_test_asan

$(GRAPH_TESTS): CFLAGS += -Ilib/include
build/tests/graph_test: tests/graph_test.c lib/graph.c

build/tests/graph_test_asan: tests/graph_test.c lib/graph.c
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(CFLAGS) -fsanitize=address,undefined \
		-fno-sanitize-recover=all -fno-omit-frame-pointer \
		-o $@ $(filter %.c,$^)

build/selftests/propagate: selftests/propagate.c build/lib/libmmsb.a
build/selftests/propagate: CFLAGS += -Ilib/include
build/selftests/propagate: LDLIBS += -luring -pthread

HOST_TESTS += $(GRAPH_TESTS)
VM_TESTS += build/selftests/propagate
USER_BINS += $(GRAPH_TESTS) build/selftests/propagate
