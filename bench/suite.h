/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The benchmark suite (bench/suite.c, `make bench`): what its categories
 * share.  Each category (bench/suite_*.c) makes its results with
 * suite_result(), runs its rounds, each timing every one of its cases once
 * back to back, and stores one figure per round in each result and in its
 * baseline.  suite.c prints the tables and writes the JSON
 * (bench/README.md, "Suite: make bench").
 */
#ifndef MMSB_BENCH_SUITE_H
#define MMSB_BENCH_SUITE_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "mmsb.h"
#include "vmbench.h"

#define KiB		1024ULL
#define MiB		(1024 * KiB)

/* What a goal is a bound on; every one is a ratio, higher is better. */
enum suite_goal_of {
	GOAL_NONE,
	GOAL_BASE,	/* the result's speed over its baseline's */
	GOAL_ORIGINAL,	/* its speed over the original's best figure */
	GOAL_VALUE,	/* the result itself, whose unit is a ratio */
};

/* A figure of the original Julia MMSB (/work/shared/origin.md). */
struct suite_original {
	const char *what;
	double low, high;	/* in the result's unit */
};

struct suite_result {
	const char *category;
	char name[40];
	/* "ns", "MB/s", "records/s", "commits/s" or "ratio" */
	const char *unit;
	bool higher_better;	/* a rate; else a time */
	int rounds;		/* figures stored in v[] so far */
	double v[BENCH_MAX_TRIALS];

	/* The baseline, in the same unit, timed in the same rounds. */
	char base_name[40];
	double base[BENCH_MAX_TRIALS];

	const struct suite_original *original;	/* NULL: none */

	enum suite_goal_of goal_of;
	double goal_min;	/* PASS when the ratio is at least this */

	/* A second figure of the same runs, e.g. records/s beside MB/s. */
	const char *also_unit;
	double also[BENCH_MAX_TRIALS];

	char note[200];
};

struct suite {
	int rounds;
	bool quick;		/* -q: the smallest sizes (smoke test) */
	const char *dir;	/* scratch files: checkpoints, logs */
	unsigned int open_flags;	/* mmsb_bus_open()'s backend flags */
	const char *backend;	/* what mmsb_bus_open() gave */
	unsigned int nr_results;
	struct suite_result *results[64];
};

/* A new result of @category; its baseline is @base_name (NULL: none). */
struct suite_result *suite_result(struct suite *s, const char *category,
				  const char *name, const char *unit,
				  bool higher_better, const char *base_name);

/* Prints what failed and exits 1: a figure after a failure means nothing. */
void __attribute__((noreturn)) suite_die(const char *what, int err);

static inline void suite_check(const char *what, int ret)
{
	if (ret < 0)
		suite_die(what, ret);
}

/*
 * Creates a bus of its own, named after @tag; its name goes to @name
 * (MMSB_BUS_NAME_MAX bytes; may be NULL).  @ring_size 0: the default.
 */
struct mmsb_bus *suite_bus(struct suite *s, const char *tag,
			   unsigned int ring_size, char *name);

/* A fresh file name in the scratch directory. */
void suite_path(const struct suite *s, char *buf, size_t len,
		const char *name);

/* Removes directory @dir and everything in it. */
void suite_rm_tree(const char *dir);

/* A figure of /proc/meminfo in bytes (@key "MemAvailable"), or 0. */
uint64_t suite_meminfo(const char *key);

/* The filesystem @dir is on: "tmpfs", "ext4", ..., or its magic number. */
const char *suite_fs_name(const char *dir);

/* A log as suite_log_build() makes it (bench/suite_replay.c). */
struct suite_log_spec {
	uint32_t run_len;	/* bytes of each record's one run */
	unsigned int pages;	/* 4 KiB pages of the base snapshot */
	uint64_t records;
};

/*
 * Makes the log of @sp in the new directory @dir: returns the ns from
 * opening it to closing it, and in *@rec_bytes the bytes of its records.
 */
double suite_log_build(const char *dir, const struct suite_log_spec *sp,
		       uint64_t *rec_bytes);

/* Bytes of the files in @dir. */
uint64_t suite_dir_bytes(const char *dir);

/* The categories, in the order they run. */
void suite_allocation(struct suite *s);
void suite_delta(struct suite *s);
void suite_propagation(struct suite *s);
void suite_replay(struct suite *s);
void suite_persistence(struct suite *s);
void suite_stress(struct suite *s);

#endif /* MMSB_BENCH_SUITE_H */
