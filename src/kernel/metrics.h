/*
 * metrics.h — classification metrics of a direction model (the hold-out
 * backtest is the bar simulator's, simulator.h).
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

#endif							/* FSMML_METRICS_H */
