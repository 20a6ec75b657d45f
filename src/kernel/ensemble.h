/*
 * ensemble.h — EnsembleWeighted's combination of one bar's agent outputs (pure C).
 *
 * Votes in [-1, 1]: direction 2 (prob_up - 0.5); state +confidence/100 in
 * trend_up, -confidence/100 in trend_down, 0 in any other state; execution
 * its side.  score = sum(w v) / sum(w) over the agents present (an absent
 * agent's weight drops out); a closed regime gate multiplies the score by
 * (1 - w_regime).  side = sign(score) when |score| >= min_strength and the
 * direction agent is present, else 0; strength = |score| (0 when flat
 * for want of a direction).  sl/tp: ExecRules' when it agrees on the side,
 * else close -/+ side x the given stop/target distances; NaN when flat.
 */
#ifndef FSMML_ENSEMBLE_H
#define FSMML_ENSEMBLE_H

typedef struct FsEnsembleWeights
{
	double		direction;		/* 1.0 */
	double		state;			/* 0.5 */
	double		execution;		/* 1.0 */
	double		regime;			/* 0.5: damping of a closed gate, in [0, 1] */
	double		min_strength;	/* 0.1 */
} FsEnsembleWeights;

typedef struct FsEnsembleInput
{
	double		prob_up;		/* NaN: no direction */
	int			state;			/* FsFsmState; -1: no state agent */
	double		state_confidence;	/* 0..100 */
	int			has_exec;
	int			exec_side;
	double		exec_sl,
				exec_tp;
	int			gate;			/* 1, 0, -1 none */
	double		close;
	double		sl_dist,
				tp_dist;		/* NaN: unknown */
} FsEnsembleInput;

typedef struct FsEnsembleOutput
{
	int			side;
	double		strength;		/* 0..1 */
	double		score;			/* signed, before the threshold */
	double		sl,
				tp;
} FsEnsembleOutput;

/* NULL when usable, else what is wrong (a negative weight, all zero, regime > 1, ...). */
extern const char *fs_ensemble_weights_invalid(const FsEnsembleWeights *w);
extern void fs_ensemble_combine(const FsEnsembleWeights *w, const FsEnsembleInput *in,
								FsEnsembleOutput *out);

#endif							/* FSMML_ENSEMBLE_H */
