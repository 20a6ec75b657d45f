/*
 * optimize.h — what fsmml_optimize (optimize.c) shares with its parameters
 * and objectives (optimize_params.c).
 */
#ifndef FSMML_OPTIMIZE_H
#define FSMML_OPTIMIZE_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "backtest.h"

typedef enum Objective
{
	OBJ_SHARPE,
	OBJ_SORTINO,
	OBJ_CALMAR,
	OBJ_TOTAL_RETURN
} Objective;


typedef struct OptParams
{
	BtParams	bt;				/* simulator parameters (and version_id for ExecRules) */
	Objective	objective;
	bool		random;
	uint64		seed;
	double		test_size;
	int			folds;
	bool		prune;
	bool		activate;
	double		dsr_threshold;
	double		fsm_sl_atr;
} OptParams;

typedef struct RetStats
{
	double		mean,
				sd,
				skew,
				kurt;
	int64		n;
} RetStats;

extern const char *opt_objective_name(Objective o);
extern void opt_parse_params(Jsonb *params, OptParams *o);
extern void opt_ret_stats(const double *r, int64 n, RetStats *st);
/* Sharpe per period: 0 for a flat (zero-variance) curve, NaN under 2 periods. */
extern double opt_sharpe_pp(const double *r, int64 n);
/* The objective over daily returns r[n], annualised with ppy. */
extern double opt_objective_value(Objective o, const double *r, int64 n, double ppy);

#endif							/* FSMML_OPTIMIZE_H */
