/*
 * xgb_internal.h — what the files of src/xgb/ share and nobody else uses:
 * the call wrapper (signals, logs, errors), handle checks, limits state.
 */
#ifndef FSMML_XGB_INTERNAL_H
#define FSMML_XGB_INTERNAL_H

#include <signal.h>

#include "xgb.h"

/* Predict configs.  "missing": NaN is accepted by XGBoost's JSON reader. */
#define FSXGB_PREDICT_CONFIG \
	"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, " \
	"\"iteration_end\": 0, \"strict_shape\": false}"
#define FSXGB_INPLACE_CONFIG \
	"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, " \
	"\"iteration_end\": 0, \"strict_shape\": false, \"missing\": NaN, " \
	"\"cache_id\": 0}"

#define FSXGB_PARAM_HINT \
	"See https://xgboost.readthedocs.io/en/release_1.7.0/parameter.html for XGBoost's parameters and their valid values."
#define FSXGB_CORRUPT_HINT \
	"The stored model is damaged or was not written by fsmml's XGBoost 1.7; train it again."

#define FSXGB_EXTERNAL ERRCODE_EXTERNAL_ROUTINE_EXCEPTION
#define FSXGB_CLASSIFY 0

/* xgb_forest.c: rows predicted by a booster's forest at most */
#define FSXGB_FOREST_MAX_ROWS 16
extern bool fsxgb_forest_predict(FsXgbBooster *b, const float *data, uint64 nrow, uint64 ncol,
								 float *out, uint64 groups);
extern void fsxgb_forest_read(FsXgbBooster *b, const void *buf, Size len);
/* xgb_predict.c: fsxgb_predict_dense without the forest */
extern uint64 fsxgb_predict_xgboost(FsXgbBooster *b, const float *data, uint64 nrow, uint64 ncol,
									float *out, uint64 out_len);

/* xgb_signals.c */
extern void fsxgb_signals_init(void);
extern void fsxgb_signals_block(sigset_t *old);
extern void fsxgb_signals_restore(const sigset_t *old);

/* xgb_errors.c */
extern bool fsxgb_initialized;
extern void fsxgb_log_flush(void);
extern void fsxgb_raise(const char *raw, const char *what, int sqlstate) pg_attribute_noreturn();
extern void fsxgb_after_call(int rc, const char *what, int sqlstate);
extern void fsxgb_free_quietly(int (*freefn) (void *), void *handle);

/*
 * Run one XGBoost call with asynchronous signals blocked except SIGQUIT
 * (xgb_signals.c), then flush logs, raise its error, and honour a cancel or
 * timeout that arrived meanwhile (CHECK_FOR_INTERRUPTS in fsxgb_after_call).
 * Every call is bounded by fsmml.xgb_* (xgb_limits.c), so the wait is short.
 */
#define FSXGB_CALL(what, sqlstate, call) \
	do { \
		int			fsxgb_rc_; \
		sigset_t	fsxgb_oldmask_; \
		fsxgb_signals_block(&fsxgb_oldmask_); \
		fsxgb_rc_ = (call); \
		fsxgb_signals_restore(&fsxgb_oldmask_); \
		fsxgb_after_call(fsxgb_rc_, (what), (sqlstate)); \
	} while (0)

/* xgb_matrix.c / xgb_booster.c */
extern void fsxgb_matrix_own(FsXgbMatrix *m, MemoryContext owner, uint64 nrow, uint64 ncol);
extern void fsxgb_matrix_check(FsXgbMatrix *m);
extern void fsxgb_booster_check(FsXgbBooster *b);
extern void fsxgb_scoring_threads(FsXgbBooster *b);
extern char *fsxgb_config_learner_string(FsXgbBooster *b, const char *section,
										 const char *key);

/* xgb_params.c: the string XGBoost gets for a scalar jsonb value, or NULL */
extern char *fsxgb_jsonb_scalar_text(const JsonbValue *v);

/* xgb_limits.c */
extern int	fsxgb_threads(int requested);
/* A training booster's parameter key = value: refuse it (ERROR) if it
 * escapes the limits, record what the round cost depends on; returns the
 * value to pass on (nthread resolved), palloc'd or value itself. */
extern const char *fsxgb_limits_key(FsXgbLimitState *st, const char *key,
									const char *value);
extern double fsxgb_round_work(const FsXgbLimitState *st, uint64 nrow, uint64 ncol);
extern const char *fsxgb_limits_param(FsXgbBooster *b, const char *key, const char *value);
/* Before boosting round iter on dtrain: ERROR if over the limits. */
extern void fsxgb_limits_round(FsXgbBooster *b, int iter, FsXgbMatrix *dtrain);
extern void fsxgb_limits_matrix(uint64 nrow, uint64 ncol);
/* Rows per prediction call for b (bounded work per call). */
extern uint64 fsxgb_predict_chunk_rows(FsXgbBooster *b);

#endif							/* FSMML_XGB_INTERNAL_H */
