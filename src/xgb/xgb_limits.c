/*
 * xgb_limits.c — the XGBoost settings (GUCs) and the limits that bound
 * every XGBoost call, so a cancel, statement_timeout or terminate is acted
 * on within a second (an XGBoost 1.7 call cannot be interrupted half-way).
 *
 * Superuser-only (PGC_SUSET) bounds on what any role may ask:
 *   fsmml.xgb_max_threads          threads of any XGBoost call
 *   fsmml.xgb_max_depth            max_depth (0 = unlimited is refused)
 *   fsmml.xgb_max_trees_per_round  num_parallel_tree x output groups
 *   fsmml.xgb_max_bin              max_bin
 *   fsmml.xgb_max_rounds           boosting rounds (params.rounds)
 *   fsmml.xgb_max_cells            rows x features of one DMatrix (memory: a
 *       training matrix is built in batches a cancel stops, xgb_quantile.c)
 *   fsmml.xgb_max_round_work       the estimated work of ONE boosting round:
 *       gbtree   trees x (depth x cells + 4 x min(2^depth, rows) x features x bins)
 *       (building histograms, then evaluating every bin of every node: the
 *       second costs about 4 times more per unit, measured)
 *       gblinear groups x cells
 * Refused outright: booster dart (its rounds re-predict every earlier
 * tree), tree_method other than hist (exact and approx cost more per round
 * and are not what fsmml trains with), updater (it picks the algorithm) and
 * process_type other than default.  Values XGBoost itself rejects (negative
 * depth, ...) pass through so its own message is what the user sees.
 *
 * User-settable fsmml.nthread / fsmml.train_nthread are capped by
 * fsmml.xgb_max_threads: SET above it is refused, and a larger value that
 * came from elsewhere (a role's default, a lowered cap) is clamped.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "fsmml.h"
#include "xgb.h"
#include "xgb_internal.h"

int			fsmml_nthread = 1;
int			fsmml_train_nthread = 0;

int			fsxgb_max_threads = 4;
int			fsxgb_max_depth = 8;
int			fsxgb_max_trees_per_round = 16;
int			fsxgb_max_bin = 256;
int			fsxgb_max_rounds = 10000;
int			fsxgb_max_cells = 64000000;
double		fsxgb_max_round_work = 1e8;

static bool
fsxgb_check_nthread(int *newval, void **extra, GucSource source)
{
	/* SET in a session; values from files and role defaults are clamped at use */
	if (source >= PGC_S_INTERACTIVE && *newval > fsxgb_max_threads)
	{
		GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
		GUC_check_errdetail("At most %d threads: fsmml.xgb_max_threads.", fsxgb_max_threads);
		GUC_check_errhint("A superuser can raise fsmml.xgb_max_threads.");
		return false;
	}
	return true;
}

/*
 * XGBoost 1.7 runs some OpenMP loops before a booster is configured (loading
 * a model runs one over its trees) with OpenMP's default team, one thread per
 * core, whatever nthread says.  Every call fsmml wants parallel passes its
 * thread count, so the default team is one thread: a training or a job with
 * nthread 1 stays on one.  Weak: resolved from libgomp, libxgboost's own.
 */
extern void omp_set_num_threads(int) __attribute__((weak));

void
fsxgb_guc_init(void)
{
	if (omp_set_num_threads)
		omp_set_num_threads(1);

	DefineCustomIntVariable("fsmml.nthread",
							"Threads XGBoost uses when scoring.",
							"Scoring runs inside a backend per bar; one thread keeps latency predictable.  At most fsmml.xgb_max_threads.",
							&fsmml_nthread,
							1, 1, 256,
							PGC_USERSET, 0,
							fsxgb_check_nthread, NULL, NULL);

	DefineCustomIntVariable("fsmml.train_nthread",
							"Threads XGBoost uses when training; 0 uses fsmml.xgb_max_threads.",
							"params.xgb.nthread overrides it for one training.",
							&fsmml_train_nthread,
							0, 0, 256,
							PGC_USERSET, 0,
							fsxgb_check_nthread, NULL, NULL);

	DefineCustomIntVariable("fsmml.xgb_max_threads",
							"Most threads any XGBoost call may use.",
							"Caps fsmml.nthread, fsmml.train_nthread and params.xgb.nthread.",
							&fsxgb_max_threads,
							4, 1, 256,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("fsmml.xgb_max_depth",
							"Largest XGBoost max_depth a training may use.",
							"max_depth 0 (unlimited) is refused.  XGBoost's histograms take nodes x features x bins: at depth 10 the first rounds allocate about 170 MB and take seconds.",
							&fsxgb_max_depth,
							8, 1, 64,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("fsmml.xgb_max_trees_per_round",
							"Most trees one boosting round may grow: num_parallel_tree times output groups (num_class).",
							NULL,
							&fsxgb_max_trees_per_round,
							16, 1, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("fsmml.xgb_max_bin",
							"Largest XGBoost max_bin a training may use.",
							NULL,
							&fsxgb_max_bin,
							256, 2, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("fsmml.xgb_max_rounds",
							"Most boosting rounds of one fit.",
							"Bounds model size, hence the cost of saving, loading and predicting.",
							&fsxgb_max_rounds,
							10000, 1, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("fsmml.xgb_max_cells",
							"Most cells (rows x features) of one XGBoost matrix.",
							"Bounds memory: training matrices are built in batches that a cancel stops, and each round's cost is bounded by fsmml.xgb_max_round_work.",
							&fsxgb_max_cells,
							64000000, 1, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomRealVariable("fsmml.xgb_max_round_work",
							 "Most estimated work of one boosting round.",
							 "gbtree: trees x (depth x rows x features + 4 x min(2^depth, rows) x features x max_bin); gblinear: groups x rows x features.  The default keeps one round under about 0.5 s on one busy core.",
							 &fsxgb_max_round_work,
							 1e8, 1e3, 1e15,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
}

int
fsxgb_threads(int requested)
{
	if (requested <= 0 || requested > fsxgb_max_threads)
		return fsxgb_max_threads;
	return requested;
}

static void
refuse(const char *key, const char *value, const char *why, const char *guc, int limit)
{
	if (guc)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("XGBoost parameter %s = %s is over the limit: %s", key, value, why),
				 errhint("The limit is the superuser setting %s (now %d).", guc, limit)));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("XGBoost parameter %s = %s is not allowed: %s", key, value, why),
			 errhint("fsmml bounds the cost of every boosting round so that a cancel or statement_timeout stops training within a second; see README, \"Limits\".")));
}

/* An integer as XGBoost reads it (leading/trailing blanks); false if not. */
static bool
xgb_parse_int(const char *s, long *v)
{
	char	   *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	if (end == s || errno != 0)
		return false;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	return *end == '\0';
}

/* A bounded integer parameter: not an integer → refused (it could not be
 * checked), negative → XGBoost's own error, above the limit → refused. */
static long
bounded_int(const char *key, const char *value, long lo_refused_upto,
			const char *why_low, const char *guc, int limit)
{
	long		v;

	if (!xgb_parse_int(value, &v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("XGBoost parameter %s must be an integer, not \"%s\"", key, value)));
	if (v >= 0 && v <= lo_refused_upto)
		refuse(key, value, why_low, NULL, 0);
	if (v > limit)
		refuse(key, value, psprintf("at most %d", limit), guc, limit);
	return v;
}

static void
fsxgb_limits_defaults(FsXgbLimitState *st)
{
	if (st->depth == 0)
	{
		st->depth = 6;			/* XGBoost's defaults */
		st->parallel = 1;
		st->nclass = 0;
		st->max_bin = 256;
	}
}

const char *
fsxgb_limits_key(FsXgbLimitState *st, const char *key, const char *value)
{
	fsxgb_limits_defaults(st);
	if (strcmp(key, "nthread") == 0 || strcmp(key, "n_jobs") == 0)
	{
		long		v;

		if (!xgb_parse_int(value, &v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("XGBoost parameter %s must be an integer, not \"%s\"", key, value)));
		if (v > fsxgb_max_threads)
			refuse(key, value, psprintf("at most %d threads", fsxgb_max_threads),
				   "fsmml.xgb_max_threads", fsxgb_max_threads);
		return psprintf("%d", fsxgb_threads((int) v));
	}
	if (strcmp(key, "max_depth") == 0)
		st->depth = bounded_int(key, value, 0, "0 means unlimited depth",
								"fsmml.xgb_max_depth", fsxgb_max_depth);
	else if (strcmp(key, "num_parallel_tree") == 0)
		st->parallel = bounded_int(key, value, -1, NULL,
								   "fsmml.xgb_max_trees_per_round", fsxgb_max_trees_per_round);
	else if (strcmp(key, "num_class") == 0)
		st->nclass = bounded_int(key, value, -1, NULL,
								 "fsmml.xgb_max_trees_per_round", fsxgb_max_trees_per_round);
	else if (strcmp(key, "max_bin") == 0)
		st->max_bin = bounded_int(key, value, -1, NULL, "fsmml.xgb_max_bin", fsxgb_max_bin);
	else if (strcmp(key, "booster") == 0)
	{
		if (strcmp(value, "dart") == 0)
			refuse(key, value, "a dart round re-predicts every earlier tree, so its cost grows without bound; use gbtree", NULL, 0);
		st->linear = strcmp(value, "gblinear") == 0;
	}
	else if (strcmp(key, "tree_method") == 0)
	{
		if (strcmp(value, "hist") != 0)
			refuse(key, value, "only hist (exact, approx and auto cost more per round)", NULL, 0);
	}
	else if (strcmp(key, "updater") == 0)
		refuse(key, value, "the updater follows from tree_method and booster", NULL, 0);
	else if (strcmp(key, "process_type") == 0)
	{
		if (strcmp(value, "default") != 0)
			refuse(key, value, "only default", NULL, 0);
	}

	if (st->parallel > 0 &&
		(double) st->parallel * Max(st->nclass, 1) > fsxgb_max_trees_per_round)
		refuse(key, value,
			   psprintf("num_parallel_tree %d x num_class %d is over %d trees per round",
						st->parallel, Max(st->nclass, 1), fsxgb_max_trees_per_round),
			   "fsmml.xgb_max_trees_per_round", fsxgb_max_trees_per_round);
	return value;
}

double
fsxgb_round_work(const FsXgbLimitState *st0, uint64 nrow, uint64 ncol)
{
	FsXgbLimitState st = *st0;
	double		cells = (double) nrow * (double) ncol;
	double		trees;
	double		nodes;

	fsxgb_limits_defaults(&st);
	trees = (double) Max(st.parallel, 1) * Max(st.nclass, 1);
	if (st.linear)
		return Max(st.nclass, 1) * cells;
	nodes = Min(ldexp(1.0, Max(st.depth, 1)), (double) Max(nrow, 1));
	return trees * (Max(st.depth, 1) * cells + 4.0 * nodes * (double) ncol * Max(st.max_bin, 2));
}

void
fsxgb_limits_matrix(uint64 nrow, uint64 ncol)
{
	if ((double) nrow * (double) ncol > (double) fsxgb_max_cells)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("XGBoost matrix of " UINT64_FORMAT " rows x " UINT64_FORMAT " features is over the limit of %d cells",
						nrow, ncol, fsxgb_max_cells),
				 errhint("Train on a shorter lookback or fewer features, or ask a superuser to raise fsmml.xgb_max_cells.")));
}

const char *
fsxgb_limits_param(FsXgbBooster *b, const char *key, const char *value)
{
	if (b->scoring)
		return value;
	return fsxgb_limits_key(&b->limits, key, value);
}

void
fsxgb_limits_round(FsXgbBooster *b, int iter, FsXgbMatrix *dtrain)
{
	double		work;

	if (iter >= fsxgb_max_rounds)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("boosting round %d is over the limit of %d rounds", iter + 1, fsxgb_max_rounds),
				 errhint("The limit is the superuser setting fsmml.xgb_max_rounds.")));
	if (iter > 0 && b->limits_checked)
		return;
	/* a negative depth etc. is XGBoost's error, raised by the round itself */
	if (b->limits.depth < 0 || b->limits.parallel < 0 || b->limits.nclass < 0 ||
		b->limits.max_bin < 0)
		return;
	work = fsxgb_round_work(&b->limits, dtrain->nrow, dtrain->ncol);
	if (work > fsxgb_max_round_work)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("one boosting round would cost %.3g units of work, over the limit of %.3g",
						work, fsxgb_max_round_work),
				 errdetail("max_depth %d, %d tree(s) per round, max_bin %d, " UINT64_FORMAT " rows x " UINT64_FORMAT " features.",
						   b->limits.depth, Max(b->limits.parallel, 1) * Max(b->limits.nclass, 1),
						   b->limits.max_bin, dtrain->nrow, dtrain->ncol),
				 errhint("Use a smaller max_depth (the work grows with it; rows and features count once), num_parallel_tree or max_bin, a shorter lookback or fewer features, or ask a superuser to raise fsmml.xgb_max_round_work.")));
	b->limits_checked = true;
}

void
fsxgb_limits_check_jsonb(Jsonb *params, int rounds)
{
	FsXgbLimitState st;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (rounds > fsxgb_max_rounds)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("params.rounds = %d is over the limit of %d rounds", rounds, fsxgb_max_rounds),
				 errhint("The limit is the superuser setting fsmml.xgb_max_rounds.")));
	if (params == NULL || !JB_ROOT_IS_OBJECT(params))
		return;
	memset(&st, 0, sizeof(st));
	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *s;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE || (s = fsxgb_jsonb_scalar_text(&v)) == NULL)
			continue;			/* arrays and nulls: fsxgb_booster_set_params_jsonb's errors */
		(void) fsxgb_limits_key(&st, key, s);
	}
}

uint64
fsxgb_predict_chunk_rows(FsXgbBooster *b)
{
	/* about 2^22 row-trees per call: well under 0.1 s at depth 10 */
	double		trees = Max(b->ntrees, 1);
	double		rows = ldexp(1.0, 22) / trees;

	return (uint64) Max(Min(rows, 65536.0), 1.0);
}
