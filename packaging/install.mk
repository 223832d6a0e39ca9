# SPDX-License-Identifier: GPL-2.0
#
# make install: libmmsb (shared and static, headers, pkg-config file, man 3)
# and mmsb-tool (man 1), plus mmsb(4), under DESTDIR and the directories
# below.  The module is installed through DKMS instead (make dkms-src,
# Documentation/install.md); the Debian packages (make deb) split what
# this installs between them.
#
#   make install PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu DESTDIR=...

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man

.PHONY: install
install: $(LIBMMSB) build/tools/mmsb-tool
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCLUDEDIR)/linux $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man4
	install -m 755 build/tools/mmsb-tool $(DESTDIR)$(BINDIR)
	install -m 644 build/lib/$(LIBMMSB_SONAME) \
		$(DESTDIR)$(LIBDIR)/libmmsb.so.$(LIBMMSB_VERSION)
	ln -sf libmmsb.so.$(LIBMMSB_VERSION) \
		$(DESTDIR)$(LIBDIR)/$(LIBMMSB_SONAME)
	ln -sf $(LIBMMSB_SONAME) $(DESTDIR)$(LIBDIR)/libmmsb.so
	install -m 644 build/lib/libmmsb.a $(DESTDIR)$(LIBDIR)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(LIBMMSB_VERSION)|' lib/libmmsb.pc.in \
		> $(DESTDIR)$(LIBDIR)/pkgconfig/libmmsb.pc
	install -m 644 $(filter lib/%,$(LIBMMSB_HEADERS)) $(DESTDIR)$(INCLUDEDIR)
	install -m 644 $(filter include/uapi/linux/%,$(LIBMMSB_HEADERS)) \
		$(DESTDIR)$(INCLUDEDIR)/linux
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1
	install -m 644 man/*.3 $(DESTDIR)$(MANDIR)/man3
	install -m 644 man/*.4 $(DESTDIR)$(MANDIR)/man4
