/*
 * statefsm_test.c — hand-made cases for src/kernel/statefsm.c: each rule, its
 * priority, its boundaries, confidence bounds, bad thresholds.  TAP-ish output.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "statefsm.h"

static int	failures = 0;

static void
expect(const char *what, FsFsmMetrics m, FsFsmState want, double conf_lo, double conf_hi)
{
	/* The seed's example calibration (000_*.txt). */
	FsFsmThresholds t = {0.32, 1.45, 0.28, 0.92, 2.1, 0.25};
	double		conf;
	FsFsmState	got = fs_fsm_classify(&m, &t, &conf);
	int			ok = got == want && conf >= conf_lo && conf <= conf_hi;

	printf("%s - %s: %s (confidence %.2f)\n", ok ? "ok" : "not ok", what, fs_fsm_state_name(got), conf);
	if (!ok)
	{
		printf("#   wanted %s in [%g, %g]\n", fs_fsm_state_name(want), conf_lo, conf_hi);
		failures++;
	}
}

static void
check(const char *what, int cond)
{
	printf("%s - %s\n", cond ? "ok" : "not ok", what);
	failures += !cond;
}

int
main(void)
{
	/* effort, result, compression, slope, speed */
	expect("absorption: effort 2.9, result 0.1", (FsFsmMetrics) {2.9, 0.1, 1.0, 0.0, 0.5}, FS_FSM_ABSORPTION, 80, 100);
	expect("absorption exactly at both thresholds scores 50", (FsFsmMetrics) {1.45, 0.28, 1.0, 0.0, 0.5}, FS_FSM_ABSORPTION, 50, 50);
	expect("exhaustion: high effort, high result, stretched", (FsFsmMetrics) {2.0, 1.5, 3.0, 0.8, 2.5}, FS_FSM_EXHAUSTION, 50, 100);
	expect("high effort and result but layers not stretched: expansion wins when tangled",
		   (FsFsmMetrics) {2.0, 1.5, 1.0, 0.8, 1.0}, FS_FSM_EXPANSION, 50, 100);
	expect("expansion: wide bar, layers half as tangled as layer_sep", (FsFsmMetrics) {1.0, 1.84, 1.05, 0.1, 0.5}, FS_FSM_EXPANSION, 74.9, 75.1);
	expect("trend_up: slope 0.5", (FsFsmMetrics) {1.0, 0.5, 2.5, 0.5, 1.0}, FS_FSM_TREND_UP, 99, 100);
	expect("trend_down: slope -0.3", (FsFsmMetrics) {1.0, 0.5, 2.5, -0.3, 1.0}, FS_FSM_TREND_DOWN, 50, 61);
	expect("trend outranks compression (slope 0.3, tangled)", (FsFsmMetrics) {1.0, 0.5, 1.0, 0.3, 1.0}, FS_FSM_TREND_UP, 50, 61);
	expect("compression: flat, tangled, quiet", (FsFsmMetrics) {0.8, 0.5, 0.5, 0.05, 0.3}, FS_FSM_COMPRESSION, 50, 100);
	expect("compression boundary: compression == layer_sep is not compressed", (FsFsmMetrics) {0.8, 0.5, 2.1, 0.05, 0.3}, FS_FSM_NEUTRAL, 50, 100);
	expect("neutral: separated layers, flat slope, ordinary bar", (FsFsmMetrics) {1.0, 0.5, 2.5, 0.1, 1.0}, FS_FSM_NEUTRAL, 50, 100);
	expect("NaN metric (warm-up) is unknown with confidence 0", (FsFsmMetrics) {NAN, 0.5, 2.5, 0.1, 1.0}, FS_FSM_UNKNOWN, 0, 0);

	{
		FsFsmThresholds bad1 = {0.5, 0.4, 0.28, 0.92, 2.1, 0.25};
		FsFsmThresholds bad2 = {0.32, 1.45, 0.28, 0.92, 0, 0.25};
		FsFsmThresholds bad3 = {0.32, 1.45, NAN, 0.92, 2.1, 0.25};
		FsFsmThresholds good = {0.32, 1.45, 0.28, 0.92, 2.1, 0.25};

		check("effort_p20 >= effort_p80 refused", fs_fsm_thresholds_invalid(&bad1) != NULL);
		check("layer_sep 0 refused", fs_fsm_thresholds_invalid(&bad2) != NULL);
		check("NaN threshold refused", fs_fsm_thresholds_invalid(&bad3) != NULL);
		check("the seed's calibration accepted", fs_fsm_thresholds_invalid(&good) == NULL);
	}
	for (int s = 0; s < FS_FSM_NSTATES; s++)
		check(fs_fsm_state_name((FsFsmState) s), fs_fsm_state_from_name(fs_fsm_state_name((FsFsmState) s)) == s);
	check("unknown name", fs_fsm_state_from_name("bogus") == FS_FSM_UNKNOWN);
	return failures != 0;
}
