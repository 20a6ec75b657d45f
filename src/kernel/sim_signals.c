/*
 * sim_signals.c — signals from probabilities or states, ATR (sim_signals.h).
 */
#include "sim_signals.h"

#include <math.h>

void
fs_atr_wilder(const FsSimBar *bars, size_t n, int period, double *atr)
{
	double		sum = 0,
				a = NAN;

	for (size_t i = 0; i < n; i++)
	{
		double		tr;

		atr[i] = NAN;
		if (i == 0)
			continue;
		tr = fmax(bars[i].high - bars[i].low,
				  fmax(fabs(bars[i].high - bars[i - 1].close), fabs(bars[i].low - bars[i - 1].close)));
		if (i <= (size_t) period)
		{
			sum += tr;
			if (i == (size_t) period)
				a = sum / period;
		}
		else
			a = (a * (period - 1) + tr) / period;
		if (i >= (size_t) period)
			atr[i] = a;
	}
}

size_t
fs_signals_from_probs(const FsSimBar *bars, const double *prob_up, const int *gate,
					  const double *atr, size_t n, const FsExecRules *rules,
					  FsSimSignal *sig)
{
	size_t		k = 0;

	for (size_t i = 0; i < n; i++)
	{
		FsExecInput in = {prob_up[i], gate ? gate[i] : -1, bars[i].close, atr[i], NAN, NAN};
		FsExecDecision d;

		sig[i].present = 0;
		if (isnan(prob_up[i]))
			continue;
		fs_exec_decide(rules, &in, &d);
		sig[i].present = 1;
		sig[i].side = d.side;
		sig[i].size = d.side ? d.size : NAN;
		sig[i].sl = d.sl;
		sig[i].tp = d.tp;
		k++;
	}
	return k;
}

size_t
fs_signals_from_states(const FsSimBar *bars, const FsFsmState *states,
					   const double *atr, size_t n, double sl_atr, FsSimSignal *sig)
{
	size_t		k = 0;

	for (size_t i = 0; i < n; i++)
	{
		int			side = 0;

		sig[i].present = 0;
		if (states[i] == FS_FSM_UNKNOWN)
			continue;
		if (states[i] == FS_FSM_TREND_UP)
			side = 1;
		else if (states[i] == FS_FSM_TREND_DOWN)
			side = -1;
		else if (states[i] == FS_FSM_EXPANSION)
			side = bars[i].close > bars[i].open ? 1 : bars[i].close < bars[i].open ? -1 : 0;
		sig[i].present = 1;
		sig[i].side = side;
		sig[i].size = side ? 1.0 : NAN;
		sig[i].sl = side && sl_atr > 0 && isfinite(atr[i]) ? bars[i].close - side * sl_atr * atr[i] : NAN;
		sig[i].tp = NAN;
		k++;
	}
	return k;
}
