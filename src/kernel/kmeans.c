/*
 * kmeans.c — k-means++ seeding, restarts and Lloyd iterations (see kmeans.h).
 */
#include "kmeans.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: a small, well-mixed generator; one stream per call for reproducibility. */
static uint64_t
next_u64(uint64_t *s)
{
	uint64_t	z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static double
next_unit(uint64_t *s)
{
	return (next_u64(s) >> 11) * (1.0 / 9007199254740992.0);	/* [0, 1) */
}

static double
dist2(const double *a, const double *b, size_t d)
{
	double		s = 0;

	for (size_t j = 0; j < d; j++)
	{
		double		t = a[j] - b[j];

		s += t * t;
	}
	return s;
}

int
fs_kmeans_nearest(const double *centers, int k, size_t d, const double *row, double *out_d2)
{
	int			best = 0;
	double		bd = DBL_MAX;

	for (int c = 0; c < k; c++)
	{
		double		t = dist2(centers + (size_t) c * d, row, d);

		if (t < bd)
		{
			bd = t;
			best = c;
		}
	}
	if (out_d2)
		*out_d2 = bd;
	return best;
}

/* Index i with cumulative weight crossing r (weights w, total sum). */
static size_t
pick_weighted(const double *w, size_t n, double r)
{
	double		acc = 0;

	for (size_t i = 0; i < n; i++)
	{
		acc += w[i];
		if (acc > r)
			return i;
	}
	return n - 1;
}

/*
 * Greedy k-means++: each new centre is the best (lowest resulting potential)
 * of 2 + ln k candidates drawn proportionally to the squared distance.
 */
static FsKmStatus
seed_plusplus(const double *x, size_t n, size_t d, int k, uint64_t *rng, double *centers,
			  double *closest, const FsKmParams *p)
{
	int			trials = 2 + (int) log((double) k);
	size_t		first = (size_t) (next_unit(rng) * n);
	double		pot = 0;

	if (first >= n)
		first = n - 1;
	memcpy(centers, x + first * d, sizeof(double) * d);
	for (size_t i = 0; i < n; i++)
	{
		closest[i] = dist2(x + i * d, centers, d);
		pot += closest[i];
	}
	for (int c = 1; c < k; c++)
	{
		size_t		best = 0;
		double		best_pot = DBL_MAX;

		if (p->interrupted && p->interrupted(p->arg))
			return FS_KM_STOPPED;
		for (int t = 0; t < trials; t++)
		{
			size_t		cand = pot > 0 ? pick_weighted(closest, n, next_unit(rng) * pot)
				: (size_t) (next_unit(rng) * n) % n;
			double		cp = 0;

			for (size_t i = 0; i < n; i++)
			{
				double		dd = dist2(x + i * d, x + cand * d, d);

				cp += dd < closest[i] ? dd : closest[i];
			}
			if (cp < best_pot)
			{
				best_pot = cp;
				best = cand;
			}
		}
		memcpy(centers + (size_t) c * d, x + best * d, sizeof(double) * d);
		pot = 0;
		for (size_t i = 0; i < n; i++)
		{
			double		dd = dist2(x + i * d, x + best * d, d);

			if (dd < closest[i])
				closest[i] = dd;
			pot += closest[i];
		}
	}
	return FS_KM_OK;
}

/*
 * Hartigan's single-point moves from a Lloyd fixed point: moving x from A to
 * B lowers the inertia when n_B/(n_B+1)·|x-c_B|² < n_A/(n_A-1)·|x-c_A|².
 * Lloyd cannot see these moves (its centres lag), so the result is a better
 * local optimum from the same seeding.  Centres are updated incrementally.
 */
static FsKmStatus
hartigan(const double *x, size_t n, size_t d, int k, int max_pass, double *centers,
		 int *labels, size_t *counts, const FsKmParams *p)
{
	memset(counts, 0, sizeof(size_t) * k);
	for (size_t i = 0; i < n; i++)
		counts[labels[i]]++;
	for (int pass = 0; pass < max_pass; pass++)
	{
		size_t		moved = 0;

		if (p->interrupted && p->interrupted(p->arg))
			return FS_KM_STOPPED;
		for (size_t i = 0; i < n; i++)
		{
			const double *xi = x + i * d;
			int			a = labels[i],
						best = a;
			double		cost_out,
						best_in = DBL_MAX;

			if (counts[a] <= 1)
				continue;
			cost_out = (double) counts[a] / (counts[a] - 1) * dist2(xi, centers + (size_t) a * d, d);
			for (int b = 0; b < k; b++)
			{
				double		cost_in;

				if (b == a)
					continue;
				cost_in = (double) counts[b] / (counts[b] + 1) * dist2(xi, centers + (size_t) b * d, d);
				if (cost_in < best_in)
				{
					best_in = cost_in;
					best = b;
				}
			}
			if (best != a && best_in < cost_out * (1 - 1e-12))
			{
				double	   *ca = centers + (size_t) a * d,
						   *cb = centers + (size_t) best * d;

				for (size_t j = 0; j < d; j++)
				{
					ca[j] = (ca[j] * counts[a] - xi[j]) / (counts[a] - 1);
					cb[j] = (cb[j] * counts[best] + xi[j]) / (counts[best] + 1);
				}
				counts[a]--;
				counts[best]++;
				labels[i] = best;
				moved++;
			}
		}
		if (!moved)
			break;
	}
	return FS_KM_OK;
}

/* Lloyd iterations from the given centres, then Hartigan moves; labels and inertia out. */
static FsKmStatus
lloyd(const double *x, size_t n, size_t d, int k, int max_iter, double *centers, int *labels,
	  double *sums, size_t *counts, double *d2, FsKmResult *res, const FsKmParams *p)
{
	int			it;
	int			changed = 1;

	for (size_t i = 0; i < n; i++)
		labels[i] = -1;
	for (it = 0; it < max_iter; it++)
	{
		if (p->interrupted && p->interrupted(p->arg))
			return FS_KM_STOPPED;
		changed = 0;
		for (size_t i = 0; i < n; i++)
		{
			int			c = fs_kmeans_nearest(centers, k, d, x + i * d, &d2[i]);

			if (c != labels[i])
			{
				labels[i] = c;
				changed++;
			}
		}
		if (!changed)
			break;
		memset(sums, 0, sizeof(double) * k * d);
		memset(counts, 0, sizeof(size_t) * k);
		for (size_t i = 0; i < n; i++)
		{
			double	   *s = sums + (size_t) labels[i] * d;

			counts[labels[i]]++;
			for (size_t j = 0; j < d; j++)
				s[j] += x[i * d + j];
		}
		for (int c = 0; c < k; c++)
		{
			if (counts[c] == 0)
			{
				/* Empty cluster: move it to the point farthest from its centre. */
				size_t		far = 0;

				for (size_t i = 1; i < n; i++)
					if (d2[i] > d2[far])
						far = i;
				memcpy(centers + (size_t) c * d, x + far * d, sizeof(double) * d);
				d2[far] = 0;
				continue;
			}
			for (size_t j = 0; j < d; j++)
				centers[(size_t) c * d + j] = sums[(size_t) c * d + j] / counts[c];
		}
	}
	{
		FsKmStatus	st = hartigan(x, n, d, k, max_iter, centers, labels, counts, p);

		if (st != FS_KM_OK)
			return st;
	}
	/* Recompute centres exactly (no drift from the incremental updates), then the inertia. */
	memset(sums, 0, sizeof(double) * k * d);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < d; j++)
			sums[(size_t) labels[i] * d + j] += x[i * d + j];
	for (int c = 0; c < k; c++)
		if (counts[c] > 0)
			for (size_t j = 0; j < d; j++)
				centers[(size_t) c * d + j] = sums[(size_t) c * d + j] / counts[c];
	res->inertia = 0;
	for (size_t i = 0; i < n; i++)
		res->inertia += dist2(x + i * d, centers + (size_t) labels[i] * d, d);
	res->iterations = it < max_iter ? it + 1 : max_iter;
	res->converged = !changed;
	return FS_KM_OK;
}

FsKmStatus
fs_kmeans(const double *x, size_t n, size_t d, const FsKmParams *p,
		  double *centers, int *labels, FsKmResult *res)
{
	int			k = p->k;
	uint64_t	rng = p->seed;
	double	   *cur = NULL,
			   *sums = NULL,
			   *d2 = NULL,
			   *closest = NULL;
	int		   *lab = NULL;
	size_t	   *counts = NULL;
	FsKmStatus	st = FS_KM_OK;

	if (k < 2 || (size_t) k > n || d < 1 || p->n_init < 1 || p->max_iter < 1)
		return FS_KM_BAD_ARGS;
	cur = malloc(sizeof(double) * k * d);
	sums = malloc(sizeof(double) * k * d);
	d2 = malloc(sizeof(double) * n);
	closest = malloc(sizeof(double) * n);
	lab = malloc(sizeof(int) * n);
	counts = malloc(sizeof(size_t) * k);
	if (!cur || !sums || !d2 || !closest || !lab || !counts)
	{
		st = FS_KM_NOMEM;
		goto done;
	}
	res->inertia = DBL_MAX;
	for (int r = 0; r < p->n_init; r++)
	{
		FsKmResult	one;

		st = seed_plusplus(x, n, d, k, &rng, cur, closest, p);
		if (st != FS_KM_OK)
			goto done;
		st = lloyd(x, n, d, k, p->max_iter, cur, lab, sums, counts, d2, &one, p);
		if (st != FS_KM_OK)
			goto done;
		if (one.inertia < res->inertia)
		{
			*res = one;
			memcpy(centers, cur, sizeof(double) * k * d);
			if (labels)
				memcpy(labels, lab, sizeof(int) * n);
		}
	}
done:
	free(cur);
	free(sums);
	free(d2);
	free(closest);
	free(lab);
	free(counts);
	return st;
}

double
fs_kmeans_silhouette(const double *x, size_t n, size_t d, const int *labels, int k,
					 const size_t *idx, size_t m)
{
	double	   *sum = calloc(k, sizeof(double));
	size_t	   *cnt = calloc(k, sizeof(size_t));
	double		total = 0;
	size_t		used = 0;
	int			populated = 0;

	if (!sum || !cnt)
	{
		free(sum);
		free(cnt);
		return NAN;
	}
	for (size_t i = 0; i < n; i++)
		cnt[labels[i]]++;
	for (int c = 0; c < k; c++)
		populated += cnt[c] > 0;
	if (populated < 2)
	{
		free(sum);
		free(cnt);
		return NAN;
	}
	for (size_t s = 0; s < m; s++)
	{
		size_t		i = idx[s];
		int			own = labels[i];
		double		a,
					b = DBL_MAX;

		memset(sum, 0, sizeof(double) * k);
		for (size_t j = 0; j < n; j++)
			if (j != i)
				sum[labels[j]] += sqrt(dist2(x + i * d, x + j * d, d));
		if (cnt[own] <= 1)
		{
			used++;				/* a singleton scores 0, as scikit-learn does */
			continue;
		}
		a = sum[own] / (cnt[own] - 1);
		for (int c = 0; c < k; c++)
			if (c != own && cnt[c] > 0 && sum[c] / cnt[c] < b)
				b = sum[c] / cnt[c];
		total += (b - a) / (a > b ? a : b);
		used++;
	}
	free(sum);
	free(cnt);
	return used ? total / used : NAN;
}
