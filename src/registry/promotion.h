/*
 * promotion.h — automatic champion/challenger promotion after a training.
 */
#ifndef FSMML_PROMOTION_H
#define FSMML_PROMOTION_H

#include "postgres.h"

#include "bars.h"
#include "train.h"

/*
 * Re-scores the champion on exactly the challenger's hold-out bars and runs
 * both through the same simulation (fsmml_compare's code, the challenger's
 * ExecRules parameters and fees), then promotes the challenger only when it
 * beats the champion's PnL and does not worsen max drawdown or Calmar
 * beyond the tolerances in fsmml.settings.  The decision and both sides'
 * numbers go to fsmml.promotions.  Returns the challenger's status.
 * Caller is SPI-connected.
 */
extern char *fsmml_auto_promote(const char *symbol, const char *timeframe, const char *agent,
								int64 challenger_id, int64 champion_id, const TrainParams *p,
								const FsmmlHoldoutBt *challenger, const char *challenger_metrics,
								const FsmmlBars *bars, MemoryContext cxt);

#endif							/* FSMML_PROMOTION_H */
