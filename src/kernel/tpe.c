/*
 * tpe.c — TPE sampler, median pruner, deflated Sharpe ratio (tpe.h).
 */
#include "tpe.h"

#include <math.h>
#include <string.h>

#define LOG_SQRT_2PI 0.91893853320467274178
#define EULER_GAMMA 0.57721566490153286061
#define SQRT2 1.41421356237309504880
#define PI 3.14159265358979323846
#define E_ 2.71828182845904523536

/* ---------------------------------------------------------------- random numbers */

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

void
fs_rng_seed(FsRng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

double
fs_rng_uniform(FsRng *r)
{
	uint64_t   *s = r->s;
	uint64_t	out = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return (double) (out >> 11) * 0x1.0p-53;
}

/* ---------------------------------------------------------------- normal distribution */

double
fs_norm_cdf(double z)
{
	return 0.5 * erfc(-z / SQRT2);
}

/* log Phi(z), accurate in the left tail */
static double
log_ndtr(double z)
{
	if (z > -30)
		return log(fs_norm_cdf(z));
	/* Mills ratio asymptotics */
	return -0.5 * z * z - log(-z) - LOG_SQRT_2PI + log1p(-1 / (z * z));
}

/* Acklam's rational approximation refined by one Halley step. */
double
fs_norm_ppf(double p)
{
	static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
	1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
	static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
	6.680131188771972e+01, -1.328068155288572e+01};
	static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
	-2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
	static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
	3.754408661907416e+00};
	double		q,
				r,
				x,
				e,
				u;

	if (!(p > 0))
		return p == 0 ? -INFINITY : NAN;
	if (!(p < 1))
		return p == 1 ? INFINITY : NAN;
	if (p < 0.02425)
	{
		q = sqrt(-2 * log(p));
		x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
			((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	else if (p > 1 - 0.02425)
	{
		q = sqrt(-2 * log1p(-p));
		x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
			((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	else
	{
		q = p - 0.5;
		r = q * q;
		x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
			(((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
	}
	e = fs_norm_cdf(x) - p;
	u = e * sqrt(2 * PI) * exp(x * x / 2);
	return x - u / (1 + x * u / 2);
}

/* log(exp(a) - exp(b)), a >= b */
static double
log_diff(double a, double b)
{
	if (b == -INFINITY)
		return a;
	return a + log1p(-exp(b - a));
}

/* log of the standard normal mass in [a, b] (Optuna's _log_gauss_mass) */
static double
log_gauss_mass(double a, double b)
{
	if (b <= 0)
		return log_diff(log_ndtr(b), log_ndtr(a));
	if (a > 0)
		return log_diff(log_ndtr(-a), log_ndtr(-b));
	/* central: 1 - Phi(a) - Phi(-b) without cancellation */
	return log1p(-fs_norm_cdf(a) - fs_norm_cdf(-b));
}

/* ---------------------------------------------------------------- parameters */

const char *
fs_tpe_param_invalid(const FsTpeParam *p)
{
	if (!isfinite(p->low) || !isfinite(p->high) || !(p->low < p->high))
		return "a parameter needs finite bounds with low < high";
	if (p->log && !(p->low > 0))
		return "a log-scale parameter needs low > 0";
	if (p->log && p->step > 0)
		return "a parameter cannot be both log-scale and stepped";
	if (!(p->step >= 0) || !isfinite(p->step))
		return "a parameter's step must be 0 or positive";
	return NULL;
}

int
fs_tpe_gamma(int n)
{
	int			g = (int) ceil(0.1 * n);

	return g < 25 ? g : 25;
}

void
fs_tpe_weights(int n, double *w)
{
	if (n < 25)
	{
		for (int i = 0; i < n; i++)
			w[i] = 1;
		return;
	}
	/* np.linspace(1/n, 1, n - 25) then 25 ones */
	for (int i = 0; i < n - 25; i++)
		w[i] = n - 25 == 1 ? 1.0 / n : 1.0 / n + (1 - 1.0 / n) * i / (double) (n - 26);
	for (int i = n - 25; i < n; i++)
		w[i] = 1;
}

/* the modelled (internal) bounds of a parameter */
static void
bounds(const FsTpeParam *p, double *lo, double *hi)
{
	if (p->log)
	{
		*lo = log(p->low);
		*hi = log(p->high);
	}
	else if (p->step > 0)
	{
		*lo = p->low - 0.5 * p->step;
		*hi = p->high + 0.5 * p->step;
	}
	else
	{
		*lo = p->low;
		*hi = p->high;
	}
}

static double
to_internal(const FsTpeParam *p, double v)
{
	return p->log ? log(v) : v;
}

static double
to_external(const FsTpeParam *p, double v)
{
	if (p->log)
		v = exp(v);
	else if (p->step > 0)
		v = round((v - p->low) / p->step) * p->step + p->low;
	if (v < p->low)
		v = p->low;
	if (v > p->high)
		v = p->high;
	return v;
}

void
fs_tpe_random(const FsTpeParam *params, int n_params, FsRng *rng, double *x)
{
	for (int k = 0; k < n_params; k++)
	{
		double		lo,
					hi;

		bounds(&params[k], &lo, &hi);
		x[k] = to_external(&params[k], lo + (hi - lo) * fs_rng_uniform(rng));
	}
}

/* ---------------------------------------------------------------- Parzen estimator */

typedef struct Parzen
{
	int			n;				/* components: observations + prior */
	double	   *mu,
			   *sigma,
			   *logw,
			   *logz;			/* log of each component's mass inside the range */
	double		lo,
				hi;
} Parzen;

/* sort helper: indexes by value (insertion sort; n stays small, <= a few hundred) */
static void
argsort(const double *v, int n, int *idx)
{
	for (int i = 0; i < n; i++)
		idx[i] = i;
	for (int i = 1; i < n; i++)
	{
		int			t = idx[i],
					j = i - 1;

		while (j >= 0 && v[idx[j]] > v[t])
		{
			idx[j + 1] = idx[j];
			j--;
		}
		idx[j + 1] = t;
	}
}

/* obs: internal values in chronological order; buffers hold n_obs + 1 entries */
static void
parzen_build(Parzen *pz, const double *obs, int n_obs, double lo, double hi,
			 double prior_weight, double *mu, double *sigma, double *logw, double *logz, int *idx)
{
	int			n = n_obs + 1;
	double		wsum = 0,
				minsig,
				maxsig = hi - lo;

	pz->n = n;
	pz->mu = mu;
	pz->sigma = sigma;
	pz->logw = logw;
	pz->lo = lo;
	pz->hi = hi;
	fs_tpe_weights(n_obs, logw);
	logw[n_obs] = prior_weight;
	for (int i = 0; i < n; i++)
		wsum += logw[i];
	for (int i = 0; i < n; i++)
		logw[i] = log(logw[i] / wsum);
	memcpy(mu, obs, sizeof(double) * n_obs);
	mu[n_obs] = 0.5 * (lo + hi);

	argsort(mu, n, idx);
	for (int r = 0; r < n; r++)
	{
		double		left = r == 0 ? lo : mu[idx[r - 1]];
		double		right = r == n - 1 ? hi : mu[idx[r + 1]];
		double		m = mu[idx[r]];

		sigma[idx[r]] = fmax(m - left, right - m);
	}
	/* consider_endpoints = False: the outermost use their inner neighbour only */
	if (n >= 2)
	{
		sigma[idx[0]] = mu[idx[1]] - mu[idx[0]];
		sigma[idx[n - 1]] = mu[idx[n - 1]] - mu[idx[n - 2]];
	}
	minsig = (hi - lo) / fmin(100.0, 1.0 + n);
	for (int i = 0; i < n; i++)
		sigma[i] = fmin(fmax(sigma[i], minsig), maxsig);
	sigma[n_obs] = hi - lo;
	pz->logz = logz;
	for (int i = 0; i < n; i++)
		logz[i] = log_gauss_mass((lo - mu[i]) / sigma[i], (hi - mu[i]) / sigma[i]);
}

static double
parzen_sample(const Parzen *pz, FsRng *rng)
{
	double		u = fs_rng_uniform(rng),
				c = 0;
	int			k = pz->n - 1;
	double		a,
				b,
				q,
				z;

	for (int i = 0; i < pz->n; i++)
	{
		c += exp(pz->logw[i]);
		if (u < c)
		{
			k = i;
			break;
		}
	}
	a = (pz->lo - pz->mu[k]) / pz->sigma[k];
	b = (pz->hi - pz->mu[k]) / pz->sigma[k];
	q = fs_rng_uniform(rng);
	/* inverse CDF of the truncated normal (a <= 0 <= b: mu lies in the range) */
	z = fs_norm_ppf(fs_norm_cdf(a) + q * (fs_norm_cdf(b) - fs_norm_cdf(a)));
	if (z < a)
		z = a;
	if (z > b)
		z = b;
	return pz->mu[k] + pz->sigma[k] * z;
}

/* log density (continuous) or log bin probability (stepped) of internal value v */
static double
parzen_logpdf(const Parzen *pz, const FsTpeParam *p, double v)
{
	double		mx = -INFINITY,
				s = 0;
	double		t[1024];
	double	   *terms = pz->n <= 1024 ? t : NULL;

	for (int i = 0; i < pz->n; i++)
	{
		double		m = pz->mu[i],
					sg = pz->sigma[i],
					lp;

		if (p->step > 0)
		{
			double		l = fmax(v - p->step / 2, pz->lo),
						u = fmin(v + p->step / 2, pz->hi);

			lp = log_gauss_mass((l - m) / sg, (u - m) / sg) - pz->logz[i];
		}
		else
		{
			double		z = (v - m) / sg;

			/*
			 * Optuna 3.1's truncnorm.logpdf leaves out the -log(sigma) of the
			 * change of scale (fixed in later releases); kept, to be faithful.
			 */
			lp = -0.5 * z * z - LOG_SQRT_2PI - pz->logz[i];
		}
		lp += pz->logw[i];
		if (terms)
			terms[i] = lp;
		if (lp > mx)
			mx = lp;
	}
	if (mx == -INFINITY)
		return -INFINITY;
	for (int i = 0; i < pz->n; i++)
	{
		double		lp;

		if (terms)
			lp = terms[i];
		else
		{
			/* recompute (more than 1024 components: rare) */
			Parzen		one = *pz;

			one.n = 1;
			one.mu = &pz->mu[i];
			one.sigma = &pz->sigma[i];
			one.logw = &pz->logw[i];
			one.logz = &pz->logz[i];
			lp = parzen_logpdf(&one, p, v);
		}
		s += exp(lp - mx);
	}
	return mx + log(s);
}

/* ---------------------------------------------------------------- sampler */

size_t
fs_tpe_scratch_size(int n_trials, const FsTpeConfig *cfg)
{
	/* order keys, ranks, two mixtures of (n + 1) x 3, observations, candidates, idx */
	return (size_t) (n_trials + 2) * 16 + (size_t) cfg->n_ei_candidates * 2 + 16;
}

/* ranking key: complete before pruned; pruned deeper first; then loss (NaN worst) */
static int
better(const FsTpeTrial *a, const FsTpeTrial *b)
{
	double		ka = a->state == FS_TRIAL_COMPLETE ? -INFINITY : (a->step >= 0 ? -a->step : 1);
	double		kb = b->state == FS_TRIAL_COMPLETE ? -INFINITY : (b->step >= 0 ? -b->step : 1);
	double		la = a->state == FS_TRIAL_PRUNED && a->step < 0 ? 0 : (isnan(a->loss) ? INFINITY : a->loss);
	double		lb = b->state == FS_TRIAL_PRUNED && b->step < 0 ? 0 : (isnan(b->loss) ? INFINITY : b->loss);

	if (ka != kb)
		return ka < kb;
	return la < lb;
}

void
fs_tpe_suggest(const FsTpeParam *params, int n_params,
			   const FsTpeTrial *trials, int n_trials,
			   const FsTpeConfig *cfg, FsRng *rng, double *scratch, double *x)
{
	int			n = n_trials;
	int			n_below;
	int		   *order,
			   *idx;
	char	   *is_below;
	double	   *obs_b,
			   *obs_a,
			   *mu_b,
			   *sg_b,
			   *w_b,
			   *mu_a,
			   *sg_a,
			   *w_a,
			   *z_b,
			   *z_a,
			   *cand;

	if (n < cfg->n_startup_trials)
	{
		fs_tpe_random(params, n_params, rng, x);
		return;
	}
	/* carve the scratch buffer */
	obs_b = scratch;
	obs_a = obs_b + n + 1;
	mu_b = obs_a + n + 1;
	sg_b = mu_b + n + 1;
	w_b = sg_b + n + 1;
	mu_a = w_b + n + 1;
	sg_a = mu_a + n + 1;
	w_a = sg_a + n + 1;
	z_b = w_a + n + 1;
	z_a = z_b + n + 1;
	cand = z_a + n + 1;
	order = (int *) (cand + cfg->n_ei_candidates + 1);
	idx = order + n + 2;
	is_below = (char *) (idx + n + 2);

	/* stable ranking: insertion sort of trial indexes with better() */
	for (int i = 0; i < n; i++)
	{
		int			j = i - 1;

		while (j >= 0 && better(&trials[i], &trials[order[j]]))
		{
			order[j + 1] = order[j];
			j--;
		}
		order[j + 1] = i;
	}
	n_below = fs_tpe_gamma(n);
	memset(is_below, 0, n);
	for (int r = 0; r < n_below && r < n; r++)
		is_below[order[r]] = 1;

	for (int k = 0; k < n_params; k++)
	{
		const FsTpeParam *p = &params[k];
		double		lo,
					hi,
					best = -INFINITY,
					pick;
		int			nb = 0,
					na = 0;
		Parzen		below,
					above;

		bounds(p, &lo, &hi);
		/* observations in chronological order (Optuna sorts the split indexes) */
		for (int i = 0; i < n; i++)
		{
			double		v = to_internal(p, trials[i].x[k]);

			if (isnan(v))
				continue;
			if (is_below[i])
				obs_b[nb++] = v;
			else
				obs_a[na++] = v;
		}
		parzen_build(&below, obs_b, nb, lo, hi, cfg->prior_weight, mu_b, sg_b, w_b, z_b, idx);
		parzen_build(&above, obs_a, na, lo, hi, cfg->prior_weight, mu_a, sg_a, w_a, z_a, idx);
		for (int c = 0; c < cfg->n_ei_candidates; c++)
			cand[c] = parzen_sample(&below, rng);
		pick = cand[0];
		for (int c = 0; c < cfg->n_ei_candidates; c++)
		{
			/* stepped parameters are scored on their grid value, as Optuna rounds first */
			double		v = p->step > 0 ? to_external(p, cand[c]) : cand[c];
			double		score = parzen_logpdf(&below, p, v) - parzen_logpdf(&above, p, v);

			if (score > best)
			{
				best = score;
				pick = v;
			}
		}
		x[k] = to_external(p, pick);
	}
}

double
fs_tpe_mixture_logpdf(const FsTpeParam *p, const double *obs, int n_obs,
					  double prior_weight, double v, double *scratch)
{
	Parzen		pz;
	double		lo,
				hi;
	double	   *in = scratch,
			   *mu = in + n_obs + 1,
			   *sg = mu + n_obs + 1,
			   *w = sg + n_obs + 1,
			   *z = w + n_obs + 1;
	int			idx[4096];

	if (n_obs >= 4096)
		return NAN;
	bounds(p, &lo, &hi);
	for (int i = 0; i < n_obs; i++)
		in[i] = to_internal(p, obs[i]);
	parzen_build(&pz, in, n_obs, lo, hi, prior_weight, mu, sg, w, z, idx);
	return parzen_logpdf(&pz, p, to_internal(p, v));
}

/* ---------------------------------------------------------------- pruner */

static void
sort_doubles(double *v, int n)
{
	for (int i = 1; i < n; i++)
	{
		double		t = v[i];
		int			j = i - 1;

		while (j >= 0 && v[j] > t)
		{
			v[j + 1] = v[j];
			j--;
		}
		v[j + 1] = t;
	}
}

int
fs_median_prune(double best_so_far, const double *others, int n_others,
				int n_complete, int n_startup_trials)
{
	double		buf[4096];
	int			m = 0;
	double		med;

	if (n_complete < n_startup_trials)
		return 0;
	if (isnan(best_so_far))
		return 1;
	for (int i = 0; i < n_others && m < 4096; i++)
		if (!isnan(others[i]))
			buf[m++] = others[i];
	if (m == 0)
		return 0;
	sort_doubles(buf, m);
	med = m % 2 ? buf[m / 2] : 0.5 * (buf[m / 2 - 1] + buf[m / 2]);
	return best_so_far > med;
}

/* ---------------------------------------------------------------- deflated Sharpe */

double
fs_deflated_sharpe(double sr, double var_sr, int n_trials, double t_obs,
				   double skew, double kurt, double *sr0)
{
	double		e0,
				den;

	*sr0 = NAN;
	if (n_trials < 1 || t_obs < 2 || !isfinite(sr))
		return NAN;
	if (!(var_sr >= 0))
		var_sr = 0;
	if (n_trials == 1)
		e0 = 0;
	else
		e0 = sqrt(var_sr) * ((1 - EULER_GAMMA) * fs_norm_ppf(1 - 1.0 / n_trials) +
							 EULER_GAMMA * fs_norm_ppf(1 - 1.0 / (n_trials * E_)));
	*sr0 = e0;
	if (!isfinite(skew))
		skew = 0;
	if (!isfinite(kurt))
		kurt = 3;
	den = 1 - skew * sr + (kurt - 1) / 4 * sr * sr;
	if (!(den > 0))
		return NAN;
	return fs_norm_cdf((sr - e0) * sqrt(t_obs - 1) / sqrt(den));
}
