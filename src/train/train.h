/*
 * train.h — pieces of training shared with promotion and scoring.
 */
#ifndef FSMML_TRAIN_H
#define FSMML_TRAIN_H

#include "postgres.h"

#include <cjson/cJSON.h>

#include "metrics.h"
#include "train_params.h"

typedef struct FsmmlTrainResult
{
	int64		version_id;
	char	   *instance;
	char	   *version;
	char	   *status;
	char	   *metrics;		/* JSON text */
} FsmmlTrainResult;

/* Bars in a year of this timeframe (markets open around the clock). */
extern double fsmml_bars_per_year(const char *timeframe);

/* Hold-out backtest of prob_up against forward returns, with p's threshold and fee. */
extern void fsmml_run_backtest(const double *prob, const double *fwd_ret, int64 n,
							   const TrainParams *p, const char *timeframe, FsBacktest *bt);

/* The backtest as a JSON object (NaN as null); caller owns the tree. */
extern cJSON *fsmml_backtest_json(const FsBacktest *bt);

#endif							/* FSMML_TRAIN_H */
