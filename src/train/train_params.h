/*
 * train_params.h — a training's parameters: the agent's defaults merged with
 * the caller's jsonb, type-checked, resolved.
 */
#ifndef FSMML_TRAIN_PARAMS_H
#define FSMML_TRAIN_PARAMS_H

#include "postgres.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include <cjson/cJSON.h>

typedef struct TrainParams
{
	int			horizon;		/* label looks H bars ahead */
	int64		lookback_us;	/* window before the last bar; 0 = all */
	int64		lookback_bars;	/* window in bars when given as a number; 0 = none */
	int			folds;			/* fits: folds-1 walk-forward folds, then the final one */
	double		test_size;		/* hold-out fraction */
	int			embargo;		/* rows dropped after each earlier test block */
	int			early_stopping_rounds;	/* 0 = off */
	int			rounds;			/* boosting rounds at most */
	double		fee_bps;		/* backtest fee per unit of position change */
	double		threshold;		/* trade when |prob_up - 0.5| >= threshold */
	bool		auto_promote;
	List	   *features;		/* requested names, NIL = default set */
	Jsonb	   *xgb;			/* XGBoost parameters, passed through */
	cJSON	   *resolved;		/* everything above, defaults filled in */
} TrainParams;

/*
 * Merges trading.agents.default_params of agent with params (params.xgb
 * merged key by key) and checks every value.  timeframe resolves the default
 * look-back ("auto": a number of bars per timeframe).  Caller is
 * SPI-connected; the cJSON tree is owned by mcxt.
 */
extern TrainParams *fsmml_train_params(const char *agent, const char *timeframe,
									   Jsonb *params, MemoryContext mcxt);

#endif							/* FSMML_TRAIN_PARAMS_H */
