/*
 * metrics_test.c — unit tests of src/kernel/metrics.c and src/kernel/walkforward.c.
 *
 *   metrics_test CASES    (CASES written by test/unit/metrics_ref.py)
 *
 * (a) classification metrics against sklearn, (b) the
 * walk-forward plan's invariants on many argument combinations, checked
 * against a row-by-row membership model.  TAP-like output, final line
 * "N passed, N failed", exit status 1 on any failure.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "walkforward.h"

static int	npass;
static int	nfail;

static void
report(int ok, const char *fmt,...)
{
	va_list		ap;

	printf("%s %d - ", ok ? "ok" : "not ok", npass + nfail + 1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (ok)
		npass++;
	else
		nfail++;
}

/* NaN matches NaN; otherwise |a - b| <= tol * max(1, |b|) */
static int
near(double a, double b, double tol)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	if (isinf(a) || isinf(b))
		return a == b;
	return fabs(a - b) <= tol * fmax(1.0, fabs(b));
}

/* one named comparison; prints the values when it fails */
static int
cmp(const char *what, double got, double want, double tol, int *all)
{
	if (near(got, want, tol))
		return 1;
	printf("# %s: got %.17g want %.17g (diff %.3g)\n", what, got, want, got - want);
	*all = 0;
	return 0;
}

/* ---------------------------------------------------------------- input */

static int
read_double(FILE *f, double *v)
{
	char		tok[64];
	char	   *end;

	if (fscanf(f, "%63s", tok) != 1)
		return 0;
	*v = strtod(tok, &end);
	return *end == '\0';
}

static int
read_doubles(FILE *f, double *v, long n)
{
	for (long i = 0; i < n; i++)
		if (!read_double(f, &v[i]))
			return 0;
	return 1;
}

static void
check_class_case(FILE *f, const char *name, long n)
{
	double	   *y = malloc(sizeof(double) * (n + 1));
	double	   *p = malloc(sizeof(double) * (n + 1));
	size_t	   *idx = malloc(sizeof(size_t) * (n + 1));
	double		want[5];
	FsClassMetrics m;
	int			all = 1;

	if (!read_doubles(f, y, n) || !read_doubles(f, p, n) || !read_doubles(f, want, 5))
	{
		report(0, "class %s: unreadable case", name);
		exit(1);
	}
	fs_class_metrics(y, p, n, idx, &m);
	cmp("auc", m.auc, want[0], 1e-12, &all);
	cmp("brier", m.brier, want[1], 1e-12, &all);
	cmp("logloss", m.logloss, want[2], 1e-12, &all);
	cmp("accuracy", m.accuracy, want[3], 1e-12, &all);
	cmp("pos_rate", m.pos_rate, want[4], 1e-12, &all);
	cmp("n", (double) m.n, (double) n, 0, &all);
	report(all, "class metrics vs sklearn: %s (n=%ld)", name, n);
	/* fs_auc alone must agree with the struct */
	report(near(fs_auc(y, p, n, idx), m.auc, 0), "fs_auc alone: %s", name);
	free(y);
	free(p);
	free(idx);
}

static void
run_reference_cases(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		kind[16];
	char		name[64];
	long		n;
	int			ncases = 0;

	if (!f)
	{
		report(0, "open reference cases %s", path);
		return;
	}
	while (fscanf(f, "%15s %63s %ld", kind, name, &n) == 3)
	{
		ncases++;
		if (strcmp(kind, "class") == 0)
			check_class_case(f, name, n);
		else
		{
			report(0, "unknown case kind %s", kind);
			break;
		}
	}
	report(feof(f) && ncases > 20, "read all %d reference cases", ncases);
	fclose(f);
}

/* ------------------------------------------------------ hand-made cases */

static void
test_class_hand(void)
{
	/*
	 * y = 0 0 1 1, p = .1 .4 .35 .8: pairs (pos, neg) ranked right are
	 * (.35,.1) (.8,.1) (.8,.4) = 3 of 4, auc 0.75.  Accuracy at p > 0.5:
	 * predictions 0 0 0 1 -> 3 of 4.  p == 0.5 predicts class 0.
	 */
	double		y[] = {0, 0, 1, 1};
	double		p[] = {0.1, 0.4, 0.35, 0.8};
	double		y2[] = {0, 1};
	double		p2[] = {0.5, 0.5};
	size_t		idx[4];
	FsClassMetrics m;
	int			all = 1;

	fs_class_metrics(y, p, 4, idx, &m);
	cmp("auc", m.auc, 0.75, 1e-15, &all);
	cmp("accuracy", m.accuracy, 0.75, 1e-15, &all);
	cmp("brier", m.brier, (0.01 + 0.16 + 0.4225 + 0.04) / 4, 1e-15, &all);
	cmp("pos_rate", m.pos_rate, 0.5, 0, &all);
	report(all && m.n == 4 && m.n_pos == 2, "class metrics: hand example");

	all = 1;
	fs_class_metrics(y2, p2, 2, idx, &m);
	cmp("auc", m.auc, 0.5, 0, &all);
	cmp("accuracy", m.accuracy, 0.5, 0, &all);
	report(all, "class metrics: p == 0.5 predicts 0, tie gives auc 0.5");

	fs_class_metrics(y, p, 0, idx, &m);
	report(m.n == 0 && isnan(m.auc) && isnan(m.brier) && isnan(m.logloss) &&
		   isnan(m.accuracy) && isnan(m.pos_rate), "class metrics: n = 0 is all NaN");
}

static int
mark_set(const FsRangeSet *s, int64_t n, unsigned char *mark, const char *what)
{
	int64_t		prev_end = -1;

	memset(mark, 0, n > 0 ? n : 1);
	if (s->n < 0 || s->n > FS_MAX_RANGES)
	{
		printf("# %s: %d ranges\n", what, s->n);
		return 0;
	}
	for (int i = 0; i < s->n; i++)
	{
		if (s->r[i].start < 0 || s->r[i].end > n || s->r[i].start >= s->r[i].end ||
			s->r[i].start <= prev_end)
		{
			printf("# %s: bad range %d [%lld, %lld)\n", what, i,
				   (long long) s->r[i].start, (long long) s->r[i].end);
			return 0;
		}
		for (int64_t t = s->r[i].start; t < s->r[i].end; t++)
			mark[t] = 1;
		prev_end = s->r[i].end;
	}
	return 1;
}

#define FAIL(...) do { printf("# " __VA_ARGS__); printf("\n"); return 0; } while (0)

/* the early-stopping split of train, checked row by row */
static int
check_es(const FsRangeSet *train, int64_t n, int64_t purge, unsigned char *tr,
		 unsigned char *fit, unsigned char *val, const char *what)
{
	FsRangeSet	f;
	FsRangeSet	v;
	FsSplitStatus st;
	int64_t		ntrain = fs_rangeset_count(train);
	int64_t		want_v;
	int64_t		seen = 0;
	int64_t		vstart = -1;
	int64_t		nfit = 0;

	st = fs_walkforward_es_split(train, 0.1, purge, 1, &f, &v);
	want_v = (int64_t) floor(ntrain * 0.1 + 0.5);
	if (want_v < 1)
		want_v = 1;
	if (!mark_set(train, n, tr, what))
		return 0;
	/* the validation start: the want_v-th train row from the end */
	for (int64_t t = n - 1; t >= 0 && seen < want_v; t--)
		if (tr[t] && ++seen == want_v)
			vstart = t;
	for (int64_t t = 0; t < vstart - purge; t++)
		nfit += tr[t];
	if (want_v >= ntrain || nfit < 1)
	{
		if (st != FS_SPLIT_TOO_FEW_ROWS)
			FAIL("%s: es split of %lld rows should fail, got %d", what,
				 (long long) ntrain, (int) st);
		return 1;
	}
	if (st != FS_SPLIT_OK)
		FAIL("%s: es split failed (%s)", what, fs_split_status_message(st));
	if (!mark_set(&f, n, fit, what) || !mark_set(&v, n, val, what))
		return 0;
	for (int64_t t = 0; t < n; t++)
	{
		int			want_val = tr[t] && t >= vstart;
		int			want_fit = tr[t] && t < vstart - purge;

		if (val[t] != want_val || fit[t] != want_fit)
			FAIL("%s: es row %lld fit %d val %d, want %d %d", what, (long long) t,
				 fit[t], val[t], want_fit, want_val);
	}
	if (fs_rangeset_count(&v) != want_v)
		FAIL("%s: %lld validation rows, want %lld", what,
			 (long long) fs_rangeset_count(&v), (long long) want_v);
	return 1;
}

/*
 * A plan's invariants, with the expected sets rebuilt row by row from the
 * definition in walkforward.h.  Returns 1 if all hold.  *would_fail is set
 * when the definition says some minimum is violated.
 */
static int
check_plan(int64_t n, int folds, double ts, int64_t purge, int64_t embargo,
		   int64_t min_train, int64_t min_test, int *ok_status)
{
	FsSplitPlan *pl = malloc(sizeof(FsSplitPlan));
	unsigned char *tr = malloc(n + 1);
	unsigned char *aux1 = malloc(n + 1);
	unsigned char *aux2 = malloc(n + 1);
	FsSplitStatus st = fs_walkforward_plan(n, folds, ts, purge, embargo,
										   min_train, min_test, pl);
	int64_t		h = (int64_t) llround(n * ts);
	int64_t		dev_end = n - h - purge;
	int			violated = 0;
	int			res = 0;
	char		what[64];

	if (dev_end < 0)
		dev_end = 0;
	if (h < min_test || dev_end < min_train)
		violated = 1;

	/* expected blocks and train sizes, from the definition */
	for (int k = 1; k <= folds && !violated; k++)
	{
		int64_t		s = k * dev_end / (folds + 1);
		int64_t		e = (k + 1) * dev_end / (folds + 1);
		int64_t		cnt = 0;

		if (e - s < min_test)
			violated = 1;
		for (int64_t t = 0; t < s - purge; t++)
		{
			int			emb = 0;

			for (int j = 1; j < k; j++)
			{
				int64_t		te = (j + 1) * dev_end / (folds + 1);

				if (t >= te && t < te + embargo)
					emb = 1;
			}
			cnt += !emb;
		}
		if (cnt < min_train)
			violated = 1;
	}

	*ok_status = (st == FS_SPLIT_OK);
	if (violated)
	{
		if (st != FS_SPLIT_TOO_FEW_ROWS)
		{
			printf("# status %d, want too few rows\n", (int) st);
			goto out;
		}
		if (strstr(pl->detail, "too few rows") != pl->detail ||
			(pl->need_rows > 0 && strstr(pl->detail, "need at least") == NULL))
		{
			printf("# detail \"%s\"\n", pl->detail);
			goto out;
		}
		if (pl->need_rows <= n)
		{
			printf("# need_rows %lld for n %lld\n", (long long) pl->need_rows, (long long) n);
			goto out;
		}
		res = 1;
		goto out;
	}
	if (st != FS_SPLIT_OK)
	{
		printf("# status %d (%s), want ok\n", (int) st, pl->detail);
		goto out;
	}

	/* hold-out and development range */
	if (pl->holdout.start != n - h || pl->holdout.end != n || pl->dev_end != dev_end ||
		pl->dev_end + purge > pl->holdout.start)
	{
		printf("# holdout [%lld, %lld) dev_end %lld\n", (long long) pl->holdout.start,
			   (long long) pl->holdout.end, (long long) pl->dev_end);
		goto out;
	}
	if (!mark_set(&pl->final_train, n, tr, "final") ||
		fs_rangeset_count(&pl->final_train) != dev_end || pl->final_ntrain != dev_end ||
		(dev_end > 0 && !tr[0]) || (dev_end > 0 && !tr[dev_end - 1]))
	{
		printf("# final train\n");
		goto out;
	}
	if (!check_es(&pl->final_train, n, purge, tr, aux1, aux2, "final"))
		goto out;

	for (int k = 1; k <= folds; k++)
	{
		const FsFold *f = &pl->fold[k - 1];
		int64_t		bsize = dev_end / (folds + 1);

		snprintf(what, sizeof(what), "fold %d", k);
		/* test blocks tile [block 1 start, dev_end), each of floor or ceil size */
		if (f->test.start >= f->test.end || f->test.end > dev_end ||
			(k > 1 && f->test.start != pl->fold[k - 2].test.end) ||
			(k == folds && f->test.end != dev_end) ||
			f->test.end - f->test.start < bsize || f->test.end - f->test.start > bsize + 1 ||
			f->test.end - f->test.start < min_test ||
			(k == 1 && (f->test.start < bsize || f->test.start > bsize + 1)))
		{
			printf("# %s: test [%lld, %lld) block %lld\n", what, (long long) f->test.start,
				   (long long) f->test.end, (long long) bsize);
			goto out;
		}
		if (!mark_set(&f->train, n, tr, what) || f->ntrain != fs_rangeset_count(&f->train) ||
			f->ntrain < min_train)
		{
			printf("# %s: train count\n", what);
			goto out;
		}
		for (int64_t t = 0; t < n; t++)
		{
			int			emb = 0;
			int			want;

			for (int j = 1; j < k; j++)
			{
				const FsFold *g = &pl->fold[j - 1];

				if (t >= g->test.end && t < g->test.end + embargo)
					emb = 1;
			}
			want = t + purge < f->test.start && !emb;
			if (tr[t] != want)
			{
				printf("# %s: row %lld in train %d, want %d\n", what, (long long) t, tr[t], want);
				goto out;
			}
			/* no overlap with own test block or the hold-out (implied, but explicit) */
			if (tr[t] && ((t >= f->test.start && t < f->test.end) || t >= pl->holdout.start))
			{
				printf("# %s: row %lld in train and test\n", what, (long long) t);
				goto out;
			}
		}
		if (!check_es(&f->train, n, purge, tr, aux1, aux2, what))
			goto out;
	}
	res = 1;
out:
	free(pl);
	free(tr);
	free(aux1);
	free(aux2);
	return res;
}

static void
test_walkforward(void)
{
	static const int64_t ns[] = {0, 1, 10, 50, 100, 257, 1000, 1234, 4999};
	static const int folds[] = {0, 1, 2, 3, 5, 10, 20};
	static const double tss[] = {0.05, 0.1, 0.2, 1.0 / 3, 0.9};
	static const int64_t purges[] = {0, 1, 12};
	static const int64_t embargos[] = {0, 5, 100};
	static const int64_t mins[][2] = {{1, 1}, {50, 20}};
	int			combos = 0;
	int			bad = 0;
	int			oks = 0;
	FsSplitPlan *pl = malloc(sizeof(FsSplitPlan));
	FsSplitStatus st;

	for (int a = 0; a < (int) (sizeof(ns) / sizeof(ns[0])); a++)
		for (int b = 0; b < (int) (sizeof(folds) / sizeof(folds[0])); b++)
			for (int c = 0; c < (int) (sizeof(tss) / sizeof(tss[0])); c++)
				for (int d = 0; d < 3; d++)
					for (int e = 0; e < 3; e++)
						for (int m = 0; m < 2; m++)
						{
							int			okst;

							combos++;
							if (!check_plan(ns[a], folds[b], tss[c], purges[d], embargos[e],
											mins[m][0], mins[m][1], &okst))
							{
								bad++;
								printf("# ^ n=%lld folds=%d ts=%g purge=%lld embargo=%lld min=%lld/%lld\n",
									   (long long) ns[a], folds[b], tss[c], (long long) purges[d],
									   (long long) embargos[e], (long long) mins[m][0],
									   (long long) mins[m][1]);
								if (bad > 20)
									goto done;
							}
							oks += okst;
						}
done:
	report(bad == 0 && oks > 100, "walk-forward invariants on %d combinations (%d valid plans)",
		   combos, oks);

	/*
	 * n = 1000, 4 folds, test_size .2, purge 5, embargo 3: hold-out [800,
	 * 1000), dev_end 795, blocks start at 0 159 318 477 636 (795 / 5 = 159).
	 * Fold 1 trains on [0, 159 - 5).  Fold 3 trains on [0, 477 - 5) minus
	 * the embargo [318, 321) after test block 1: [0,318) + [321,472).  Fold
	 * 4: [0, 636 - 5) minus [318, 321) and [477, 480), 318 + 156 + 151 rows.
	 */
	st = fs_walkforward_plan(1000, 4, 0.2, 5, 3, 50, 50, pl);
	report(st == FS_SPLIT_OK && pl->holdout.start == 800 && pl->dev_end == 795 &&
		   pl->fold[0].test.start == 159 && pl->fold[0].test.end == 318 &&
		   pl->fold[0].train.n == 1 && pl->fold[0].train.r[0].end == 154 &&
		   pl->fold[2].train.n == 2 && pl->fold[2].train.r[0].end == 318 &&
		   pl->fold[2].train.r[1].start == 321 && pl->fold[2].train.r[1].end == 472 &&
		   pl->fold[3].train.n == 3 && pl->fold[3].train.r[2].start == 480 &&
		   pl->fold[3].train.r[2].end == 631 && pl->fold[3].ntrain == 318 + 156 + 151 &&
		   pl->final_train.n == 1 && pl->final_train.r[0].end == 795,
		   "walk-forward: hand example");

	/* folds = 1: validation is the last half of the development rows */
	st = fs_walkforward_plan(1000, 1, 0.2, 0, 0, 50, 50, pl);
	report(st == FS_SPLIT_OK && pl->fold[0].test.start == 400 && pl->fold[0].test.end == 800 &&
		   pl->fold[0].train.r[0].end == 400, "walk-forward: folds = 1 is one train/validation split");

	st = fs_walkforward_plan(100, 5, 0.2, 12, 0, 200, 50, pl);
	report(st == FS_SPLIT_TOO_FEW_ROWS && pl->need_rows > 100 &&
		   strstr(pl->detail, "need at least") != NULL, "walk-forward: too few rows: %s", pl->detail);
	{
		int64_t		need = pl->need_rows;

		st = fs_walkforward_plan(need, 5, 0.2, 12, 0, 200, 50, pl);
		report(st == FS_SPLIT_OK, "walk-forward: need_rows %lld rows suffice", (long long) need);
		st = fs_walkforward_plan(need - 1, 5, 0.2, 12, 0, 200, 50, pl);
		report(st == FS_SPLIT_TOO_FEW_ROWS, "walk-forward: need_rows - 1 does not");
	}

	report(fs_walkforward_plan(1000, -1, 0.2, 0, 0, 1, 1, pl) == FS_SPLIT_BAD_FOLDS &&
		   fs_walkforward_plan(1000, FS_MAX_FOLDS + 1, 0.2, 0, 0, 1, 1, pl) == FS_SPLIT_BAD_FOLDS &&
		   strcmp(pl->detail, "folds must be between 0 and 20") == 0,
		   "walk-forward: folds out of range");
	report(fs_walkforward_plan(1000, 3, 0, 0, 0, 1, 1, pl) == FS_SPLIT_BAD_TEST_SIZE &&
		   fs_walkforward_plan(1000, 3, 0.95, 0, 0, 1, 1, pl) == FS_SPLIT_BAD_TEST_SIZE &&
		   fs_walkforward_plan(1000, 3, NAN, 0, 0, 1, 1, pl) == FS_SPLIT_BAD_TEST_SIZE &&
		   fs_walkforward_plan(1000, 3, 0.9, 0, 0, 1, 1, pl) == FS_SPLIT_OK,
		   "walk-forward: test_size must be in (0, 0.9]");
	report(fs_walkforward_plan(1000, 3, 0.2, -1, 0, 1, 1, pl) == FS_SPLIT_BAD_GAP &&
		   fs_walkforward_plan(1000, 3, 0.2, 0, -1, 1, 1, pl) == FS_SPLIT_BAD_GAP,
		   "walk-forward: negative purge / embargo");
	report(fs_walkforward_plan(1000, 3, 0.2, 0, 0, 0, 1, pl) == FS_SPLIT_BAD_MIN &&
		   fs_walkforward_plan(1000, 3, 0.2, 0, 0, 1, 0, pl) == FS_SPLIT_BAD_MIN,
		   "walk-forward: minimum sizes must be >= 1");
	{
		FsRangeSet	t;
		FsRangeSet	f;
		FsRangeSet	v;

		t.n = 1;
		t.r[0].start = 0;
		t.r[0].end = 100;
		report(fs_walkforward_es_split(&t, 0, 0, 1, &f, &v) == FS_SPLIT_BAD_FRACTION &&
			   fs_walkforward_es_split(&t, 1, 0, 1, &f, &v) == FS_SPLIT_BAD_FRACTION,
			   "es split: fraction must be in (0, 1)");
		/* 100 rows, 10%, purge 5: valid [90,100), fit [0,85) */
		report(fs_walkforward_es_split(&t, 0.1, 5, 1, &f, &v) == FS_SPLIT_OK &&
			   v.n == 1 && v.r[0].start == 90 && v.r[0].end == 100 &&
			   f.n == 1 && f.r[0].start == 0 && f.r[0].end == 85,
			   "es split: hand example");
		report(fs_walkforward_es_split(&t, 0.1, 5, 86, &f, &v) == FS_SPLIT_TOO_FEW_ROWS,
			   "es split: min_fit enforced");
		for (int i = FS_SPLIT_OK; i <= FS_SPLIT_TOO_FEW_ROWS; i++)
			report(strcmp(fs_split_status_message((FsSplitStatus) i), "unknown split status") != 0,
				   "status message %d: %s", i, fs_split_status_message((FsSplitStatus) i));
	}
	free(pl);
}

int
main(int argc, char **argv)
{
	if (argc < 2)
	{
		fprintf(stderr, "usage: %s CASES   (from test/unit/metrics_ref.py)\n", argv[0]);
		return 2;
	}
	run_reference_cases(argv[1]);
	test_class_hand();
	test_walkforward();
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail > 0;
}
