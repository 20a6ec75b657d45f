/*
 * sim_signals.h — per-bar signals for the simulator (simulator.h) from a
 * direction model's probabilities through ExecRules, or from the state
 * machine's states; Wilder's ATR over the bars (pure C).
 *
 * These are what training, promotion, fsmml_backtest and fsmml_optimize
 * share: give them the bars and per-bar inputs, pass the signals to
 * fs_simulate.
 */
#ifndef FSMML_SIM_SIGNALS_H
#define FSMML_SIM_SIGNALS_H

#include <stddef.h>

#include "exec_rules.h"
#include "simulator.h"
#include "statefsm.h"

/*
 * Wilder ATR(period) in price units into atr[n] (features' convention: TR
 * from the second bar, first ATR = mean of the first period TRs at index
 * period, NaN before).
 */
extern void fs_atr_wilder(const FsSimBar *bars, size_t n, int period, double *atr);

/*
 * ExecRules on every bar with a probability (NaN: no prediction, no
 * signal): long/short/flat with size, stop and target; gate[i] as in
 * FsExecInput (NULL: no regime model).  Returns the number of signals.
 */
extern size_t fs_signals_from_probs(const FsSimBar *bars, const double *prob_up, const int *gate,
									const double *atr, size_t n, const FsExecRules *rules,
									FsSimSignal *sig);

/*
 * The state machine's strategy (README, "Backtests"): long in trend_up and
 * in an expansion whose bar closed up, short in trend_down and in an
 * expansion whose bar closed down, flat in every other state (unknown
 * states give no signal); full size, stop sl_atr ATRs away (none when the
 * ATR is NaN or sl_atr <= 0).  states[i] from fs_fsm_classify.
 */
extern size_t fs_signals_from_states(const FsSimBar *bars, const FsFsmState *states,
									 const double *atr, size_t n, double sl_atr,
									 FsSimSignal *sig);

#endif							/* FSMML_SIM_SIGNALS_H */
