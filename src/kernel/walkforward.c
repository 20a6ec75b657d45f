/*
 * walkforward.c — hold-out / purged walk-forward split plans (see
 * walkforward.h for the layout and why each gap exists).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "walkforward.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const char *
fs_split_status_message(FsSplitStatus st)
{
	switch (st)
	{
		case FS_SPLIT_OK:
			return "ok";
		case FS_SPLIT_BAD_FOLDS:
			return "folds must be between 0 and " STR(FS_MAX_FOLDS);
		case FS_SPLIT_BAD_TEST_SIZE:
			return "test_size must be greater than 0 and at most 0.9";
		case FS_SPLIT_BAD_GAP:
			return "purge and embargo must not be negative";
		case FS_SPLIT_BAD_MIN:
			return "the minimum train and test sizes must be at least 1 row";
		case FS_SPLIT_BAD_FRACTION:
			return "the early-stopping fraction must be greater than 0 and less than 1";
		case FS_SPLIT_TOO_FEW_ROWS:
			return "too few rows for this split";
	}
	return "unknown split status";
}

int64_t
fs_rangeset_count(const FsRangeSet *s)
{
	int64_t		c = 0;

	for (int i = 0; i < s->n; i++)
		c += s->r[i].end - s->r[i].start;
	return c;
}

static void
rs_single(FsRangeSet *s, int64_t lo, int64_t hi)
{
	s->n = 0;
	if (hi > lo)
	{
		s->r[0].start = lo;
		s->r[0].end = hi;
		s->n = 1;
	}
}

/* s := s intersected with [lo, hi) */
static void
rs_clip(FsRangeSet *s, int64_t lo, int64_t hi)
{
	int			m = 0;

	for (int i = 0; i < s->n; i++)
	{
		int64_t		a = s->r[i].start > lo ? s->r[i].start : lo;
		int64_t		b = s->r[i].end < hi ? s->r[i].end : hi;

		if (b > a)
		{
			s->r[m].start = a;
			s->r[m].end = b;
			m++;
		}
	}
	s->n = m;
}

/*
 * s := s minus [lo, hi).  Splits at most one range (the sets are disjoint
 * and ascending); returns 0 if that would overflow FS_MAX_RANGES, which the
 * plan's arithmetic rules out.
 */
static int
rs_subtract(FsRangeSet *s, int64_t lo, int64_t hi)
{
	FsRangeSet	t;

	if (hi <= lo)
		return 1;
	t.n = 0;
	for (int i = 0; i < s->n; i++)
	{
		FsRange		r = s->r[i];

		if (r.end <= lo || r.start >= hi)
		{
			if (t.n >= FS_MAX_RANGES)
				return 0;
			t.r[t.n++] = r;
			continue;
		}
		if (r.start < lo)
		{
			if (t.n >= FS_MAX_RANGES)
				return 0;
			t.r[t.n].start = r.start;
			t.r[t.n].end = lo;
			t.n++;
		}
		if (r.end > hi)
		{
			if (t.n >= FS_MAX_RANGES)
				return 0;
			t.r[t.n].start = hi;
			t.r[t.n].end = r.end;
			t.n++;
		}
	}
	*s = t;
	return 1;
}

/* start of block b of folds+1 equal blocks over [0, dev_end) */
static int64_t
block_start(int64_t dev_end, int folds, int b)
{
	return (int64_t) b * dev_end / (folds + 1);
}

/*
 * The plan for exactly n rows; arguments already validated.  Fills detail
 * (without the "need at least" part) on failure.
 */
static FsSplitStatus
plan_rows(int64_t n, FsSplitPlan *p)
{
	int64_t		h = (int64_t) floor(n * p->test_size + 0.5);
	int64_t		dev_end;

	p->holdout.start = n - h;
	p->holdout.end = n;
	if (h < p->min_test)
	{
		snprintf(p->detail, sizeof(p->detail),
				 "the hold-out has %lld rows, fewer than the minimum %lld",
				 (long long) h, (long long) p->min_test);
		return FS_SPLIT_TOO_FEW_ROWS;
	}
	dev_end = n - h - p->purge;
	if (dev_end < 0)
		dev_end = 0;
	p->dev_end = dev_end;

	for (int k = 1; k <= p->folds; k++)
	{
		FsFold	   *f = &p->fold[k - 1];
		int64_t		ts = block_start(dev_end, p->folds, k);

		f->test.start = ts;
		f->test.end = block_start(dev_end, p->folds, k + 1);
		if (f->test.end - f->test.start < p->min_test)
		{
			snprintf(p->detail, sizeof(p->detail),
					 "fold %d tests on %lld rows, fewer than the minimum %lld",
					 k, (long long) (f->test.end - f->test.start),
					 (long long) p->min_test);
			return FS_SPLIT_TOO_FEW_ROWS;
		}
		rs_single(&f->train, 0, ts - p->purge);
		for (int j = 1; j < k; j++)
		{
			int64_t		te = block_start(dev_end, p->folds, j + 1);

			if (!rs_subtract(&f->train, te, te + p->embargo))
				return FS_SPLIT_TOO_FEW_ROWS;	/* unreachable */
		}
		f->ntrain = fs_rangeset_count(&f->train);
		if (f->ntrain < p->min_train)
		{
			snprintf(p->detail, sizeof(p->detail),
					 "fold %d trains on %lld rows, fewer than the minimum %lld",
					 k, (long long) f->ntrain, (long long) p->min_train);
			return FS_SPLIT_TOO_FEW_ROWS;
		}
	}

	rs_single(&p->final_train, 0, dev_end);
	p->final_ntrain = dev_end;
	if (dev_end < p->min_train)
	{
		snprintf(p->detail, sizeof(p->detail),
				 "the final model trains on %lld rows, fewer than the minimum %lld",
				 (long long) dev_end, (long long) p->min_train);
		return FS_SPLIT_TOO_FEW_ROWS;
	}
	p->detail[0] = '\0';
	return FS_SPLIT_OK;
}

/*
 * Smallest row count > n for which the plan works: doubling, then bisection.
 * Sizes grow with n (up to the rounding of block edges), so this is the
 * boundary in practice; whatever it returns is a count that works.
 */
static int64_t
find_need_rows(int64_t n, const FsSplitPlan *args)
{
	FsSplitPlan work = *args;
	FsSplitPlan *tmp = &work;
	int64_t		lo = n < 0 ? 0 : n;		/* known to fail */
	int64_t		hi = lo < 64 ? 64 : 2 * lo;

	for (;;)
	{
		if (hi > (INT64_MAX >> 2))
			return -1;
		if (plan_rows(hi, tmp) == FS_SPLIT_OK)
			break;
		lo = hi;
		hi *= 2;
	}
	while (hi - lo > 1)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (plan_rows(mid, tmp) == FS_SPLIT_OK)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

FsSplitStatus
fs_walkforward_plan(int64_t n, int folds, double test_size,
					int64_t purge, int64_t embargo,
					int64_t min_train, int64_t min_test,
					FsSplitPlan *out)
{
	FsSplitStatus st = FS_SPLIT_OK;
	char		detail[sizeof(out->detail)];

	memset(out, 0, sizeof(*out));
	out->nrows = n;
	out->folds = folds;
	out->test_size = test_size;
	out->purge = purge;
	out->embargo = embargo;
	out->min_train = min_train;
	out->min_test = min_test;

	if (folds < 0 || folds > FS_MAX_FOLDS)
		st = FS_SPLIT_BAD_FOLDS;
	else if (!(test_size > 0 && test_size <= 0.9))
		st = FS_SPLIT_BAD_TEST_SIZE;
	else if (purge < 0 || embargo < 0)
		st = FS_SPLIT_BAD_GAP;
	else if (min_train < 1 || min_test < 1)
		st = FS_SPLIT_BAD_MIN;
	if (st != FS_SPLIT_OK)
	{
		snprintf(out->detail, sizeof(out->detail), "%s", fs_split_status_message(st));
		return st;
	}

	st = plan_rows(n < 0 ? 0 : n, out);
	if (st == FS_SPLIT_TOO_FEW_ROWS)
	{
		/* the search reuses plan_rows on a copy; keep this failure's text */
		memcpy(detail, out->detail, sizeof(detail));
		out->need_rows = find_need_rows(n, out);
		if (out->need_rows > 0)
			snprintf(out->detail, sizeof(out->detail),
					 "too few rows: %s; need at least %lld rows (have %lld) for %d folds",
					 detail, (long long) out->need_rows, (long long) n, folds);
		else
			snprintf(out->detail, sizeof(out->detail), "too few rows: %s", detail);
	}
	return st;
}

FsSplitStatus
fs_walkforward_es_split(const FsRangeSet *train, double valid_frac,
						int64_t purge, int64_t min_fit,
						FsRangeSet *fit, FsRangeSet *valid)
{
	int64_t		ntrain = fs_rangeset_count(train);
	int64_t		nvalid;
	int64_t		left;
	int64_t		vstart = 0;

	fit->n = 0;
	valid->n = 0;
	if (!(valid_frac > 0 && valid_frac < 1))
		return FS_SPLIT_BAD_FRACTION;
	if (purge < 0)
		return FS_SPLIT_BAD_GAP;
	if (ntrain < 2)
		return FS_SPLIT_TOO_FEW_ROWS;

	nvalid = (int64_t) floor(ntrain * valid_frac + 0.5);
	if (nvalid < 1)
		nvalid = 1;
	if (nvalid >= ntrain)
		return FS_SPLIT_TOO_FEW_ROWS;

	/* first validation row: walk back nvalid rows through the ranges */
	left = nvalid;
	for (int i = train->n - 1; i >= 0; i--)
	{
		int64_t		len = train->r[i].end - train->r[i].start;

		if (left <= len)
		{
			vstart = train->r[i].end - left;
			break;
		}
		left -= len;
	}

	*valid = *train;
	rs_clip(valid, vstart, INT64_MAX);
	*fit = *train;
	rs_clip(fit, 0, vstart - purge);
	if (fs_rangeset_count(fit) < (min_fit > 1 ? min_fit : 1))
	{
		fit->n = 0;
		valid->n = 0;
		return FS_SPLIT_TOO_FEW_ROWS;
	}
	return FS_SPLIT_OK;
}
