/*
 * xgb.h — the XGBoost (1.7 C API) wrapper every fsmml feature uses.
 *
 * Ownership.  Every XGBoost handle lives in a small struct palloc'd in an
 * owner MemoryContext, and a reset callback on that context frees the handle
 * when the context is reset or deleted — including when an ERROR or a query
 * cancel unwinds the transaction.  So callers never need PG_TRY: create the
 * handles in a context that dies with the work (a per-call context, or
 * CacheMemoryContext for a booster cached across calls), and optionally free
 * early with fsxgb_*_free().  The struct is registered with its context before
 * XGBoost allocates the handle, so no ERROR can leave a handle unowned.  The
 * same goes for cJSON trees parsed through fsxgb_json_parse_owned().
 *
 * Errors.  Every failing XGBoost call becomes ereport(ERROR) with
 * errmsg "XGBoost <what> failed: <first line of XGBGetLastError()>" (the
 * timestamp, source location and stack trace XGBoost adds are stripped; the
 * remaining lines go to errdetail).  SQLSTATEs: 22023 invalid_parameter_value
 * for parameter problems, XX001 data_corrupted for a model blob that does not
 * load, 38000 external_routine_exception otherwise.
 *
 * Logs.  XGBoost's log messages ("Parameters: { ... } are not used", ...)
 * are collected by a mutex-guarded callback and re-raised after each call,
 * from the backend thread, as WARNING (XGBoost warnings) or NOTICE.  Global
 * verbosity is 1 (warnings only), so ordinary training is silent.
 *
 * Signals.  While an XGBoost call runs, the backend blocks asynchronous
 * signals except SIGQUIT, so OpenMP worker threads (which inherit the mask)
 * never run PostgreSQL's handlers; a cancel or statement_timeout that
 * arrives during a call is delivered when it returns and honoured by
 * CHECK_FOR_INTERRUPTS() right after it (xgb_signals.c).  One XGBoost call
 * (e.g. one boosting round) cannot be interrupted half-way, so every call is
 * bounded: training boosters refuse parameters over the fsmml.xgb_* limits
 * and check each round's cost, matrices are at most fsmml.xgb_max_cells (memory),
 * predictions run in chunks of rows (xgb_limits.c, xgb_predict.c), and
 * training matrices are built in batches that stop on a pending cancel
 * (xgb_quantile.c).
 *
 * Threads.  Scoring uses fsmml.nthread; training boosters start with
 * nthread = fsmml.train_nthread (0 = fsmml.xgb_max_threads) and a params
 * json "nthread" overrides it because it is applied afterwards; every
 * thread count is capped by fsmml.xgb_max_threads.
 *
 * Initialisation is lazy and once per backend; every entry point does it.
 */
#ifndef FSMML_XGB_H
#define FSMML_XGB_H

#include "postgres.h"

#include <xgboost/c_api.h>
#include <cjson/cJSON.h>

#include "utils/jsonb.h"

typedef struct FsXgbMatrix
{
	DMatrixHandle handle;		/* NULL once freed */
	MemoryContext owner;
	MemoryContextCallback cb;
	uint64		nrow;
	uint64		ncol;
} FsXgbMatrix;

/* What the cost of a boosting round depends on (xgb_limits.c); 0 = unset. */
typedef struct FsXgbLimitState
{
	int			depth;
	int			parallel;		/* num_parallel_tree */
	int			nclass;			/* num_class */
	int			max_bin;
	bool		linear;			/* booster gblinear */
} FsXgbLimitState;

typedef struct FsXgbBooster
{
	BoosterHandle handle;		/* NULL once freed */
	MemoryContext owner;
	MemoryContextCallback cb;
	bool		scoring;		/* nthread follows fsmml.nthread */
	int			nthread;		/* nthread last set on a scoring booster */
	int			inplace;		/* in-place predict works: -1 unknown, 0 no
								 * (gblinear), 1 yes */
	int64		ntrees;			/* trees, for prediction chunks; -1 unknown */
	FsXgbLimitState limits;		/* training boosters: params as set */
	bool		limits_checked; /* round cost checked on the first round */
	int			small_calls;	/* predictions of at most FSXGB_FOREST_MAX_ROWS rows */
	bool		forest_tried;	/* compiled once, kept only if it matched XGBoost */
	struct FsForest *forest;	/* in owner; NULL: predict through XGBoost */
	struct FsForest *unverified;	/* read from the loaded UBJSON, not yet checked */
	bool		release_for_forest; /* free the XGBoost handle once the forest matches */
} FsXgbBooster;

/* ---- library ---------------------------------------------------------- */

/* The fsmml.nthread / fsmml.train_nthread / fsmml.xgb_* GUCs (_PG_init). */
extern void fsxgb_guc_init(void);
/*
 * ERROR (with a hint naming the fsmml.xgb_* setting) unless the XGBoost
 * parameters of a training and its rounds stay within the limits; the data
 * size is checked again when boosting starts (xgb_limits.c).
 */
extern void fsxgb_limits_check_jsonb(Jsonb *params, int rounds);

/* Register the log callback and set verbosity; idempotent, called by all. */
extern void fsxgb_init(void);
/* "1.7.4" (palloc'd). */
extern char *fsxgb_version(void);

/* ---- DMatrix ---------------------------------------------------------- */

/*
 * Dense float32 row-major matrix; NaN = missing.  labels may be NULL, else
 * nrow floats.  nthread <= 0 uses every core (pass fsmml_train_nthread when
 * training, fsmml_nthread when scoring).  XGBoost copies the data.
 */
extern FsXgbMatrix *fsxgb_matrix_create(MemoryContext owner, const float *data,
										uint64 nrow, uint64 ncol,
										const float *labels, int nthread);
/*
 * Training matrix (XGBoost QuantileDMatrix): the rows of blocks, in order,
 * fed to XGBoost in batches straight from the caller's arrays (no copy),
 * which builds its histogram index here rather than in the first boosting
 * round; a cancel, statement_timeout or terminate stops it between batches
 * (xgb_quantile.c).  ref: NULL, or the training matrix whose bins this one
 * (early-stopping validation) reuses.  max_bin must be the booster's.
 * Only training boosters use such a matrix; predict with fsxgb_predict_dense.
 */
typedef struct FsXgbRowBlock
{
	const float *data;			/* nrow x ncol, row-major, NaN = missing */
	const float *labels;		/* nrow, or NULL (then on every block) */
	uint64		nrow;
} FsXgbRowBlock;

extern FsXgbMatrix *fsxgb_matrix_create_quantile(MemoryContext owner,
												 const FsXgbRowBlock *blocks, int nblocks,
												 uint64 ncol, FsXgbMatrix *ref,
												 int max_bin, int nthread);
/* The integer value of key in a params object (as XGBoost reads it), or dflt. */
extern int	fsxgb_jsonb_get_int(Jsonb *params, const char *key, int dflt);

/* field: "label", "weight", "base_margin", "label_lower_bound", ... ; n floats */
extern void fsxgb_matrix_set_float_info(FsXgbMatrix *m, const char *field,
										const float *values, uint64 n);
extern void fsxgb_matrix_set_labels(FsXgbMatrix *m, const float *labels, uint64 n);
/* n must equal ncol.  A booster created with this matrix first in its cache
 * inherits the names (they are saved with the model and used by
 * fsxgb_feature_score). */
extern void fsxgb_matrix_set_feature_names(FsXgbMatrix *m, const char *const *names, int n);
extern void fsxgb_matrix_free(FsXgbMatrix *m);

/* ---- Booster ---------------------------------------------------------- */

/*
 * New booster with the given matrices cached (may be 0).  training = true:
 * nthread = fsmml.train_nthread, validate_parameters = 1 (unknown keys give
 * a WARNING), feature names copied from cache[0] if it has some.
 * training = false: a scoring booster, nthread follows fsmml.nthread.
 */
extern FsXgbBooster *fsxgb_booster_create(MemoryContext owner, FsXgbMatrix *const *cache,
										  int ncache, bool training);
/*
 * Scoring booster from a saved model (UBJ or JSON, as written by
 * fsxgb_booster_save).  The blob is checked structurally first (bounds,
 * tree links, feature / class indices) because XGBoost 1.7 segfaults or
 * loops forever on some corrupt models; anything wrong → ERROR XX001.
 */
extern FsXgbBooster *fsxgb_booster_load(MemoryContext owner, const void *buf, Size len);
extern FsXgbBooster *fsxgb_booster_load_bytea(MemoryContext owner, bytea *blob);
/*
 * While on, loaded boosters give up their XGBoost handle once their forest
 * is compiled and matches XGBoost: every later prediction, of any number of
 * rows, runs on the forest (live scoring's cached champions, which would
 * otherwise hold XGBoost's copy of the model and its caches as well).
 */
extern void fsxgb_release_for_forest(bool on);
/* ERROR XX001 unless buf is a model blob XGBoost can safely load. */
extern void fsxgb_model_validate(const void *buf, Size len);
/* Trees [begin, end) of b as a new scoring booster (end = 0: to the last). */
extern FsXgbBooster *fsxgb_booster_slice(MemoryContext owner, FsXgbBooster *b,
										 int begin, int end);
extern void fsxgb_booster_free(FsXgbBooster *b);

extern void fsxgb_booster_set_param(FsXgbBooster *b, const char *key, const char *value);
/*
 * Apply a jsonb object of XGBoost parameters: numbers as written (an
 * integral value like 6.0 becomes "6"), booleans "1"/"0" (XGBoost's bool
 * and int parameters both accept them), strings as is.  "eval_metric" may
 * also be an array of strings (one SetParam each: several metrics).  Null,
 * nested objects and other arrays → ERROR 22023.  Not an object → ERROR
 * "XGBoost parameters must be a JSON object".
 */
extern void fsxgb_booster_set_params_jsonb(FsXgbBooster *b, Jsonb *params);
/* The string value of a top-level key of a jsonb object, or NULL. */
extern char *fsxgb_jsonb_get_string(Jsonb *params, const char *key);

/* One boosting round (XGBoosterUpdateOneIter); also configures the booster,
 * so invalid parameter values surface here as ERROR 22023. */
extern void fsxgb_booster_update(FsXgbBooster *b, int iter, FsXgbMatrix *dtrain);
/* xgb_custom.c: one round from the caller's gradient and hessian (n = rows of dtrain). */
extern void fsxgb_booster_boost_grad(FsXgbBooster *b, int iter, FsXgbMatrix *dtrain,
									 float *grad, float *hess, uint64 n);
/* "[iter]\tname-metric:value..." (palloc'd). */
extern char *fsxgb_booster_eval(FsXgbBooster *b, int iter, FsXgbMatrix *const *mats,
								const char *const *names, int n);
/*
 * The value of "<dataname>-<metric>" in an eval string; metric NULL = the
 * last metric of that data set (the one XGBoost's early stopping uses).
 * Returns false when absent.
 */
extern bool fsxgb_eval_metric(const char *evalstr, const char *dataname,
							  const char *metric, double *value);

/* Model blob; format "ubj" (binary, compact) or "json". */
extern bytea *fsxgb_booster_save(FsXgbBooster *b, const char *format);
extern uint64 fsxgb_booster_num_features(FsXgbBooster *b);
extern int	fsxgb_booster_boosted_rounds(FsXgbBooster *b);
/* XGBoosterSaveJsonConfig, palloc'd string / owned cJSON tree. */
extern char *fsxgb_booster_config(FsXgbBooster *b);
extern cJSON *fsxgb_booster_config_json(FsXgbBooster *b, MemoryContext owner);
/* Prediction values per row: max(1, num_class). */
extern int	fsxgb_booster_num_groups(FsXgbBooster *b);
/* learner.objective.name, palloc'd. */
extern char *fsxgb_booster_objective(FsXgbBooster *b);
/* String attributes saved with the model; get returns NULL when unset. */
extern void fsxgb_booster_set_attr(FsXgbBooster *b, const char *key, const char *value);
extern char *fsxgb_booster_get_attr(FsXgbBooster *b, const char *key);

/*
 * Normal prediction (transformed values) of every row of m into out, which
 * holds out_len floats: out_len must be m->nrow * num_groups.  Returns
 * out_len.
 */
extern uint64 fsxgb_predict(FsXgbBooster *b, FsXgbMatrix *m, float *out, uint64 out_len);
/*
 * In-place prediction from a dense float32 row-major block (one bar: nrow =
 * 1), NaN = missing, no DMatrix.  ncol must equal the booster's features.
 * gblinear cannot predict in place in XGBoost 1.7; for it a temporary
 * DMatrix is used instead.
 */
extern uint64 fsxgb_predict_dense(FsXgbBooster *b, const float *data, uint64 nrow,
								  uint64 ncol, float *out, uint64 out_len);

/*
 * Feature importance; importance_type: weight, gain, cover, total_gain,
 * total_cover.  Only features used by some split are returned.  *names and
 * *scores are palloc'd arrays; returns their length.
 */
extern int	fsxgb_feature_score(FsXgbBooster *b, const char *importance_type,
								char ***names, double **scores);

/* ---- cJSON owned by a memory context ----------------------------------- */

/* Parse s; the tree is cJSON_Delete'd when owner is reset/deleted.  ERROR on
 * invalid JSON. */
extern cJSON *fsxgb_json_parse_owned(const char *s, MemoryContext owner);
/* Hand an existing tree to owner (returns json). */
extern cJSON *fsxgb_json_own(cJSON *json, MemoryContext owner);
/* cJSON_PrintUnformatted into a palloc'd string (the malloc'd one is freed). */
extern char *fsxgb_json_print(const cJSON *json);

#endif							/* FSMML_XGB_H */
