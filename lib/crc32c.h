/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI, ext4
 * and btrfs use it: the checksum of snapshot files
 * (Documentation/snapshot-format.md).  Internal to libmmsb, not exported.
 *
 * The value is continued across calls: mmsb_crc32c(mmsb_crc32c(0, a, n),
 * b, m) is the CRC of a followed by b.  The pre- and post-inversion are
 * done inside, so 0 starts a new CRC and "123456789" gives 0xE3069283.
 */
#ifndef LIBMMSB_CRC32C_H
#define LIBMMSB_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fastest implementation this CPU runs, chosen at each call. */
uint32_t mmsb_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * The two implementations, for the test that compares them: the table
 * one runs anywhere; the SSE4.2 one exists on x86-64 and runs only
 * where mmsb_crc32c_have_hw().
 */
uint32_t mmsb_crc32c_sw(uint32_t crc, const void *buf, size_t len);
bool mmsb_crc32c_have_hw(void);
#if defined(__x86_64__)
uint32_t mmsb_crc32c_hw(uint32_t crc, const void *buf, size_t len);
#endif

#endif /* LIBMMSB_CRC32C_H */
