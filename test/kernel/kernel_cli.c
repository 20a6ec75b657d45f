/*
 * kernel_cli.c — drives the feature kernel outside the server, for tests.
 *
 *   kernel_cli STEP_MINUTES [--resume-at K] [--truncate N] [--raw] < bars.csv > features.csv
 *   kernel_cli --catalog            name,group,lookback,definition per feature
 *   kernel_cli --check-bad          bad-bar rejection and state checks (ok / not ok lines)
 *
 * Input: CSV with a header, columns symbol,timeframe,ts,open,high,low,close,volume
 * (ts as YYYY-MM-DDTHH:MM:SSZ), as written by shared/bench/gen_bars.py.
 * Output: ts then the FS_NFEATURES features, %.17g, NaN as an empty field.
 * --raw writes instead, per bar, the int64 ts and the FS_NFEATURES doubles
 * as raw bytes (no header): exact, and fast enough for the many byte-for-byte
 * comparisons of the tests (glibc's %.17g costs ~0.5 us a value).
 * --resume-at K steps K bars, copies the state into a fresh buffer (checking
 * fs_state_valid), wipes the original and continues from the copy.
 */
#include "features_kernel.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
parse_ts(const char *s, int64_t *us)
{
	int			y,
				mo,
				d,
				h,
				mi,
				se;

	if (sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &se) != 6)
		return 0;
	*us = ((days_from_civil(y, mo, d) * 86400) + h * 3600 + mi * 60 + se) * INT64_C(1000000);
	return 1;
}

typedef struct
{
	FsBar	   *bars;
	char	  (*ts)[32];
	size_t		n;
} Bars;

static int
read_bars(FILE *in, Bars *b)
{
	char		line[1024];
	size_t		cap = 1024;
	size_t		lineno = 0;

	b->n = 0;
	b->bars = malloc(cap * sizeof(FsBar));
	b->ts = malloc(cap * sizeof(*b->ts));
	while (fgets(line, sizeof(line), in))
	{
		char	   *fld[8];
		char	   *p = line;
		int			k;
		FsBar	   *bar;

		lineno++;
		if (lineno == 1)
			continue;			/* header */
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		for (k = 0; k < 8; k++)
		{
			fld[k] = p;
			p = strchr(p, ',');
			if (p == NULL)
				break;
			*p++ = '\0';
		}
		if (k < 7)
		{
			fprintf(stderr, "line %zu: expected 8 fields\n", lineno);
			return 0;
		}
		if (b->n == cap)
		{
			cap *= 2;
			b->bars = realloc(b->bars, cap * sizeof(FsBar));
			b->ts = realloc(b->ts, cap * sizeof(*b->ts));
		}
		bar = &b->bars[b->n];
		if (!parse_ts(fld[2], &bar->ts))
		{
			fprintf(stderr, "line %zu: bad ts %s\n", lineno, fld[2]);
			return 0;
		}
		snprintf(b->ts[b->n], sizeof(b->ts[b->n]), "%s", fld[2]);
		bar->open = strtod(fld[3], NULL);
		bar->high = strtod(fld[4], NULL);
		bar->low = strtod(fld[5], NULL);
		bar->close = strtod(fld[6], NULL);
		bar->volume = strtod(fld[7], NULL);
		b->n++;
	}
	return 1;
}

static void
write_row(const char *ts, const double *f)
{
	int			k;

	fputs(ts, stdout);
	for (k = 0; k < FS_NFEATURES; k++)
	{
		if (isnan(f[k]))
			fputs(",", stdout);
		else
			printf(",%.17g", f[k]);
	}
	putchar('\n');
}

static void
write_raw(int64_t ts, const double *f)
{
	fwrite(&ts, sizeof(ts), 1, stdout);
	fwrite(f, sizeof(double), FS_NFEATURES, stdout);
}

static int
run(int step_min, long resume_at, long truncate, int raw)
{
	Bars		b;
	FsState    *st = malloc(fs_state_size());
	double		out[FS_NFEATURES];
	size_t		n;
	size_t		k;
	int			k2;

	if (!read_bars(stdin, &b))
		return 2;
	n = b.n;
	if (truncate >= 0 && (size_t) truncate < n)
		n = (size_t) truncate;
	fs_state_init(st, step_min * FS_USEC_PER_MIN);
	if (!fs_state_valid(st, fs_state_size()))
	{
		fprintf(stderr, "fresh state is not valid\n");
		return 2;
	}
	if (!raw)
	{
		fputs("ts", stdout);
		for (k2 = 0; k2 < FS_NFEATURES; k2++)
			printf(",%s", fs_feature_catalog[k2].name);
		putchar('\n');
	}
	for (k = 0; k < n; k++)
	{
		FsStatus	s;

		if (resume_at >= 0 && k == (size_t) resume_at)
		{
			/* save / restore through a plain byte copy, as bytea would */
			FsState    *copy = malloc(fs_state_size());

			memcpy(copy, st, fs_state_size());
			memset(st, 0xA5, fs_state_size());
			free(st);
			st = copy;
			if (!fs_state_valid(st, fs_state_size()) ||
				fs_state_nbars(st) != resume_at ||
				fs_state_last_ts(st) != (k == 0 ? INT64_MIN : b.bars[k - 1].ts))
			{
				fprintf(stderr, "resumed state is not valid\n");
				return 2;
			}
		}
		s = fs_step(st, &b.bars[k], out);
		if (s != FS_OK)
		{
			fprintf(stderr, "bar %zu (%s): %s\n", k, b.ts[k], fs_status_message(s));
			return 3;
		}
		if (raw)
			write_raw(b.bars[k].ts, out);
		else
			write_row(b.ts[k], out);
	}
	fprintf(stderr, "bars %lld gaps %lld\n", (long long) fs_state_nbars(st),
			(long long) fs_state_ngaps(st));
	return 0;
}

static void
print_catalog(void)
{
	int			k;

	for (k = 0; k < FS_NFEATURES; k++)
		printf("%s,%s,%d,\"%s\"\n", fs_feature_catalog[k].name,
			   fs_feature_catalog[k].group, fs_feature_catalog[k].lookback,
			   fs_feature_catalog[k].definition);
}

/* ---- --check-bad ---- */

static int nfail = 0;

static void
check(int cond, const char *name)
{
	printf("%s - %s\n", cond ? "ok" : "not ok", name);
	if (!cond)
		nfail++;
}

static FsBar
good_bar(int64_t ts, int k)
{
	FsBar		b;
	double		base = 100.0 + 0.5 * sin(k * 0.7);

	b.ts = ts;
	b.open = base;
	b.close = base + 0.1 * cos(k * 1.3);
	b.high = (b.open > b.close ? b.open : b.close) + 0.05;
	b.low = (b.open < b.close ? b.open : b.close) - 0.05;
	b.volume = 10.0 + k % 7;
	return b;
}

static int
check_bad(void)
{
	const int64_t step = FS_USEC_PER_MIN;
	const int64_t t0 = INT64_C(1704067200000000);	/* 2024-01-01 */
	size_t		sz = fs_state_size();
	FsState    *st = malloc(sz);
	FsState    *snap = malloc(sz);
	double		out[FS_NFEATURES];
	double		sentinel[FS_NFEATURES];
	FsBar		bars[8];
	int64_t		next;
	int			k;
	size_t		nst;
	FsStatus	s;
	struct
	{
		const char *name;
		FsStatus	want;
		FsBar		bar;
	}			cases[32];
	int			nc = 0;

	fs_state_init(st, step);
	for (k = 0; k < 100; k++)
	{
		FsBar		b = good_bar(t0 + k * step, k);

		if (fs_step(st, &b, out) != FS_OK)
		{
			check(0, "good bars accepted");
			return 1;
		}
	}
	check(1, "good bars accepted");
	next = t0 + 100 * step;

#define CASE(nm, st_, field, val) \
	do { cases[nc].name = nm; cases[nc].want = st_; \
		 cases[nc].bar = good_bar(next, 100); cases[nc].bar.field = (val); nc++; } while (0)
	CASE("open NaN", FS_ERR_PRICE, open, NAN);
	CASE("high +Inf", FS_ERR_PRICE, high, INFINITY);
	CASE("low -Inf", FS_ERR_PRICE, low, -INFINITY);
	CASE("close NaN", FS_ERR_PRICE, close, NAN);
	CASE("open 0", FS_ERR_PRICE, open, 0.0);
	CASE("low 0", FS_ERR_PRICE, low, 0.0);
	CASE("close negative", FS_ERR_PRICE, close, -100.0);
	CASE("high negative", FS_ERR_PRICE, high, -1.0);
	CASE("high < low", FS_ERR_RANGE, high, 50.0);
	CASE("close > high", FS_ERR_RANGE, close, 1000.0);
	CASE("close < low", FS_ERR_RANGE, close, 1.0);
	CASE("open > high", FS_ERR_RANGE, open, 1000.0);
	CASE("open < low", FS_ERR_RANGE, open, 1.0);
	CASE("volume negative", FS_ERR_VOLUME, volume, -1.0);
	CASE("volume NaN", FS_ERR_VOLUME, volume, NAN);
	CASE("volume +Inf", FS_ERR_VOLUME, volume, INFINITY);
	CASE("duplicate ts", FS_ERR_ORDER, ts, next - step);
	CASE("out-of-order ts", FS_ERR_ORDER, ts, next - 5 * step);
	CASE("ts 1 us after the previous bar", FS_ERR_SPACING, ts, next - step + 1);
	CASE("ts just under half a step after the previous bar", FS_ERR_SPACING, ts,
		 next - step + step / 2 - 1);
	CASE("duplicate ts with bad price (order first)", FS_ERR_ORDER, ts, next - step);
	cases[nc - 1].bar.close = NAN;
#undef CASE

	for (k = 0; k < nc; k++)
	{
		char		name[160];
		int			j;

		memcpy(snap, st, sz);
		for (j = 0; j < FS_NFEATURES; j++)
			sentinel[j] = out[j] = 12345.0;
		s = fs_check(st, &cases[k].bar);
		snprintf(name, sizeof(name), "fs_check rejects %s (%s)", cases[k].name,
				 fs_status_message(cases[k].want));
		check(s == cases[k].want, name);
		s = fs_step(st, &cases[k].bar, out);
		snprintf(name, sizeof(name), "fs_step rejects %s, state and out untouched", cases[k].name);
		check(s == cases[k].want && memcmp(snap, st, sz) == 0 &&
			  memcmp(out, sentinel, sizeof(out)) == 0, name);
	}

	/* edge values that are valid */
	{
		FsBar		b = good_bar(next, 100);

		b.volume = 0.0;
		check(fs_check(st, &b) == FS_OK, "zero volume accepted");
		b.volume = -0.0;
		check(fs_check(st, &b) == FS_OK, "negative zero volume accepted");
		b.open = b.high = b.low = b.close = 100.0;
		check(fs_check(st, &b) == FS_OK, "flat bar (high == low) accepted");
		b.ts = next + 7 * step;
		check(fs_check(st, &b) == FS_OK, "gap accepted");
		b.ts = next - step / 2;
		check(fs_check(st, &b) == FS_OK, "bar exactly half a step after the previous accepted");
		b.ts = next + 15 * INT64_C(1000000);
		check(fs_check(st, &b) == FS_OK, "bar off the epoch grid (+15 s) accepted");
	}

	/* a gap is counted, and the state keeps stepping after rejections */
	{
		FsBar		b = good_bar(next + 3 * step, 103);
		int64_t		g = fs_state_ngaps(st);

		check(fs_step(st, &b, out) == FS_OK && fs_state_ngaps(st) == g + 1 &&
			  fs_state_nbars(st) == 101 && fs_state_last_ts(st) == b.ts,
			  "bar after a gap stepped and counted");
		next = b.ts + step;
	}

	/* fs_run stops at the first bad bar */
	for (k = 0; k < 8; k++)
		bars[k] = good_bar(next + k * step, 200 + k);
	bars[5].volume = -3.0;
	s = fs_run(st, bars, 8, NULL, &nst);
	check(s == FS_ERR_VOLUME && nst == 5 && fs_state_nbars(st) == 106,
		  "fs_run stops at the first bad bar");

	/* fs_check_bar: the same rules without a state */
	{
		FsBar		b = good_bar(t0, 0);

		check(fs_check_bar(&b, INT64_MIN, step) == FS_OK &&
			  fs_check_bar(&b, t0, step) == FS_ERR_ORDER &&
			  fs_check_bar(&b, t0 - 3 * step, 5 * step) == FS_OK &&
			  fs_check_bar(&b, t0 - 2 * step, 5 * step) == FS_ERR_SPACING &&
			  fs_check_bar(&b, INT64_MIN, 7 * step) == FS_OK &&
			  fs_check_bar(&b, t0 - 4 * step, 7 * step) == FS_OK &&
			  fs_check_bar(&b, t0 - 3 * step, 7 * step) == FS_ERR_SPACING &&
			  fs_check_bar(&b, INT64_MIN, 0) == FS_ERR_SPACING,
			  "fs_check_bar: order, spacing (half a step), step <= 0");
		b.low = NAN;
		check(fs_check_bar(&b, INT64_MIN, step) == FS_ERR_PRICE, "fs_check_bar: price");
	}

	/* a fresh state: INT64_MIN last ts, any aligned ts accepted, negative ts too */
	fs_state_init(st, step);
	check(fs_state_last_ts(st) == INT64_MIN && fs_state_nbars(st) == 0 &&
		  fs_state_ngaps(st) == 0, "fresh state accessors");
	{
		FsBar		b = good_bar(-5 * step, 0);

		check(fs_step(st, &b, out) == FS_OK && isnan(out[0]) && !isnan(out[24]),
			  "first bar (pre-1970 ts) stepped, ret_1 NULL, range_pct set");
	}

	/* fs_state_valid */
	check(fs_state_valid(st, sz), "fs_state_valid on a stepped state");
	check(!fs_state_valid(st, sz - 1), "fs_state_valid rejects a wrong length");
	memcpy(snap, st, sz);
	((unsigned char *) snap)[0] ^= 0xFF;
	check(!fs_state_valid(snap, sz), "fs_state_valid rejects a bad magic");
	memcpy(snap, st, sz);
	((unsigned char *) snap)[4] ^= 0x01;
	check(!fs_state_valid(snap, sz), "fs_state_valid rejects another layout version");
	{
		/* a 0.1.0 blob (layout 1, no origin) must be refused, never misread */
		uint32_t	v1 = 1;

		memcpy(snap, st, sz);
		memcpy((char *) snap + 4, &v1, 4);
		check(!fs_state_valid(snap, sz), "fs_state_valid rejects a layout version 1 state");
	}
	check(!fs_state_valid(NULL, sz), "fs_state_valid rejects NULL");
	{
		/* damage every int64 slot in turn (step, head, HTF lengths...) */
		size_t		off;
		int			caught = 0,
					tried = 0;

		for (off = 8; off + 8 <= 64; off += 8)
		{
			int64_t		v = INT64_C(-7);

			memcpy(snap, st, sz);
			memcpy((char *) snap + off, &v, 8);
			tried++;
			caught += !fs_state_valid(snap, sz);
		}
		check(caught >= 3 && tried > 0, "fs_state_valid rejects a negative step, nbars or gap count");
	}
	{
		FsState    *other = malloc(sz);

		fs_state_init(other, 5 * step);
		memcpy(snap, st, sz);
		/* a 1m state claiming a 5m step: its HTF lengths no longer match */
		memcpy((char *) snap + 8, (char *) other + 8, 8);
		check(fs_state_valid(other, sz) && !fs_state_valid(snap, sz),
			  "fs_state_valid rejects a step inconsistent with the HTF layout");
		free(other);
	}

	/* catalogue */
	check(fs_feature_index("ret_1") == 0 && fs_feature_index("feat_score") == 37 &&
		  fs_feature_index("d1_atr_14") == FS_NFEATURES - 1 &&
		  fs_feature_index("nope") == -1, "fs_feature_index");
	{
		int			okc = 1;

		for (k = 0; k < FS_NFEATURES; k++)
			if (fs_feature_catalog[k].name == NULL || fs_feature_catalog[k].group == NULL ||
				fs_feature_catalog[k].definition == NULL ||
				fs_feature_index(fs_feature_catalog[k].name) != k)
				okc = 0;
		check(okc, "catalogue complete, names unique");
	}

	/* HTFs not longer than the base stay NULL: a 1h base has only h4 and d1 */
	fs_state_init(st, 60 * step);
	{
		int			allnull = 1;
		int			j;

		for (k = 0; k < 24 * 40; k++)
		{
			FsBar		b = good_bar(t0 + k * 60 * step, k);

			fs_step(st, &b, out);
			for (j = FS_NBASE_FEATURES; j < FS_NBASE_FEATURES + 3 * FS_HTF_FEATS; j++)
				if (!isnan(out[j]))
					allnull = 0;
		}
		check(allnull && !isnan(out[FS_NBASE_FEATURES + 3 * FS_HTF_FEATS]) &&
			  !isnan(out[FS_NBASE_FEATURES + 4 * FS_HTF_FEATS]),
			  "1h base: m5/m15/h1 NULL, h4/d1 computed");
	}

	/*
	 * Offsets and daylight saving: hourly bars on :15 set the origin to 15
	 * min; daily bars at 05:00 UTC, then 04:00 (summer), then 05:00 again,
	 * are accepted and are not gaps; two missing days are one gap.
	 */
	fs_state_init(st, 60 * step);
	{
		FsBar		b = good_bar(t0 + 15 * step, 0);

		check(fs_step(st, &b, out) == FS_OK && fs_state_origin(st) == 15 * step &&
			  fs_bucket_start(t0 + 4 * 60 * step + 14 * step, 240 * step, fs_state_origin(st)) ==
			  t0 + 15 * step &&
			  fs_bucket_start(t0 + 4 * 60 * step + 15 * step, 240 * step, fs_state_origin(st)) ==
			  t0 + 4 * 60 * step + 15 * step,
			  "1h bars on :15: origin 15 min, 4h buckets start at 00:15, 04:15");
	}
	fs_state_init(st, 1440 * step);
	{
		int64_t		day = 1440 * step;
		int64_t		ts[6] = {5 * 60 * step, day + 5 * 60 * step, 2 * day + 4 * 60 * step,
		3 * day + 4 * 60 * step, 4 * day + 5 * 60 * step, 7 * day + 5 * 60 * step};
		int			okd = 1;

		for (k = 0; k < 6; k++)
		{
			FsBar		b = good_bar(t0 + ts[k], k);

			okd &= fs_step(st, &b, out) == FS_OK;
			if (k == 4)
				okd &= fs_state_ngaps(st) == 0;
		}
		check(okd && fs_state_ngaps(st) == 1 && fs_state_origin(st) == 5 * 60 * step,
			  "daily bars at 05:00/04:00 UTC (DST) accepted, not gaps; 3 days apart is a gap");
	}
	{
		FsBar		b = good_bar(-7 * step - 3 * INT64_C(1000000), 0);

		fs_state_init(st, step);
		check(fs_step(st, &b, out) == FS_OK && fs_state_origin(st) == 57 * INT64_C(1000000) &&
			  fs_bucket_start(b.ts, 5 * step, fs_state_origin(st)) == -10 * step + 57 * INT64_C(1000000),
			  "pre-1970 origin and bucket start use a non-negative modulus");
	}

	/* flat series: undefined ratios are NULL, not garbage */
	fs_state_init(st, step);
	{
		FsBar		b;

		for (k = 0; k < 60; k++)
		{
			b.ts = t0 + k * step;
			b.open = b.high = b.low = b.close = 0.1;
			b.volume = 0.1;
			fs_step(st, &b, out);
		}
		check(out[fs_feature_index("rsi_14")] == 0.0 &&
			  isnan(out[fs_feature_index("bb_pctb_20")]) &&
			  out[fs_feature_index("bb_width_20")] == 0.0 &&
			  isnan(out[fs_feature_index("vol_z_20")]) &&
			  out[fs_feature_index("vol_ratio_20")] == 1.0 &&
			  isnan(out[fs_feature_index("pv_corr_10")]) &&
			  isnan(out[fs_feature_index("body_ratio")]) &&
			  isnan(out[fs_feature_index("result")]) &&
			  isnan(out[fs_feature_index("feat_score")]) &&
			  out[fs_feature_index("vol_ret_20")] == 0.0,
			  "flat series: RSI 0, %b/z/corr/candle/ATR ratios NULL");
	}

	free(st);
	free(snap);
	return nfail == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	long		resume_at = -1;
	long		truncate = -1;
	int			step_min = 0;
	int			raw = 0;
	int			k;

	for (k = 1; k < argc; k++)
	{
		if (strcmp(argv[k], "--catalog") == 0)
		{
			print_catalog();
			return 0;
		}
		else if (strcmp(argv[k], "--check-bad") == 0)
			return check_bad();
		else if (strcmp(argv[k], "--raw") == 0)
			raw = 1;
		else if (strcmp(argv[k], "--resume-at") == 0 && k + 1 < argc)
			resume_at = atol(argv[++k]);
		else if (strcmp(argv[k], "--truncate") == 0 && k + 1 < argc)
			truncate = atol(argv[++k]);
		else if (argv[k][0] != '-' && step_min == 0)
			step_min = atoi(argv[k]);
		else
		{
			fprintf(stderr, "usage: kernel_cli STEP_MINUTES [--resume-at K] [--truncate N] [--raw] < bars.csv\n"
					"       kernel_cli --catalog | --check-bad\n");
			return 2;
		}
	}
	if (step_min <= 0)
	{
		fprintf(stderr, "kernel_cli: STEP_MINUTES must be > 0\n");
		return 2;
	}
	return run(step_min, resume_at, truncate, raw);
}
