/*
 * metrics.h — classification metrics and the hold-out backtest of a
 * direction model.
 *
 * Pure C99 + libm, no PostgreSQL headers, no allocation: callers pass every
 * buffer, so the extension can palloc them and the unit test can use the
 * stack.  A NaN in an output means "undefined" (the SQL layer shows it as
 * JSON null), never a half-computed number.
 */
#ifndef FSMML_METRICS_H
#define FSMML_METRICS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Metrics of probabilities p of the label y (0 or 1; any y > 0.5 counts as
 * 1).  Undefined values are NaN: auc when only one class is present (or any
 * p is NaN), everything but n when n == 0.
 */
typedef struct FsClassMetrics
{
	int64_t		n;				/* rows */
	int64_t		n_pos;			/* rows with y = 1 */
	double		auc;			/* ROC area, ties by average rank (= sklearn roc_auc_score) */
	double		brier;			/* mean (p - y)^2 */
	double		logloss;		/* mean -log, p clipped to [1e-15, 1 - 1e-15] */
	double		accuracy;		/* predicted class is 1 when p > 0.5 (p == 0.5 predicts 0) */
	double		pos_rate;		/* mean y */
} FsClassMetrics;

#define FS_LOGLOSS_EPS 1e-15

/* scratch: n elements, overwritten.  NaN when one class only. */
extern double fs_auc(const double *y, const double *p, size_t n, size_t *scratch);

/* Fills *out; scratch as for fs_auc. */
extern void fs_class_metrics(const double *y, const double *p, size_t n,
							 size_t *scratch, FsClassMetrics *out);

/*
 * Hold-out backtest of a direction model.  Row i (time order) holds side_i
 * over fwd_ret[i] = close(t+H)/close(t) - 1:
 *   side = +1 when p >= 0.5 + threshold and p > 0.5,
 *          -1 when p <= 0.5 - threshold and p < 0.5,
 *           0 otherwise (so threshold 0 is sign(p - 0.5), p == 0.5 flat;
 *             a NaN probability is flat).
 * net_i = side_i * fwd_ret[i] / H - |side_i - side_{i-1}| * fee_bps / 1e4,
 * side_{-1} = 0, no closing fee after the last row.  With H > 1 consecutive
 * forward returns overlap; dividing by H makes a position held for H rows
 * earn about one full H-bar return (staggered 1/H sleeves), so net_i is a
 * per-bar return and is annualised with bars_per_year.  The fee is charged
 * once per change of the aggregate position, not scaled by 1/H.
 * Ratios are over all n rows, flat rows included.
 */
typedef struct FsBacktest
{
	int64_t		n;				/* rows */
	double		pnl;			/* sum of net_i (additive, not compounded) */
	double		fees;			/* sum of fees charged (included in pnl) */
	double		mean;			/* pnl / n */
	double		ann_return;		/* mean * bars_per_year */
	double		sharpe;			/* mean / sd(ddof=1) * sqrt(bars_per_year); 0 when sd == 0 or n < 2 */
	double		sortino;		/* mean / sqrt(mean(min(net,0)^2)) * sqrt(bpy); 0 if no downside
								 * and mean == 0, NaN if no downside and mean > 0 */
	double		max_drawdown;	/* largest fall of cumsum(net) from its running peak (start 0), >= 0 */
	double		calmar;			/* ann_return / max_drawdown; 0 when max_drawdown == 0 */
	double		profit_factor;	/* sum(net > 0) / |sum(net < 0)|; NaN when no row lost */
	double		win_rate;		/* of rows with side != 0, fraction with net > 0; NaN if none */
	int64_t		trades;			/* rows whose side differs from the previous and is not 0 */
	double		exposure;		/* fraction of rows with side != 0 */
} FsBacktest;

/*
 * Returns NULL on success, else a message for an invalid argument (horizon
 * < 1, bars_per_year <= 0, fee_bps < 0, threshold outside [0, 0.5], or a
 * non-finite one); *out is then untouched.  n == 0 gives pnl, fees,
 * drawdown and trades 0 and every ratio NaN.  A NaN fwd_ret on a row with a
 * position makes the results NaN: the caller drops unlabelled rows.
 */
extern const char *fs_backtest(const double *prob_up, const double *fwd_ret, size_t n,
							   double threshold, double fee_bps, int horizon,
							   double bars_per_year, FsBacktest *out);

/*
 * The same backtest of given sides (-1, 0, 1 per row), e.g. the ExecRules
 * decision (exec_rules.h) DirectionXGB's hold-out and promotion use.
 */
extern const char *fs_backtest_sides(const signed char *sides, const double *fwd_ret, size_t n,
									 double fee_bps, int horizon, double bars_per_year,
									 FsBacktest *out);

#endif							/* FSMML_METRICS_H */
