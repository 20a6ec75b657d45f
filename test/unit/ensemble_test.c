/* ensemble_test.c — EnsembleWeighted's combination on hand-computed cases (kernel/ensemble.c). */
#include <math.h>
#include <stdio.h>

#include "ensemble.h"
#include "statefsm.h"

static int failures = 0;

static void
ok(int cond, const char *name)
{
	printf("%s - %s\n", cond ? "ok" : "not ok", name);
	failures += !cond;
}

static int
near(double a, double b)
{
	return fabs(a - b) < 1e-12;
}

int
main(void)
{
	FsEnsembleWeights w = {1.0, 0.5, 1.0, 0.5, 0.1};
	FsEnsembleInput in = {0.7, FS_FSM_TREND_UP, 80, 1, 1, 99.0, 103.0, 1, 100.0, 2.0, 3.0};
	FsEnsembleOutput o;

	/* (1.0 * 0.4 + 0.5 * 0.8 + 1.0 * 1) / 2.5 = 0.72 */
	fs_ensemble_combine(&w, &in, &o);
	ok(o.side == 1 && near(o.strength, 0.72) && near(o.score, 0.72), "all agents agree: long, strength 0.72");
	ok(o.sl == 99.0 && o.tp == 103.0, "sl/tp from ExecRules when it agrees");

	in.gate = 0;				/* closed gate: 0.72 * (1 - 0.5) */
	fs_ensemble_combine(&w, &in, &o);
	ok(o.side == 1 && near(o.strength, 0.36), "closed gate halves the score");

	/* p = 0.3 (-0.4), trend_down 50 (-0.5 * 0.5), exec flat (0): -0.65 / 2.5 = -0.26 */
	in.gate = 1;
	in.prob_up = 0.3;
	in.state = FS_FSM_TREND_DOWN;
	in.state_confidence = 50;
	in.exec_side = 0;
	fs_ensemble_combine(&w, &in, &o);
	ok(o.side == -1 && near(o.score, -0.26), "short: score -0.26");
	ok(near(o.sl, 102.0) && near(o.tp, 97.0), "sl/tp from the distances when ExecRules is flat");

	/* no execution and no state champion: direction alone, 0.52 -> 0.04 < min_strength */
	in.has_exec = 0;
	in.state = -1;
	in.prob_up = 0.52;
	fs_ensemble_combine(&w, &in, &o);
	ok(o.side == 0 && near(o.strength, 0.04) && isnan(o.sl), "below min_strength: flat");

	in.prob_up = NAN;			/* no direction champion */
	in.state = FS_FSM_TREND_UP;
	in.state_confidence = 100;
	fs_ensemble_combine(&w, &in, &o);
	ok(o.side == 0 && o.strength == 0, "no direction: side 0");

	w.direction = -1;
	ok(fs_ensemble_weights_invalid(&w) != NULL, "negative weight refused");
	w.direction = 0;
	w.state = 0;
	w.execution = 0;
	ok(fs_ensemble_weights_invalid(&w) != NULL, "all-zero weights refused");
	w.direction = 1;
	ok(fs_ensemble_weights_invalid(&w) == NULL, "direction alone is fine");
	return failures ? 1 : 0;
}
