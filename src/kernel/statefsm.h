/*
 * statefsm.h — the effort/result state machine's rules (pure C).
 *
 * A bar's state follows from its state metrics (features_kernel: effort,
 * result, compression, slope, speed) and six thresholds (a calibration row,
 * else percentiles of the training window).  Rules in priority order:
 *
 *   absorption   effort >= effort_p80 and result <= result_p20   (volume spent, price held)
 *   exhaustion   effort >= effort_p80 and result >= result_p80 and speed >= layer_sep
 *                                                                  (climax: stretched layers)
 *   expansion    result >= result_p80 and compression < layer_sep (a wide bar out of tangled layers)
 *   trend_up     slope >= bias_slope
 *   trend_down   slope <= -bias_slope
 *   compression  compression < layer_sep and result < result_p80 (flat, tangled, quiet)
 *   neutral      none of the above
 *
 * Confidence 0..100 is 50 + 50 x the smallest relative margin by which the
 * deciding conditions hold (capped at 1): a bar just over a threshold scores
 * 50, one far beyond every threshold 100; neutral scores 50 minus how close
 * the nearest rule came.
 */
#ifndef FSMML_STATEFSM_H
#define FSMML_STATEFSM_H

typedef enum FsFsmState
{
	FS_FSM_UNKNOWN = -1,		/* a metric is NaN (warm-up) */
	FS_FSM_NEUTRAL = 0,
	FS_FSM_COMPRESSION,
	FS_FSM_ABSORPTION,
	FS_FSM_EXPANSION,
	FS_FSM_TREND_UP,
	FS_FSM_TREND_DOWN,
	FS_FSM_EXHAUSTION,
	FS_FSM_NSTATES
} FsFsmState;

typedef struct FsFsmThresholds
{
	double		effort_p20,
				effort_p80,
				result_p20,
				result_p80,
				layer_sep,
				bias_slope;
} FsFsmThresholds;

typedef struct FsFsmMetrics
{
	double		effort,
				result,
				compression,
				slope,
				speed;
} FsFsmMetrics;

extern const char *fs_fsm_state_name(FsFsmState s);
extern FsFsmState fs_fsm_state_from_name(const char *name);		/* UNKNOWN if none */

/* NULL when the thresholds are usable, else what is wrong with them. */
extern const char *fs_fsm_thresholds_invalid(const FsFsmThresholds *t);

/* The bar's state and its confidence (0..100; 0 for UNKNOWN). */
extern FsFsmState fs_fsm_classify(const FsFsmMetrics *m, const FsFsmThresholds *t,
								  double *confidence);

/* The reason of a transition into s, one short line (static text). */
extern const char *fs_fsm_reason(FsFsmState s);

#endif							/* FSMML_STATEFSM_H */
