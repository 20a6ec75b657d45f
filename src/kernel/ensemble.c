/*
 * ensemble.c — EnsembleWeighted's combination (rules in ensemble.h).
 */
#include <math.h>
#include <stddef.h>

#include "ensemble.h"
#include "statefsm.h"

const char *
fs_ensemble_weights_invalid(const FsEnsembleWeights *w)
{
	if (!(isfinite(w->direction) && isfinite(w->state) && isfinite(w->execution) &&
		  isfinite(w->regime) && isfinite(w->min_strength)))
		return "weights must be finite numbers";
	if (w->direction < 0 || w->state < 0 || w->execution < 0 || w->regime < 0)
		return "weights must not be negative";
	if (w->direction + w->state + w->execution <= 0)
		return "the direction, state and execution weights are all zero";
	if (w->regime > 1)
		return "the regime weight (damping of a closed gate) must be at most 1";
	if (w->min_strength < 0 || w->min_strength > 1)
		return "min_strength must be in [0, 1]";
	return NULL;
}

void
fs_ensemble_combine(const FsEnsembleWeights *w, const FsEnsembleInput *in, FsEnsembleOutput *out)
{
	double		num = 0,
				den = 0,
				s;
	int			has_dir = !isnan(in->prob_up);

	if (has_dir)
	{
		double		v = 2 * (in->prob_up - 0.5);

		num += w->direction * (v > 1 ? 1 : v < -1 ? -1 : v);
		den += w->direction;
	}
	if (in->state >= 0)
	{
		double		c = isnan(in->state_confidence) ? 0 : in->state_confidence / 100;

		num += w->state * (in->state == FS_FSM_TREND_UP ? c :
						   in->state == FS_FSM_TREND_DOWN ? -c : 0);
		den += w->state;
	}
	if (in->has_exec)
	{
		num += w->execution * in->exec_side;
		den += w->execution;
	}
	s = den > 0 ? num / den : 0;
	if (in->gate == 0)
		s *= 1 - w->regime;
	out->score = s;
	out->side = 0;
	out->strength = 0;
	out->sl = out->tp = NAN;
	if (!has_dir)
		return;
	out->strength = fabs(s) > 1 ? 1 : fabs(s);
	if (fabs(s) > 0 && fabs(s) >= w->min_strength)
		out->side = s > 0 ? 1 : -1;
	if (out->side == 0)
		return;
	if (in->has_exec && in->exec_side == out->side && isfinite(in->exec_sl))
	{
		out->sl = in->exec_sl;
		out->tp = in->exec_tp;
	}
	else
	{
		out->sl = isfinite(in->sl_dist) ? in->close - out->side * in->sl_dist : NAN;
		out->tp = isfinite(in->tp_dist) ? in->close + out->side * in->tp_dist : NAN;
	}
}
