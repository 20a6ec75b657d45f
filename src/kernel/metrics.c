/*
 * metrics.c — classification metrics and the hold-out backtest.
 *
 * No PostgreSQL headers, no allocation (see metrics.h).  Sums use Neumaier
 * compensation so results agree with numpy/sklearn to ~1e-15 regardless of n.
 */
#include <math.h>
#include <stdlib.h>

#include "metrics.h"

/* Compensated (Neumaier) running sum. */
typedef struct KSum
{
	double		s;
	double		c;
} KSum;

static void
ksum_add(KSum *k, double x)
{
	double		t = k->s + x;

	if (fabs(k->s) >= fabs(x))
		k->c += (k->s - t) + x;
	else
		k->c += (x - t) + k->s;
	k->s = t;
}

static double
ksum_get(const KSum *k)
{
	return k->s + k->c;
}

/*
 * Heapsort of idx[0..n) by key[idx[]] ascending: O(n log n), in place, so the
 * only scratch is the index array itself (qsort has no context argument in
 * C99).  Keys must not be NaN.
 */
static void
sift_down(size_t *idx, const double *key, size_t root, size_t end)
{
	for (;;)
	{
		size_t		child = 2 * root + 1;
		size_t		tmp;

		if (child >= end)
			break;
		if (child + 1 < end && key[idx[child + 1]] > key[idx[child]])
			child++;
		if (key[idx[root]] >= key[idx[child]])
			break;
		tmp = idx[root];
		idx[root] = idx[child];
		idx[child] = tmp;
		root = child;
	}
}

static void
heapsort_idx(size_t *idx, const double *key, size_t n)
{
	size_t		i;

	if (n < 2)
		return;
	for (i = n / 2; i-- > 0;)
		sift_down(idx, key, i, n);
	for (i = n - 1; i > 0; i--)
	{
		size_t		tmp = idx[0];

		idx[0] = idx[i];
		idx[i] = tmp;
		sift_down(idx, key, 0, i);
	}
}

double
fs_auc(const double *y, const double *p, size_t n, size_t *scratch)
{
	double		npos = 0;
	double		nneg = 0;
	double		neg_below = 0;
	double		num = 0;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		if (isnan(p[i]))
			return NAN;
		if (y[i] > 0.5)
			npos++;
		else
			nneg++;
	}
	if (npos == 0 || nneg == 0)
		return NAN;

	for (i = 0; i < n; i++)
		scratch[i] = i;
	heapsort_idx(scratch, p, n);

	/*
	 * Mann-Whitney U over groups of tied scores: a positive beats every
	 * negative scored lower and half of those tied with it.  All terms are
	 * integers or halves, exact in a double up to 2^53, so no rank sums.
	 */
	i = 0;
	while (i < n)
	{
		double		v = p[scratch[i]];
		double		gpos = 0;
		double		gneg = 0;

		for (; i < n && p[scratch[i]] == v; i++)
		{
			if (y[scratch[i]] > 0.5)
				gpos++;
			else
				gneg++;
		}
		num += gpos * neg_below + 0.5 * gpos * gneg;
		neg_below += gneg;
	}
	return num / (npos * nneg);
}

void
fs_class_metrics(const double *y, const double *p, size_t n,
				 size_t *scratch, FsClassMetrics *out)
{
	KSum		brier = {0, 0};
	KSum		logloss = {0, 0};
	int64_t		npos = 0;
	int64_t		correct = 0;
	size_t		i;

	out->n = (int64_t) n;
	if (n == 0)
	{
		out->n_pos = 0;
		out->auc = out->brier = out->logloss = NAN;
		out->accuracy = out->pos_rate = NAN;
		return;
	}

	for (i = 0; i < n; i++)
	{
		int			yi = y[i] > 0.5;
		double		pc = p[i];
		double		d = p[i] - yi;

		/* clip like sklearn.log_loss(eps=1e-15) so a confident miss is finite */
		if (pc < FS_LOGLOSS_EPS)
			pc = FS_LOGLOSS_EPS;
		else if (pc > 1 - FS_LOGLOSS_EPS)
			pc = 1 - FS_LOGLOSS_EPS;

		npos += yi;
		ksum_add(&brier, d * d);
		ksum_add(&logloss, yi ? -log(pc) : -log(1 - pc));
		if ((p[i] > 0.5) == yi)
			correct++;
	}

	out->n_pos = npos;
	out->auc = fs_auc(y, p, n, scratch);
	out->brier = ksum_get(&brier) / n;
	out->logloss = ksum_get(&logloss) / n;
	out->accuracy = (double) correct / n;
	out->pos_rate = (double) npos / n;
}

static int
side_of(double p, double threshold)
{
	/* the p > 0.5 / p < 0.5 guards make threshold 0 mean sign(p - 0.5) */
	if (p > 0.5 && p >= 0.5 + threshold)
		return 1;
	if (p < 0.5 && p <= 0.5 - threshold)
		return -1;
	return 0;					/* also NaN */
}

static double
net_return(const double *prob_up, const signed char *sides, const double *fwd_ret, size_t i,
		   double threshold, double fee, int horizon, int *prev_side)
{
	int			side = sides ? sides[i] : side_of(prob_up[i], threshold);
	double		r = -abs(side - *prev_side) * fee;

	/* flat rows skip the product so a missing fwd_ret there costs nothing */
	if (side != 0)
		r += side * fwd_ret[i] / horizon;
	*prev_side = side;
	return r;
}

static const char *backtest(const double *prob_up, const signed char *sides,
						   const double *fwd_ret, size_t n, double threshold, double fee_bps,
						   int horizon, double bars_per_year, FsBacktest *out);

const char *
fs_backtest(const double *prob_up, const double *fwd_ret, size_t n,
			double threshold, double fee_bps, int horizon,
			double bars_per_year, FsBacktest *out)
{
	return backtest(prob_up, NULL, fwd_ret, n, threshold, fee_bps, horizon, bars_per_year, out);
}

const char *
fs_backtest_sides(const signed char *sides, const double *fwd_ret, size_t n,
				  double fee_bps, int horizon, double bars_per_year, FsBacktest *out)
{
	for (size_t i = 0; i < n; i++)
		if (sides[i] < -1 || sides[i] > 1)
			return "every side must be -1, 0 or 1";
	return backtest(NULL, sides, fwd_ret, n, 0, fee_bps, horizon, bars_per_year, out);
}

static const char *
backtest(const double *prob_up, const signed char *sides, const double *fwd_ret, size_t n,
		 double threshold, double fee_bps, int horizon, double bars_per_year, FsBacktest *out)
{
	double		fee = fee_bps / 1e4;
	KSum		sum = {0, 0};
	KSum		fees = {0, 0};
	KSum		gain = {0, 0};
	KSum		loss = {0, 0};
	KSum		sq = {0, 0};
	KSum		down = {0, 0};
	double		cum = 0;
	double		peak = 0;
	double		maxdd = 0;
	double		mean;
	double		sd;
	double		dd;
	int64_t		held = 0;
	int64_t		wins = 0;
	int64_t		trades = 0;
	int			prev = 0;
	size_t		i;

	if (!(threshold >= 0 && threshold <= 0.5))
		return "threshold must be between 0 and 0.5";
	if (!(fee_bps >= 0 && isfinite(fee_bps)))
		return "fee_bps must be a finite number >= 0";
	if (horizon < 1)
		return "horizon must be at least 1";
	if (!(bars_per_year > 0 && isfinite(bars_per_year)))
		return "bars_per_year must be a finite number > 0";

	/* pass 1: sums, drawdown, counts */
	for (i = 0; i < n; i++)
	{
		int			before = prev;
		double		r = net_return(prob_up, sides, fwd_ret, i, threshold, fee, horizon, &prev);

		ksum_add(&sum, r);
		if (prev != before)
			ksum_add(&fees, abs(prev - before) * fee);
		if (r > 0)
			ksum_add(&gain, r);
		else if (r < 0)
			ksum_add(&loss, r);
		if (r < 0)
			ksum_add(&down, r * r);
		if (prev != 0)
		{
			held++;
			if (r > 0)
				wins++;
			if (prev != before)
				trades++;
		}
		cum += r;
		if (cum > peak)
			peak = cum;
		if (peak - cum > maxdd)
			maxdd = peak - cum;
	}

	out->n = (int64_t) n;
	out->pnl = ksum_get(&sum);
	out->fees = ksum_get(&fees);
	out->max_drawdown = maxdd;
	out->trades = trades;
	if (n == 0)
	{
		out->mean = out->ann_return = out->sharpe = out->sortino = NAN;
		out->calmar = out->profit_factor = out->win_rate = out->exposure = NAN;
		return NULL;
	}

	mean = out->pnl / n;

	/* pass 2: two-pass variance (as numpy), recomputing the rows */
	prev = 0;
	for (i = 0; i < n; i++)
	{
		double		d = net_return(prob_up, sides, fwd_ret, i, threshold, fee, horizon, &prev) - mean;

		ksum_add(&sq, d * d);
	}
	sd = n > 1 ? sqrt(ksum_get(&sq) / (n - 1)) : 0;
	dd = sqrt(ksum_get(&down) / n);

	out->mean = mean;
	out->ann_return = mean * bars_per_year;
	out->sharpe = sd > 0 ? mean / sd * sqrt(bars_per_year) : 0;
	if (dd > 0)
		out->sortino = mean / dd * sqrt(bars_per_year);
	else
		out->sortino = mean == 0 ? 0 : NAN;
	out->calmar = maxdd > 0 ? out->ann_return / maxdd : 0;
	out->profit_factor = ksum_get(&loss) < 0 ? ksum_get(&gain) / -ksum_get(&loss) : NAN;
	out->win_rate = held > 0 ? (double) wins / held : NAN;
	out->exposure = (double) held / n;
	return NULL;
}
