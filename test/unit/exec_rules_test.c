/*
 * exec_rules_test.c — hand-computed cases of src/kernel/exec_rules.c.
 */
#include <math.h>
#include <stdio.h>

#include "exec_rules.h"

static int	failures = 0;

static void
check(const char *what, int cond)
{
	printf("%s - exec_rules: %s\n", cond ? "ok" : "not ok", what);
	failures += !cond;
}

static int
near(double a, double b)
{
	return fabs(a - b) < 1e-12 * (1 + fabs(b));
}

int
main(void)
{
	FsExecRules r = FS_EXEC_RULES_DEFAULT;
	FsExecDecision d;

	/* close 100, ATR 2: stop 1.5 ATR = 3, target 2 ATR = 4, size 0.01 / 0.03 = 1/3 */
	fs_exec_decide(&r, &(FsExecInput) {0.60, -1, 100, 2, NAN, NAN}, &d);
	check("long at prob 0.60 without regime or VolQuantile: ATR stops",
		  d.side == 1 && near(d.sl, 97) && near(d.tp, 104) && near(d.size, 1.0 / 3) && d.why == FS_EXEC_LONG);
	fs_exec_decide(&r, &(FsExecInput) {0.45, 1, 100, 2, 5, 10}, &d);
	check("short at prob == short_threshold with VolQuantile distances",
		  d.side == -1 && near(d.sl, 105) && near(d.tp, 90) && near(d.size, 0.2) && d.why == FS_EXEC_SHORT);
	fs_exec_decide(&r, &(FsExecInput) {0.55, 1, 100, 2, NAN, NAN}, &d);
	check("long at prob == long_threshold", d.side == 1);
	fs_exec_decide(&r, &(FsExecInput) {0.50, 1, 100, 2, NAN, NAN}, &d);
	check("flat between the thresholds", d.side == 0 && d.size == 0 && isnan(d.sl) && d.why == FS_EXEC_NO_EDGE);
	fs_exec_decide(&r, &(FsExecInput) {0.90, 0, 100, 2, NAN, NAN}, &d);
	check("flat when the gate is closed", d.side == 0 && d.why == FS_EXEC_GATE_CLOSED);
	r.use_gate = 0;
	fs_exec_decide(&r, &(FsExecInput) {0.90, 0, 100, 2, NAN, NAN}, &d);
	check("use_gate 0 ignores the gate", d.side == 1);
	r.use_gate = 1;
	fs_exec_decide(&r, &(FsExecInput) {NAN, 1, 100, 2, NAN, NAN}, &d);
	check("flat without a direction prediction", d.side == 0 && d.why == FS_EXEC_NO_DIRECTION);
	fs_exec_decide(&r, &(FsExecInput) {0.9, 1, 100, NAN, NAN, NAN}, &d);
	check("flat without any stop distance", d.side == 0 && d.why == FS_EXEC_NO_STOP);
	fs_exec_decide(&r, &(FsExecInput) {0.9, 1, 100, 0.1, NAN, NAN}, &d);
	check("size capped at max_size (tight stop)", d.side == 1 && near(d.size, 1.0));
	{
		FsExecRules bad = FS_EXEC_RULES_DEFAULT;

		bad.long_threshold = 0.45;
		check("long <= short refused", fs_exec_rules_invalid(&bad) != NULL);
		bad = (FsExecRules) FS_EXEC_RULES_DEFAULT;
		bad.short_threshold = 0;
		check("threshold 0 refused", fs_exec_rules_invalid(&bad) != NULL);
		bad = (FsExecRules) FS_EXEC_RULES_DEFAULT;
		bad.risk_fraction = -1;
		check("negative risk refused", fs_exec_rules_invalid(&bad) != NULL);
		bad = (FsExecRules) FS_EXEC_RULES_DEFAULT;
		check("defaults accepted", fs_exec_rules_invalid(&bad) == NULL);
	}
	return failures != 0;
}
