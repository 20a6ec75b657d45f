/*
 * exec_rules.c — the ExecRules decision for one bar (exec_rules.h).
 */
#include "exec_rules.h"

#include <math.h>
#include <stddef.h>

const char *
fs_exec_rules_invalid(const FsExecRules *r)
{
	if (!(r->long_threshold > 0 && r->long_threshold < 1) ||
		!(r->short_threshold > 0 && r->short_threshold < 1))
		return "long_threshold and short_threshold must lie strictly between 0 and 1";
	if (!(r->long_threshold > r->short_threshold))
		return "long_threshold must be greater than short_threshold";
	if (!(r->sl_atr > 0) || !(r->tp_atr > 0) || !isfinite(r->sl_atr) || !isfinite(r->tp_atr))
		return "sl_atr and tp_atr must be positive";
	if (!(r->risk_fraction > 0 && r->risk_fraction <= 1))
		return "risk_fraction must lie in (0, 1]";
	if (!(r->max_size > 0) || !isfinite(r->max_size))
		return "max_size must be positive";
	return NULL;
}

const char *
fs_exec_why_text(FsExecWhy why)
{
	switch (why)
	{
		case FS_EXEC_LONG:
			return "long: prob_up at or above long_threshold";
		case FS_EXEC_SHORT:
			return "short: prob_up at or below short_threshold";
		case FS_EXEC_NO_EDGE:
			return "flat: prob_up between the thresholds";
		case FS_EXEC_NO_DIRECTION:
			return "flat: no direction prediction";
		case FS_EXEC_GATE_CLOSED:
			return "flat: regime gate closed";
		case FS_EXEC_NO_STOP:
			return "flat: no stop distance (no VolQuantile, ATR not yet defined)";
	}
	return "?";
}

static double
distance(double model, double atr, double mult)
{
	if (isfinite(model) && model > 0)
		return model;
	if (isfinite(atr) && atr > 0)
		return atr * mult;
	return NAN;
}

void
fs_exec_decide(const FsExecRules *r, const FsExecInput *in, FsExecDecision *out)
{
	out->side = 0;
	out->size = 0;
	out->sl = out->tp = NAN;
	out->sl_dist = distance(in->sl_dist, in->atr, r->sl_atr);
	out->tp_dist = distance(in->tp_dist, in->atr, r->tp_atr);

	if (isnan(in->prob_up))
		out->why = FS_EXEC_NO_DIRECTION;
	else if (in->prob_up >= r->long_threshold)
		out->why = FS_EXEC_LONG;
	else if (in->prob_up <= r->short_threshold)
		out->why = FS_EXEC_SHORT;
	else
		out->why = FS_EXEC_NO_EDGE;
	if (out->why != FS_EXEC_LONG && out->why != FS_EXEC_SHORT)
		return;
	if (r->use_gate && in->gate == 0)
	{
		out->why = FS_EXEC_GATE_CLOSED;
		return;
	}
	if (isnan(out->sl_dist) || !(in->close > 0))
	{
		out->why = FS_EXEC_NO_STOP;
		return;
	}
	out->side = out->why == FS_EXEC_LONG ? 1 : -1;
	out->sl = in->close - out->side * out->sl_dist;
	out->tp = isnan(out->tp_dist) ? NAN : in->close + out->side * out->tp_dist;
	out->size = r->risk_fraction / (out->sl_dist / in->close);
	if (out->size > r->max_size)
		out->size = r->max_size;
}
