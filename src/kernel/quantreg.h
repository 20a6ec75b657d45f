/*
 * quantreg.h — linear quantile regression by iteratively reweighted least
 * squares (pure C, no PostgreSQL headers): VolQuantile's linear stage.
 */
#ifndef FSMML_QUANTREG_H
#define FSMML_QUANTREG_H

#include <stdint.h>

/*
 * Fits y ~ b[0] + sum_j b[1 + j] x[i * p + j] minimising the pinball loss
 * at quantile q over rows [0, n), at most max_iter reweightings (stopping
 * when no standardised coefficient moves by more than 1e-6).  b has p + 1
 * entries; work has fs_quantreg_work_size(n, p) (the caller owns it, so an
 * interrupt that does not return leaks nothing).  interrupt, when not NULL,
 * is called once per iteration.  Returns the reweightings done, or -1 when
 * the system is singular (b is then the constant quantile, zero slopes).
 */
extern int64_t fs_quantreg_work_size(int64_t n, int p);
extern int	fs_quantreg_fit(const float *x, const float *y, int64_t n, int p, double q,
							int max_iter, double *b, double *work, void (*interrupt) (void));

/* The fit's value at row x (p features). */
extern double fs_quantreg_predict(const double *b, int p, const float *x);

/* Mean pinball loss of predictions pred against y. */
extern double fs_pinball_loss(const float *y, const double *pred, int64_t n, double q);

#endif							/* FSMML_QUANTREG_H */
