// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Description: the benchmark suite, `make bench` (bench/README.md, "Suite:
 * make bench").  It times libmmsb on the backend mmsb_bus_open() picks (on
 * the host, the local backend) in the six categories the original Julia
 * MMSB measured (/work/shared/origin.md): allocation, delta, propagation,
 * replay, persistence and stress, each case against a baseline timed in
 * the same rounds, and, where the original published a figure, against
 * that figure.  It prints a table per category and its goal lines, and
 * writes every figure to build/bench/results-<UTC time>.json, which
 * build/bench/latest.json links to; bench/compare tells two such files
 * apart.
 *
 * A round times every case of a category once, back to back, so that a
 * swing of the shared host hits a case and its baseline alike; a figure
 * is the median over the rounds (-t), with the rounds' min and max.  A
 * goal is always a ratio, higher is better: speed over the baseline's, or
 * over the original's best figure.  A MISS is a result, not a failure:
 * the exit status is 1 only when something failed.
 *
 * Usage: build/bench/suite [-t ROUNDS] [-q] [-c CATEGORY,...] [-d DIR]
 *                          [-o DIR] [-b local|device]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <linux/magic.h>

#include "suite.h"

#define DEFAULT_ROUNDS	7

static const struct {
	const char *name;
	void (*run)(struct suite *s);
} categories[] = {
	{ "allocation", suite_allocation },
	{ "delta", suite_delta },
	{ "propagation", suite_propagation },
	{ "replay", suite_replay },
	{ "persistence", suite_persistence },
	{ "stress", suite_stress },
};
#define NR_CATEGORIES	(sizeof(categories) / sizeof(categories[0]))

static struct suite suite;
/* The scratch directory, removed however the suite ends. */
static char scratch[PATH_MAX];

void suite_die(const char *what, int err)
{
	fprintf(stderr, "bench/suite: %s: %s\n", what, mmsb_strerror(err));
	exit(1);
}

struct suite_result *suite_result(struct suite *s, const char *category,
				  const char *name, const char *unit,
				  bool higher_better, const char *base_name)
{
	struct suite_result *r = calloc(1, sizeof(*r));

	if (!r || s->nr_results == sizeof(s->results) / sizeof(s->results[0]))
		suite_die("suite_result", -ENOMEM);
	r->category = category;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->unit = unit;
	r->higher_better = higher_better;
	r->rounds = s->rounds;
	if (base_name)
		snprintf(r->base_name, sizeof(r->base_name), "%s", base_name);
	s->results[s->nr_results++] = r;
	return r;
}

struct mmsb_bus *suite_bus(struct suite *s, const char *tag,
			   unsigned int ring_size, char *name)
{
	struct mmsb_bus_opts opts = { .ring_size = ring_size };
	static unsigned int nr;
	char own[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;
	int ret;

	if (!name)
		name = own;
	snprintf(name, MMSB_BUS_NAME_MAX, "bench-suite-%s-%d-%u", tag,
		 (int)getpid(), nr++);
	ret = mmsb_bus_open(&bus, name, s->open_flags | MMSB_OPEN_CREATE |
			    MMSB_OPEN_EXCL, &opts);
	if (ret)
		suite_die("mmsb_bus_open", ret);
	s->backend = mmsb_bus_backend(bus);
	return bus;
}

void suite_path(const struct suite *s, char *buf, size_t len,
		const char *name)
{
	snprintf(buf, len, "%s/%s", s->dir, name);
}

/* The result's speed over its baseline's in round @i: above 1, faster. */
static double round_ratio(const struct suite_result *r, int i)
{
	return r->higher_better ? r->v[i] / r->base[i] : r->base[i] / r->v[i];
}

/* The rounds' speeds over the baseline's, in @v. */
static void round_ratios(const struct suite_result *r, double *v)
{
	int i;

	for (i = 0; i < r->rounds; i++)
		v[i] = round_ratio(r, i);
}

static double result_ratio(const struct suite_result *r)
{
	double v[BENCH_MAX_TRIALS];

	round_ratios(r, v);
	return median(v, r->rounds);
}

/* Speed over the original's best figure (@best) or its worst. */
static double original_ratio(const struct suite_result *r, bool best)
{
	double m = median(r->v, r->rounds);
	const struct suite_original *o = r->original;

	if (r->higher_better)
		return m / (best ? o->high : o->low);
	return (best ? o->low : o->high) / m;
}

static double goal_value(const struct suite_result *r)
{
	switch (r->goal_of) {
	case GOAL_BASE:
		return result_ratio(r);
	case GOAL_ORIGINAL:
		return original_ratio(r, true);
	case GOAL_VALUE:
		return median(r->v, r->rounds);
	default:
		return 0;
	}
}

static const char *goal_what(const struct suite_result *r)
{
	switch (r->goal_of) {
	case GOAL_BASE:
		return "speed/baseline";
	case GOAL_ORIGINAL:
		return "speed/original-best";
	default:
		return "value";
	}
}

static double min_of(const double *v, int n)
{
	double m = v[0];
	int i;

	for (i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

static double max_of(const double *v, int n)
{
	double m = v[0];
	int i;

	for (i = 1; i < n; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

/*
 * @v in @unit, scaled for reading, into @buf; @g: as few digits as it
 * takes (the original's round figures), else a fixed number.
 */
static const char *fmt_as(char *buf, size_t len, const char *unit, double v,
			  bool g)
{
	static const char *const time_units[] = { "ns", "us", "ms", "s" };
	int i = 0;

	if (!strcmp(unit, "ns")) {
		while (v >= 1000 && i < 3) {
			v /= 1000;
			i++;
		}
		if (g)
			snprintf(buf, len, "%.3g %s", v, time_units[i]);
		else
			snprintf(buf, len, "%.*f %s", v < 100 ? 2 : 1, v,
				 time_units[i]);
	} else if (!strcmp(unit, "MB/s")) {
		snprintf(buf, len, "%.0f MB/s", v);
	} else if (!strcmp(unit, "ratio")) {
		snprintf(buf, len, "%.4f", v);
	} else if (v >= 1e6) {
		snprintf(buf, len, g ? "%.3g M/s" : "%.2f M/s", v / 1e6);
	} else {
		snprintf(buf, len, g ? "%.3g k/s" : "%.1f k/s", v / 1e3);
	}
	return buf;
}

static const char *fmt(char *buf, size_t len, const char *unit, double v)
{
	return fmt_as(buf, len, unit, v, false);
}

static const char *fmt_ratio(char *buf, size_t len, double v)
{
	snprintf(buf, len, v >= 1000 ? "%.0f" : "%.3g", v);
	return buf;
}

/* The original's range, "3.00-9.00 us", and our speed over each end. */
static void print_original(const struct suite_result *r)
{
	const struct suite_original *o = r->original;
	char lo[40], hi[24], best[16], worst[16];
	char *unit;

	if (!o) {
		printf("\n");
		return;
	}
	fmt_as(lo, sizeof(lo), r->unit, o->low, true);
	fmt_as(hi, sizeof(hi), r->unit, o->high, true);
	unit = strchr(lo, ' ');
	if (unit && strchr(hi, ' ') && !strcmp(unit, strchr(hi, ' ')))
		*unit = 0;
	strcat(strcat(lo, "-"), hi);
	printf("  %-16s %s-%s\n", lo,
	       fmt_ratio(best, sizeof(best), original_ratio(r, true)),
	       fmt_ratio(worst, sizeof(worst), original_ratio(r, false)));
}

static void print_table(const struct suite *s, const char *category)
{
	char med[24], lo[24], hi[24], base[24], ratio[16];
	unsigned int i;
	bool any = false;

	for (i = 0; i < s->nr_results; i++) {
		const struct suite_result *r = s->results[i];

		if (strcmp(r->category, category))
			continue;
		if (!any)
			printf("\n%-20s %11s %11s %11s  %-18s %11s %7s  %-16s %s\n",
			       category, "median", "min", "max", "baseline",
			       "base-median", "x base", "original",
			       "x original");
		any = true;
		printf("%-20s %11s %11s %11s", r->name,
		       fmt(med, sizeof(med), r->unit, median(r->v, r->rounds)),
		       fmt(lo, sizeof(lo), r->unit, min_of(r->v, r->rounds)),
		       fmt(hi, sizeof(hi), r->unit, max_of(r->v, r->rounds)));
		if (r->base_name[0])
			printf("  %-18s %11s %7s", r->base_name,
			       fmt(base, sizeof(base), r->unit,
				   median(r->base, r->rounds)),
			       fmt_ratio(ratio, sizeof(ratio),
					 result_ratio(r)));
		else
			printf("  %-18s %11s %7s", "-", "-", "-");
		print_original(r);
	}
	for (i = 0; i < s->nr_results; i++) {
		const struct suite_result *r = s->results[i];

		if (strcmp(r->category, category))
			continue;
		if (r->also_unit)
			printf("# %s: %s median %s\n", r->name, r->also_unit,
			       fmt(med, sizeof(med), r->also_unit,
				   median(r->also, r->rounds)));
		if (r->note[0])
			printf("# %s: %s\n", r->name, r->note);
	}
	for (i = 0; i < s->nr_results; i++) {
		const struct suite_result *r = s->results[i];
		char what[96];

		if (strcmp(r->category, category) || r->goal_of == GOAL_NONE)
			continue;
		snprintf(what, sizeof(what), "%s %s %s", category, r->name,
			 goal_what(r));
		print_goal(what, goal_value(r), true, r->goal_min);
	}
}

/* JSON output. */

static void json_str(FILE *f, const char *str)
{
	fputc('"', f);
	for (; *str; str++) {
		unsigned char c = *str;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* A number JSON can hold: a figure that is not finite becomes null. */
static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

static void json_stats(FILE *f, const double *v, int n)
{
	fputs("\"median\": ", f);
	json_num(f, median(v, n));
	fputs(", \"min\": ", f);
	json_num(f, min_of(v, n));
	fputs(", \"max\": ", f);
	json_num(f, max_of(v, n));
}

static void json_result(FILE *f, const struct suite_result *r)
{
	double v[BENCH_MAX_TRIALS];

	fputs("    {\"category\": ", f);
	json_str(f, r->category);
	fputs(", \"name\": ", f);
	json_str(f, r->name);
	fputs(", \"unit\": ", f);
	json_str(f, r->unit);
	fprintf(f, ", \"better\": \"%s\",\n     ",
		r->higher_better ? "higher" : "lower");
	json_stats(f, r->v, r->rounds);
	fprintf(f, ", \"rounds\": %d,\n     \"baseline\": ", r->rounds);
	if (r->base_name[0]) {
		fputs("{\"name\": ", f);
		json_str(f, r->base_name);
		fputs(", ", f);
		json_stats(f, r->base, r->rounds);
		fputs("},\n     \"ratio\": ", f);
		round_ratios(r, v);
		json_num(f, median(v, r->rounds));
		fputs(", \"ratio_min\": ", f);
		json_num(f, min_of(v, r->rounds));
		fputs(", \"ratio_max\": ", f);
		json_num(f, max_of(v, r->rounds));
	} else {
		fputs("null,\n     \"ratio\": null, \"ratio_min\": null, ", f);
		fputs("\"ratio_max\": null", f);
	}
	fputs(",\n     \"original\": ", f);
	if (r->original) {
		fputs("{\"what\": ", f);
		json_str(f, r->original->what);
		fputs(", \"unit\": ", f);
		json_str(f, r->unit);
		fputs(", \"low\": ", f);
		json_num(f, r->original->low);
		fputs(", \"high\": ", f);
		json_num(f, r->original->high);
		fputs(", \"x_best\": ", f);
		json_num(f, original_ratio(r, true));
		fputs(", \"x_worst\": ", f);
		json_num(f, original_ratio(r, false));
		fputs("}", f);
	} else {
		fputs("null", f);
	}
	fputs(",\n     \"goal\": ", f);
	if (r->goal_of != GOAL_NONE) {
		double v = goal_value(r);

		fputs("{\"of\": ", f);
		json_str(f, goal_what(r));
		fputs(", \"op\": \">=\", \"bound\": ", f);
		json_num(f, r->goal_min);
		fputs(", \"value\": ", f);
		json_num(f, v);
		fprintf(f, ", \"pass\": %s}", v >= r->goal_min ? "true" :
								"false");
	} else {
		fputs("null", f);
	}
	if (r->also_unit) {
		fputs(",\n     \"also\": {\"unit\": ", f);
		json_str(f, r->also_unit);
		fputs(", ", f);
		json_stats(f, r->also, r->rounds);
		fputs("}", f);
	}
	if (r->note[0]) {
		fputs(",\n     \"note\": ", f);
		json_str(f, r->note);
	}
	fputs("}", f);
}

/* The first line of @cmd's output, or "" (no git, not a checkout). */
static void first_line(const char *cmd, char *buf, size_t len)
{
	FILE *p = popen(cmd, "r");

	buf[0] = 0;
	if (!p)
		return;
	if (!fgets(buf, len, p))
		buf[0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	pclose(p);
}

static void load_avg(double load[3])
{
	FILE *f = fopen("/proc/loadavg", "r");

	load[0] = load[1] = load[2] = NAN;
	if (f) {
		if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
			load[0] = load[1] = load[2] = NAN;
		fclose(f);
	}
}

/* A kB figure of /proc/meminfo, or 0. */
uint64_t suite_meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	size_t n = strlen(key);
	uint64_t kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			kb = strtoull(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb * 1024;
}

const char *suite_fs_name(const char *dir)
{
	static char other[24];
	struct statfs st;

	if (statfs(dir, &st))
		return "unknown";
	switch (st.f_type) {
	case TMPFS_MAGIC:
		return "tmpfs";
	case EXT4_SUPER_MAGIC:
		return "ext4";
	case XFS_SUPER_MAGIC:
		return "xfs";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	}
	snprintf(other, sizeof(other), "0x%lx", (unsigned long)st.f_type);
	return other;
}

static void json_load(FILE *f, const double load[3])
{
	fputc('[', f);
	json_num(f, load[0]);
	fputs(", ", f);
	json_num(f, load[1]);
	fputs(", ", f);
	json_num(f, load[2]);
	fputc(']', f);
}

struct run_info {
	char time[32];		/* ISO 8601, UTC */
	char stamp[32];		/* the same for a file name */
	double load_start[3], load_end[3];
	char scratch_fs[24];
};

static void write_json(FILE *f, const struct suite *s,
		       const struct run_info *ri)
{
	char git[64], dirty[8], host[256] = "";
	const char *capture = getenv("MMSB_LOCAL_CAPTURE");
	struct utsname u;
	unsigned int i;

	uname(&u);
	gethostname(host, sizeof(host) - 1);
	first_line("git rev-parse HEAD 2>/dev/null", git, sizeof(git));
	first_line("git status --porcelain --untracked-files=no 2>/dev/null",
		   dirty, sizeof(dirty));
	fputs("{\n  \"schema\": 1,\n  \"time\": ", f);
	json_str(f, ri->time);
	fputs(",\n  \"host\": {\"name\": ", f);
	json_str(f, host);
	fputs(", \"kernel\": ", f);
	json_str(f, u.release);
	fputs(", \"machine\": ", f);
	json_str(f, u.machine);
	fprintf(f, ", \"cpus\": %ld, \"mem_bytes\": %llu,\n           \"backend\": ",
		sysconf(_SC_NPROCESSORS_ONLN),
		(unsigned long long)suite_meminfo("MemTotal"));
	json_str(f, s->backend ? s->backend : "none");
	fputs(", \"capture\": ", f);
	json_str(f, capture ? capture : "auto");
	fputs("},\n  \"load\": {\"start\": ", f);
	json_load(f, ri->load_start);
	fputs(", \"end\": ", f);
	json_load(f, ri->load_end);
	fputs("},\n  \"git\": ", f);
	if (git[0])
		json_str(f, git);
	else
		fputs("null", f);
	fprintf(f, ", \"git_dirty\": %s,\n", dirty[0] ? "true" : "false");
	fprintf(f, "  \"settings\": {\"rounds\": %d, \"quick\": %s, \"scratch\": ",
		s->rounds, s->quick ? "true" : "false");
	json_str(f, s->dir);
	fputs(", \"scratch_fs\": ", f);
	json_str(f, ri->scratch_fs);
	fputs("},\n  \"results\": [\n", f);
	for (i = 0; i < s->nr_results; i++) {
		json_result(f, s->results[i]);
		fputs(i + 1 < s->nr_results ? ",\n" : "\n", f);
	}
	fputs("  ]\n}\n", f);
}

/*
 * Writes OUT/results-STAMP.json, never over another run's, and points
 * OUT/latest.json at it.
 */
static int save_json(const struct suite *s, const struct run_info *ri,
		     const char *out)
{
	char path[PATH_MAX], name[96], tmp[PATH_MAX], link[PATH_MAX];
	int fd = -1, n;
	FILE *f;

	if (mkdir(out, 0777) && errno != EEXIST)
		return -errno;
	for (n = 0; fd < 0 && n < 100; n++) {
		if (n)
			snprintf(name, sizeof(name), "results-%s-%d.json",
				 ri->stamp, n);
		else
			snprintf(name, sizeof(name), "results-%s.json",
				 ri->stamp);
		snprintf(path, sizeof(path), "%s/%s", out, name);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f)
		return -EEXIST;
	write_json(f, s, ri);
	if (fclose(f))
		return -errno;
	snprintf(tmp, sizeof(tmp), "%s/.latest.json.%d", out, (int)getpid());
	snprintf(link, sizeof(link), "%s/latest.json", out);
	if (symlink(name, tmp) || rename(tmp, link))
		return -errno;
	printf("# results: %s (and %s)\n", path, link);
	return 0;
}

void suite_rm_tree(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!lstat(path, &st) && S_ISDIR(st.st_mode))
			suite_rm_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void remove_scratch(void)
{
	if (scratch[0])
		suite_rm_tree(scratch);
	scratch[0] = 0;
}

/*
 * Interrupted: the scratch files may hold a gigabyte of memory (tmpfs), so
 * they go before the process does, though the handler may have interrupted
 * malloc(); the benchmark is over anyway.
 */
static void on_signal(int sig)
{
	remove_scratch();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-t ROUNDS] [-q] [-c CATEGORY,...] [-d DIR] [-o DIR] [-b local|device]\n"
		"  -t  rounds, each figure is their median (1..%d, default %d)\n"
		"  -q  quick: the smallest sizes, for a smoke test\n"
		"  -c  only these categories: allocation, delta, propagation,\n"
		"      replay, persistence, stress (default: all)\n"
		"  -d  scratch files go in a new directory in DIR (default:\n"
		"      /dev/shm, else build/bench)\n"
		"  -o  write results-<UTC time>.json and latest.json into DIR\n"
		"      (default: none)\n"
		"  -b  the backend (default: mmsb_bus_open()'s choice)\n",
		prog, BENCH_MAX_TRIALS, DEFAULT_ROUNDS);
	exit(2);
}

static bool wanted(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	if (!list)
		return true;
	for (p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ',') && (!p[n] || p[n] == ','))
			return true;
	return false;
}

static bool valid_list(const char *list)
{
	char *copy = strdup(list), *tok, *save;
	unsigned int i;
	bool ok = copy != NULL;

	for (tok = strtok_r(copy, ",", &save); ok && tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < NR_CATEGORIES; i++)
			if (!strcmp(tok, categories[i].name))
				break;
		ok = i < NR_CATEGORIES;
	}
	free(copy);
	return ok;
}

int main(int argc, char **argv)
{
	const char *only = NULL, *out = NULL, *parent = NULL;
	struct suite *s = &suite;
	struct run_info ri = {};
	char host[256] = "";
	struct utsname u;
	unsigned int i, pass = 0, miss = 0;
	time_t now;
	int opt, ret;

	s->rounds = DEFAULT_ROUNDS;
	while ((opt = getopt(argc, argv, "t:qc:d:o:b:")) != -1) {
		switch (opt) {
		case 't':
			s->rounds = atoi(optarg);
			if (s->rounds < 1 || s->rounds > BENCH_MAX_TRIALS)
				usage(argv[0]);
			break;
		case 'q':
			s->quick = true;
			break;
		case 'c':
			if (!valid_list(optarg))
				usage(argv[0]);
			only = optarg;
			break;
		case 'd':
			parent = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'b':
			if (!strcmp(optarg, "local"))
				s->open_flags = MMSB_OPEN_LOCAL;
			else if (!strcmp(optarg, "device"))
				s->open_flags = MMSB_OPEN_DEVICE;
			else
				usage(argv[0]);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
	if (!parent)
		parent = access("/dev/shm", W_OK) ? "build/bench" : "/dev/shm";
	snprintf(scratch, sizeof(scratch), "%s/mmsb-bench-XXXXXX", parent);
	if (!mkdtemp(scratch)) {
		fprintf(stderr, "bench/suite: %s: %s\n", scratch,
			strerror(errno));
		return 1;
	}
	atexit(remove_scratch);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	s->dir = strdup(scratch);
	snprintf(ri.scratch_fs, sizeof(ri.scratch_fs), "%s",
		 suite_fs_name(scratch));

	now = time(NULL);
	strftime(ri.time, sizeof(ri.time), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	strftime(ri.stamp, sizeof(ri.stamp), "%Y%m%dT%H%M%SZ", gmtime(&now));
	load_avg(ri.load_start);
	uname(&u);
	gethostname(host, sizeof(host) - 1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# mmsb bench suite on %s (%s, %ld CPUs), %s: median of %d round%s%s\n",
	       host, u.release, sysconf(_SC_NPROCESSORS_ONLN), ri.time,
	       s->rounds, s->rounds > 1 ? "s" : "", s->quick ? ", quick" : "");
	printf("# load average %.2f %.2f %.2f; scratch files in %s (%s)\n",
	       ri.load_start[0], ri.load_start[1], ri.load_start[2], s->dir,
	       ri.scratch_fs);

	for (i = 0; i < NR_CATEGORIES; i++) {
		double t0 = now_ns();

		if (!wanted(only, categories[i].name))
			continue;
		categories[i].run(s);
		printf("# %s: %.1f s\n", categories[i].name,
		       (now_ns() - t0) / 1e9);
	}
	load_avg(ri.load_end);
	printf("# backend %s; load average at the end %.2f %.2f %.2f\n",
	       s->backend ? s->backend : "none", ri.load_end[0],
	       ri.load_end[1], ri.load_end[2]);

	for (i = 0; i < NR_CATEGORIES; i++)
		if (wanted(only, categories[i].name))
			print_table(s, categories[i].name);
	for (i = 0; i < s->nr_results; i++) {
		const struct suite_result *r = s->results[i];

		if (r->goal_of == GOAL_NONE)
			continue;
		if (goal_value(r) >= r->goal_min)
			pass++;
		else
			miss++;
	}
	printf("\n# goals: %u PASS, %u MISS\n", pass, miss);
	remove_scratch();
	if (out) {
		ret = save_json(s, &ri, out);
		if (ret)
			suite_die(out, ret);
	}
	return 0;
}
