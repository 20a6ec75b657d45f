/*
 * quantreg.c — linear quantile regression by iteratively reweighted least
 * squares, as statsmodels' QuantReg fits it: each iteration solves weighted
 * least squares with weights q / |r| (r > 0) or (1 - q) / |r| (r < 0), the
 * residuals clamped away from 0.  Features are standardised on the rows
 * fitted (the normal equations of raw ATR-sized and unit-sized columns
 * together are badly conditioned) and the coefficients mapped back; a
 * relative ridge of 1e-9 keeps identical columns solvable.
 */
#include "quantreg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RESID_FLOOR 1e-6
#define COEF_TOL 1e-6

/* Solves A z = r in place (A symmetric positive definite, k x k) by Cholesky; -1 if not. */
static int
cholesky_solve(double *A, double *r, int k)
{
	for (int j = 0; j < k; j++)
	{
		double		d = A[j * k + j];

		for (int m = 0; m < j; m++)
			d -= A[j * k + m] * A[j * k + m];
		if (!(d > 0))
			return -1;
		d = sqrt(d);
		A[j * k + j] = d;
		for (int i = j + 1; i < k; i++)
		{
			double		s = A[i * k + j];

			for (int m = 0; m < j; m++)
				s -= A[i * k + m] * A[j * k + m];
			A[i * k + j] = s / d;
		}
	}
	for (int i = 0; i < k; i++)
	{
		for (int m = 0; m < i; m++)
			r[i] -= A[i * k + m] * r[m];
		r[i] /= A[i * k + i];
	}
	for (int i = k - 1; i >= 0; i--)
	{
		for (int m = i + 1; m < k; m++)
			r[i] -= A[m * k + i] * r[m];
		r[i] /= A[i * k + i];
	}
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

int64_t
fs_quantreg_work_size(int64_t n, int p)
{
	int64_t		k = p + 1;

	return 2 * (n > 0 ? n : 1) + 2 * p + 4 * k + k * k;
}

int
fs_quantreg_fit(const float *x, const float *y, int64_t n, int p, double q, int max_iter,
				double *b, double *work, void (*interrupt) (void))
{
	int			k = p + 1;
	double	   *w = work;		/* n weights */
	double	   *sorted = w + (n > 0 ? n : 1);	/* n */
	double	   *mean = sorted + (n > 0 ? n : 1);
	double	   *sd = mean + p;
	double	   *z = sd + p;		/* standardised coefficients */
	double	   *zprev = z + k;
	double	   *r = zprev + k;
	double	   *row = r + k;
	double	   *A = row + k;
	int			it;
	int			done = -1;

	/* the constant fit: the empirical quantile */
	for (int64_t i = 0; i < n; i++)
		sorted[i] = y[i];
	qsort(sorted, n, sizeof(double), cmp_double);
	{
		int64_t		at = (int64_t) floor(q * n);

		b[0] = n > 0 ? sorted[at < n ? at : n - 1] : 0;
	}
	for (int j = 0; j < p; j++)
	{
		b[1 + j] = 0;
		mean[j] = sd[j] = 0;
	}
	for (int64_t i = 0; i < n; i++)
		for (int j = 0; j < p; j++)
			mean[j] += x[i * p + j];
	for (int j = 0; j < p; j++)
		mean[j] /= n;
	for (int64_t i = 0; i < n; i++)
		for (int j = 0; j < p; j++)
		{
			double		d = x[i * p + j] - mean[j];

			sd[j] += d * d;
		}
	for (int j = 0; j < p; j++)
		sd[j] = sd[j] > 0 ? sqrt(sd[j] / n) : 1;

	for (int64_t i = 0; i < n; i++)
		w[i] = 1;				/* iteration 0: ordinary least squares */
	for (it = 0; it <= max_iter; it++)
	{
		if (interrupt)
			interrupt();
		memset(A, 0, sizeof(double) * k * k);
		memset(r, 0, sizeof(double) * k);
		for (int64_t i = 0; i < n; i++)
		{
			row[0] = 1;
			for (int j = 0; j < p; j++)
				row[1 + j] = (x[i * p + j] - mean[j]) / sd[j];
			for (int a = 0; a < k; a++)
			{
				double		wa = w[i] * row[a];

				r[a] += wa * y[i];
				for (int c = 0; c <= a; c++)
					A[a * k + c] += wa * row[c];
			}
		}
		for (int a = 0; a < k; a++)
			for (int c = a + 1; c < k; c++)
				A[a * k + c] = A[c * k + a];
		/* a relative ridge of 1e-9 on the slopes: identical columns (pinv's job in statsmodels) */
		for (int a = 1; a < k; a++)
			A[a * k + a] += 1e-9 * A[a * k + a] + 1e-300;
		if (cholesky_solve(A, r, k) != 0)
			break;
		memcpy(z, r, sizeof(double) * k);
		if (it > 0)
		{
			double		delta = 0;

			for (int a = 0; a < k; a++)
				delta = fmax(delta, fabs(z[a] - zprev[a]));
			done = it;
			if (delta < COEF_TOL)
				break;
		}
		memcpy(zprev, z, sizeof(double) * k);
		for (int64_t i = 0; i < n; i++)
		{
			double		f = z[0];
			double		res;

			for (int j = 0; j < p; j++)
				f += z[1 + j] * (x[i * p + j] - mean[j]) / sd[j];
			res = y[i] - f;
			if (fabs(res) < RESID_FLOOR)
				res = res < 0 ? -RESID_FLOOR : RESID_FLOOR;
			w[i] = (res < 0 ? 1 - q : q) / fabs(res);
		}
	}
	if (done >= 0)
	{
		/* back to raw features */
		b[0] = z[0];
		for (int j = 0; j < p; j++)
		{
			b[1 + j] = z[1 + j] / sd[j];
			b[0] -= z[1 + j] * mean[j] / sd[j];
		}
	}
	return done;
}

double
fs_quantreg_predict(const double *b, int p, const float *x)
{
	double		f = b[0];

	for (int j = 0; j < p; j++)
		f += b[1 + j] * x[j];
	return f;
}

double
fs_pinball_loss(const float *y, const double *pred, int64_t n, double q)
{
	double		s = 0;

	for (int64_t i = 0; i < n; i++)
	{
		double		r = y[i] - pred[i];

		s += r >= 0 ? q * r : (q - 1) * r;
	}
	return n > 0 ? s / n : NAN;
}
