/*
 * tpe.h — a Tree-structured Parzen Estimator sampler, a median pruner and
 * the deflated Sharpe ratio (pure C, no PostgreSQL headers).
 *
 * The sampler follows Optuna 3.1's TPESampler with its defaults
 * (optuna/samplers/_tpe/sampler.py, parzen_estimator.py): independent
 * sampling per parameter; 10 start-up trials sampled at random; then the
 * finished trials are ranked (complete trials by loss, then pruned ones by
 * their last step, deeper first, then their value there), the best
 * gamma(n) = min(ceil(0.1 n), 25) form l(x) and the rest g(x); each is a
 * mixture of truncated normals, one per observation plus a prior at the
 * middle of the range with sigma = range and weight 1; a component's sigma
 * is the larger distance to its sorted neighbours (the range ends count as
 * neighbours except for the outermost observations), clipped to
 * [range / min(100, 1 + components), range] ("magic clip"); observation
 * weights are 1 below 25 observations and above that a ramp from 1/n to 1
 * over the oldest n - 25 (default_weights).  24 candidates are drawn from
 * l(x) and the one maximising log l(x) - log g(x) is taken.  Log-scale
 * parameters are modelled on log(x); stepped ones on bins of width step
 * (the range widened by step/2 on each side, probabilities of the bins).
 * The loss is minimised; pass -score to maximise.
 *
 * A fixed seed gives the same trials (xoshiro256** seeded by splitmix64).
 */
#ifndef FSMML_TPE_H
#define FSMML_TPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct FsTpeParam
{
	const char *name;
	double		low,
				high;
	double		step;			/* 0: continuous; > 0: low + k step (integers: 1) */
	int			log;			/* log scale (low > 0); not with step */
} FsTpeParam;

typedef enum FsTrialState
{
	FS_TRIAL_COMPLETE,
	FS_TRIAL_PRUNED
} FsTrialState;

typedef struct FsTpeTrial
{
	const double *x;			/* n_params values */
	FsTrialState state;
	double		loss;			/* complete: final loss; pruned: loss at its last step (NaN = worst) */
	int			step;			/* pruned: the last step reported; -1 when none */
} FsTpeTrial;

typedef struct FsRng
{
	uint64_t	s[4];
} FsRng;

extern void fs_rng_seed(FsRng *r, uint64_t seed);
extern double fs_rng_uniform(FsRng *r);		/* [0, 1) */

typedef struct FsTpeConfig
{
	int			n_startup_trials;	/* 10 */
	int			n_ei_candidates;	/* 24 */
	double		prior_weight;		/* 1 */
} FsTpeConfig;

#define FS_TPE_CONFIG_DEFAULT {10, 24, 1.0}

/* NULL when the parameter is usable, else what is wrong. */
extern const char *fs_tpe_param_invalid(const FsTpeParam *p);

/* gamma(n) = min(ceil(0.1 n), 25) */
extern int	fs_tpe_gamma(int n);

/* Optuna's default_weights(n) into w[n]. */
extern void fs_tpe_weights(int n, double *w);

/*
 * The next trial's parameters into x[n_params]: at random while fewer than
 * n_startup_trials trials finished, else by TPE.  scratch must hold
 * fs_tpe_scratch_size(n_trials, cfg) doubles.
 */
extern size_t fs_tpe_scratch_size(int n_trials, const FsTpeConfig *cfg);
extern void fs_tpe_suggest(const FsTpeParam *params, int n_params,
						   const FsTpeTrial *trials, int n_trials,
						   const FsTpeConfig *cfg, FsRng *rng, double *scratch, double *x);

/* A uniformly random point (log-uniform on log scales, on the step grid). */
extern void fs_tpe_random(const FsTpeParam *params, int n_params, FsRng *rng, double *x);

/*
 * Optuna's MedianPruner (5 start-up trials, no warm-up): prune when the
 * trial's best loss so far is worse than the median of the complete trials'
 * losses at this step.  others[i] are those losses (NaN entries ignored).
 */
extern int	fs_median_prune(double best_so_far, const double *others, int n_others,
							int n_complete, int n_startup_trials);

/*
 * The log density (log bin probability when stepped) at external value v
 * of the Parzen mixture built from n_obs observations (external values,
 * chronological order) with the prior: what l(x) or g(x) is for a set.
 * scratch: 5 (n_obs + 1) doubles.  For checking against Optuna.
 */
extern double fs_tpe_mixture_logpdf(const FsTpeParam *p, const double *obs, int n_obs,
									double prior_weight, double v, double *scratch);

/* Standard normal CDF and quantile function. */
extern double fs_norm_cdf(double z);
extern double fs_norm_ppf(double p);

/*
 * Deflated Sharpe ratio (Bailey & Lopez de Prado 2014): the probability
 * that the true Sharpe exceeds the expected maximum of n_trials Sharpe
 * ratios of zero skill,
 *   SR0 = sqrt(var_sr) ((1 - g) Z(1 - 1/N) + g Z(1 - 1/(N e))), g = 0.5772...
 *   DSR = Phi((sr - SR0) sqrt(T - 1) / sqrt(1 - skew sr + (kurt - 1)/4 sr^2))
 * sr and var_sr per period (not annualised), T periods, kurt not excess.
 * *sr0 receives SR0.  NaN when undefined (T < 2, N < 1).
 */
extern double fs_deflated_sharpe(double sr, double var_sr, int n_trials, double t_obs,
								 double skew, double kurt, double *sr0);

#endif							/* FSMML_TPE_H */
