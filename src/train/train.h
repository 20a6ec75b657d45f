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

/* ---- holdout_bt.c: the hold-out backtest through the simulator */
#include "backtest.h"
#include "bars.h"

typedef struct FsmmlHoldoutBt
{
	BtSeries	s;				/* every bar of the series */
	int64		from,
				n;				/* the hold-out's bars in s */
	FsExecRules rules;
	FsSimParams sim;
	BtRun		run;			/* metrics in run.m */
} FsmmlHoldoutBt;

/*
 * The hold-out rows (row_ts ascending, bars of bars) with their prob_up
 * through ExecRules (p's thresholds, the other rules at their defaults) and
 * the simulator (p's fee) over the bars from the first row to the last:
 * what fsmml_backtest gives for the same predictions over those bars.
 */
extern void fsmml_run_backtest(const char *symbol, const char *timeframe, const FsmmlBars *bars,
							   const int64 *row_ts, const double *prob, int64 nrows,
							   const TrainParams *p, FsmmlHoldoutBt *bt);

/* fsmml_backtest's metrics object plus the rules used; the caller attaches it before raising. */
extern cJSON *fsmml_backtest_json(const FsmmlHoldoutBt *bt);

/* ---- train.c's fitting, called by the agents (src/agents/) */
#include "bars.h"
#include "dataset.h"
#include "walkforward.h"
#include "xgb.h"

typedef struct FsmmlFit
{
	FsXgbBooster *booster;
	int			best_iteration; /* 0-based */
	int			rounds_run;
	double		valid_metric;	/* NaN without early stopping */
	double		seconds;
} FsmmlFit;

/* Boosts p->rounds on train (early stopping on its last 10%); ds->y are the labels. */
extern FsmmlFit fsmml_fit(MemoryContext cxt, const FsmmlDataset *ds, const FsRangeSet *train,
						  TrainParams *p, int purge);
/* prob of rows [range) in double precision (one column per row). */
extern double *fsmml_predict_range(MemoryContext cxt, FsXgbBooster *b, const FsmmlDataset *ds,
								   FsRange range);
/* AUC, Brier, ... of a binary hold-out; the caller attaches the tree before raising. */
extern cJSON *fsmml_class_metrics_json(const FsmmlDataset *ds, FsRange range, const double *prob);
extern int64 fsmml_window_start(const FsmmlBars *bars, const TrainParams *p);
extern FsSplitPlan *fsmml_plan_splits(const FsmmlDataset *ds, const TrainParams *p,
									  const char *instance);

/* ---- DirectionXGB's pieces a warm start shares (agents/direction_xgb.c) */
/* The backtest thresholds: the active calibration's, else params'; returns where they came from. */
extern const char *fsmml_direction_thresholds(const char *symbol, const char *timeframe,
											  TrainParams *p, MemoryContext cxt);
/* plan's walk-forward folds, each fit from scratch and scored on its test block, into folds; fit seconds. */
extern double fsmml_direction_folds(MemoryContext cxt, const FsmmlDataset *ds, const FsSplitPlan *plan,
									TrainParams *p, cJSON *folds);
/* metrics.rows of a direction version. */
extern void fsmml_direction_rows_json(cJSON *metrics, const FsmmlBars *bars, const FsmmlDataset *ds,
									  const FsSplitPlan *plan);

#endif							/* FSMML_TRAIN_H */
