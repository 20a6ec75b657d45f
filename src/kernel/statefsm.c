/*
 * statefsm.c — classifying a bar into the state machine's states (statefsm.h).
 */
#include "statefsm.h"

#include <math.h>
#include <string.h>

static const char *const names[FS_FSM_NSTATES] = {
	"neutral", "compression", "absorption", "expansion", "trend_up", "trend_down", "exhaustion"
};

static const char *const reasons[FS_FSM_NSTATES] = {
	"no rule holds",
	"flat slope, tangled EMA layers, quiet bars",
	"high effort (volume) with low result (price move)",
	"a wide bar out of tangled EMA layers",
	"EMA20 slope above bias_slope",
	"EMA20 slope below -bias_slope",
	"high effort, high result and stretched layers: a climax",
};

const char *
fs_fsm_state_name(FsFsmState s)
{
	return s >= 0 && s < FS_FSM_NSTATES ? names[s] : "unknown";
}

FsFsmState
fs_fsm_state_from_name(const char *name)
{
	for (int s = 0; s < FS_FSM_NSTATES; s++)
		if (strcmp(names[s], name) == 0)
			return (FsFsmState) s;
	return FS_FSM_UNKNOWN;
}

const char *
fs_fsm_reason(FsFsmState s)
{
	return s >= 0 && s < FS_FSM_NSTATES ? reasons[s] : "metrics not yet defined";
}

const char *
fs_fsm_thresholds_invalid(const FsFsmThresholds *t)
{
	const double v[6] = {t->effort_p20, t->effort_p80, t->result_p20, t->result_p80,
	t->layer_sep, t->bias_slope};

	for (int i = 0; i < 6; i++)
		if (!isfinite(v[i]) || v[i] < 0)
			return "every threshold must be a finite number >= 0";
	if (t->effort_p20 >= t->effort_p80)
		return "effort_p20 must be below effort_p80";
	if (t->result_p20 >= t->result_p80)
		return "result_p20 must be below result_p80";
	if (t->layer_sep <= 0 || t->bias_slope <= 0)
		return "layer_sep and bias_slope must be positive";
	return NULL;
}

/* How clearly v is at or above (sign +1) / below (sign -1) threshold t: 0..1, < 0 when it is not. */
static double
margin(double v, double t, int sign)
{
	double		scale = fabs(t) > 1e-12 ? fabs(t) : 1.0;
	double		m = sign * (v - t) / scale;

	return m > 1 ? 1 : m;
}

static double
min2(double a, double b)
{
	return a < b ? a : b;
}

FsFsmState
fs_fsm_classify(const FsFsmMetrics *m, const FsFsmThresholds *t, double *confidence)
{
	double		rule[FS_FSM_NSTATES];
	double		best_miss = -1e300;

	if (!isfinite(m->effort) || !isfinite(m->result) || !isfinite(m->compression) ||
		!isfinite(m->slope) || !isfinite(m->speed))
	{
		*confidence = 0;
		return FS_FSM_UNKNOWN;
	}
	/* Each rule's margin: the smallest of its conditions' (>= 0 when the rule holds). */
	rule[FS_FSM_NEUTRAL] = -1;
	rule[FS_FSM_ABSORPTION] = min2(margin(m->effort, t->effort_p80, 1), margin(m->result, t->result_p20, -1));
	rule[FS_FSM_EXHAUSTION] = min2(min2(margin(m->effort, t->effort_p80, 1), margin(m->result, t->result_p80, 1)),
								   margin(m->speed, t->layer_sep, 1));
	rule[FS_FSM_EXPANSION] = min2(margin(m->result, t->result_p80, 1), margin(m->compression, t->layer_sep, -1));
	rule[FS_FSM_TREND_UP] = margin(m->slope, t->bias_slope, 1);
	rule[FS_FSM_TREND_DOWN] = margin(m->slope, -t->bias_slope, -1);
	rule[FS_FSM_COMPRESSION] = min2(margin(m->compression, t->layer_sep, -1), margin(m->result, t->result_p80, -1));
	/* Strict inequalities of the rules: a margin of exactly 0 holds only for >= / <= conditions. */
	if (m->compression >= t->layer_sep)
	{
		rule[FS_FSM_EXPANSION] = min2(rule[FS_FSM_EXPANSION], -1e-300);
		rule[FS_FSM_COMPRESSION] = min2(rule[FS_FSM_COMPRESSION], -1e-300);
	}
	if (m->result >= t->result_p80)
		rule[FS_FSM_COMPRESSION] = min2(rule[FS_FSM_COMPRESSION], -1e-300);

	{
		static const FsFsmState order[] = {FS_FSM_ABSORPTION, FS_FSM_EXHAUSTION, FS_FSM_EXPANSION,
		FS_FSM_TREND_UP, FS_FSM_TREND_DOWN, FS_FSM_COMPRESSION};

		for (int i = 0; i < (int) (sizeof(order) / sizeof(order[0])); i++)
		{
			double		r = rule[order[i]];

			if (r >= 0)
			{
				*confidence = 50 + 50 * r;
				return order[i];
			}
			if (r > best_miss)
				best_miss = r;
		}
	}
	/* Neutral: 50 when a rule almost held, rising to 100 when every rule is far off. */
	*confidence = 50 + 50 * (best_miss < -1 ? 1 : -best_miss);
	return FS_FSM_NEUTRAL;
}
