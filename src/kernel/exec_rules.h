/*
 * exec_rules.h — ExecRules, the execution agent's decision (pure C).
 *
 * Rules, not learning: long when prob_up >= long_threshold, short when
 * prob_up <= short_threshold, flat otherwise or when the regime gate is
 * closed.  Stops and targets come from VolQuantile's distances when it has
 * them, else from ATR multiples; size is the fraction of equity that loses
 * risk_fraction when the stop is hit, capped at max_size.  The same
 * decision drives DirectionXGB's hold-out backtest and the promotion rule.
 */
#ifndef FSMML_EXEC_RULES_H
#define FSMML_EXEC_RULES_H

typedef struct FsExecRules
{
	double		long_threshold;		/* 0.55 */
	double		short_threshold;	/* 0.45 */
	double		sl_atr;				/* stop distance in ATRs without VolQuantile: 1.5 */
	double		tp_atr;				/* target distance in ATRs without VolQuantile: 2.0 */
	double		risk_fraction;		/* equity lost at the stop: 0.01 */
	double		max_size;			/* cap on size (fraction of equity): 1.0 */
	int			use_gate;			/* obey RegimeKMeans' gate: 1 */
} FsExecRules;

#define FS_EXEC_RULES_DEFAULT {0.55, 0.45, 1.5, 2.0, 0.01, 1.0, 1}

typedef struct FsExecInput
{
	double		prob_up;		/* NaN: no direction prediction */
	int			gate;			/* 1 open, 0 closed, -1 no regime prediction (treated as open) */
	double		close;			/* the bar's close */
	double		atr;			/* ATR in price units; NaN in warm-up */
	double		sl_dist;		/* VolQuantile's stop distance in price units; NaN: use ATR */
	double		tp_dist;		/* VolQuantile's target distance; NaN: use ATR */
} FsExecInput;

typedef enum FsExecWhy
{
	FS_EXEC_LONG,
	FS_EXEC_SHORT,
	FS_EXEC_NO_EDGE,			/* short_threshold < prob_up < long_threshold */
	FS_EXEC_NO_DIRECTION,		/* prob_up missing */
	FS_EXEC_GATE_CLOSED,
	FS_EXEC_NO_STOP				/* neither VolQuantile nor ATR gives a stop distance */
} FsExecWhy;

typedef struct FsExecDecision
{
	int			side;			/* -1, 0, 1 */
	double		size;			/* 0 when flat */
	double		sl;				/* price; NaN when flat */
	double		tp;				/* price; NaN when flat */
	double		sl_dist;		/* the distances used (price units); NaN when unknown */
	double		tp_dist;
	FsExecWhy	why;
} FsExecDecision;

/* NULL when usable, else what is wrong (thresholds in (0, 1), long > short, ...). */
extern const char *fs_exec_rules_invalid(const FsExecRules *r);
extern void fs_exec_decide(const FsExecRules *r, const FsExecInput *in, FsExecDecision *out);
/* "long", "gate closed", ... (static text). */
extern const char *fs_exec_why_text(FsExecWhy why);

#endif							/* FSMML_EXEC_RULES_H */
