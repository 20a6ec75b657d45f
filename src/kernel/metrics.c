/*
 * metrics.c — classification metrics.
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
