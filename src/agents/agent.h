/*
 * agent.h — one interface, six agents (README, "Agents").
 *
 * Each agent is one C file in src/agents/ exporting one FsAgent: its kind,
 * its parameters (defaults in trading.agents.default_params, checked here),
 * training (blob + metrics, registered as a version), loading a blob,
 * predicting a batch of bars (one bar is a batch of one) and writing its
 * payload.  fsmml_train and fsmml_score find agents in one table
 * (agent.c) and never switch on names.
 *
 * Scoring fills one FsAgentRow per bar, agent after agent in table order:
 * direction, regime, volatility and state read only features; execution
 * reads what those wrote; the ensemble reads everything.
 */
#ifndef FSMML_AGENT_H
#define FSMML_AGENT_H

#include "postgres.h"

#include <cjson/cJSON.h>

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "bars.h"
#include "dataset.h"
#include "registry.h"
#include "train.h"

/* One bar's outputs of every agent (NaN / -1 = that agent did not run). */
typedef struct FsAgentRow
{
	double		close;			/* inputs, filled by the caller */
	double		atr;			/* ATR14 in price units; NaN in warm-up */
	float		prob_up;		/* direction */
	signed char regime;			/* regime: FS_REGIME_* or -1 */
	signed char gate;			/* 1 open, 0 closed, -1 none */
	short		cluster;
	float		sigma;			/* volatility: median |move| in price units */
	float		sl_dist;		/* stop / target distances in price units */
	float		tp_dist;
	signed char state;			/* state: FsFsmState, -1 unknown / none */
	signed char next_state;
	double		confidence;		/* rounded to 0.01 as stored, so the ensemble sees the stored value */
	float		m[6];			/* effort, result, compression, slope, speed, feat_score */
	signed char side;			/* execution */
	signed char why;			/* FsExecWhy */
	float		size;
	double		sl;
	double		tp;
	signed char ens_side;		/* ensemble */
	float		strength;
	double		ens_sl;
	double		ens_tp;
} FsAgentRow;

#define FS_REGIME_TREND 0
#define FS_REGIME_MEAN_REVERT 1
#define FS_REGIME_CHOP 2
extern const char *const fs_regime_names[3];

/* What predict gets: bars [row_from, row_from + n) and their features. */
typedef struct FsAgentBatch
{
	const FsmmlBars *bars;
	int64		row_from;
	const FsmmlDataset *ds;		/* rows aligned with the bars, columns = every agent's inputs */
	FsAgentRow *rows;			/* n rows */
	int64		n;
} FsAgentBatch;

/* A loaded version (a champion when scoring). */
typedef struct FsAgentModel
{
	const struct FsAgent *agent;
	int64		version_id;
	char	   *version;
	int			horizon;
	List	   *features;		/* of char *: columns of FsAgentBatch.ds it reads */
	void	   *state;			/* the agent's own */
} FsAgentModel;

typedef struct FsAgentTrainCtx
{
	const char *agent;
	const char *symbol;
	const char *timeframe;
	Jsonb	   *params;			/* the caller's */
	MemoryContext cxt;
} FsAgentTrainCtx;

typedef struct FsAgent
{
	const char *name;
	const char *kind;
	const char *const *param_keys;	/* accepted keys, NULL-terminated */
	/* Checks merged params (defaults + caller's); ERROR with a hint on a bad value. */
	void		(*validate) (cJSON *params, const char *timeframe);
	/* Trains, registers, promotes; the row fsmml_train returns. */
	FsmmlTrainResult (*train) (FsAgentTrainCtx *ctx);
	/* Reads a version's blob (and params) into m->state and m->features. */
	void		(*load) (FsAgentModel *m, bytea *blob, cJSON *params, MemoryContext cxt);
	/* Fills its fields of rows [from, to) of the batch. */
	void		(*predict) (FsAgentModel *m, const FsAgentBatch *b, int64 from, int64 to);
	/* The payload of one row; NULL: no prediction for the row. */
	Jsonb	   *(*payload) (FsAgentModel *m, const FsAgentRow *r);
	/* Writes to trading.agentpreds (the ensemble writes agentsignals instead). */
	bool		writes_preds;
} FsAgent;

extern const FsAgent fsmml_agent_direction_xgb;
extern const FsAgent fsmml_agent_regime_kmeans;
extern const FsAgent fsmml_agent_vol_quantile;
extern const FsAgent fsmml_agent_state_fsm;
extern const FsAgent fsmml_agent_exec_rules;
extern const FsAgent fsmml_agent_ensemble_weighted;

/* ---- agent.c: the table */

extern const FsAgent *const fsmml_agents[];
extern const int fsmml_nagents;
/* ERROR (with a hint naming the agents) unless name is one. */
extern const FsAgent *fsmml_agent_get(const char *name);
/* One row: a batch of one. */
extern void fsmml_agent_predict_row(FsAgentModel *m, const FsAgentBatch *b, int64 row);
/* Column in ds of each of m->features (ERROR when one is missing). */
extern int *fsmml_agent_columns(FsAgentModel *m, const FsmmlDataset *ds);
/* ---- agent_jsonb.c: payloads built as jsonb directly */

/*
 * A payload under construction: its JsonbValue tree in the struct itself (no
 * palloc per key), laid out by JsonbValueToJsonb at the end.  Pairs of open
 * objects stack up from the front of pairs[]; a closed nested object moves
 * to the back, so each object's pairs are contiguous.
 */
#define FS_JB_MAXPAIRS 24
#define FS_JB_MAXELEMS 16
#define FS_JB_MAXDEPTH 4
typedef struct FsJb
{
	JsonbValue	root;
	JsonbPair	pairs[FS_JB_MAXPAIRS];
	JsonbValue	elems[FS_JB_MAXELEMS];
	int			npairs;			/* front: pairs of open objects */
	int			nback;			/* back: pairs of closed nested objects */
	int			nelems;
	int			depth;
	int			start[FS_JB_MAXDEPTH];	/* first pair of each open object */
} FsJb;
extern void fsmml_jb_begin(FsJb *b);
extern void fsmml_jb_num(FsJb *b, const char *key, double x, bool f32);	/* NaN: null */
extern void fsmml_jb_str(FsJb *b, const char *key, const char *s);
extern void fsmml_jb_bool(FsJb *b, const char *key, int x);	/* < 0: null */
extern void fsmml_jb_nums(FsJb *b, const char *key, const double *x, int n);
extern void fsmml_jb_strs(FsJb *b, const char *key, const char *const *s, int n);
extern void fsmml_jb_object(FsJb *b, const char *key);
extern void fsmml_jb_end_object(FsJb *b);
extern Jsonb *fsmml_jb_end(FsJb *b);
/* ensemble_weighted.c: an AgentSignal's payload, with the agents that had no champion. */
extern Jsonb *fsmml_signal_payload(FsAgentModel *m, const FsAgentRow *r,
								   const char *const *missing, int nmissing);
extern void fsmml_agent_row_init(FsAgentRow *r);

/* ---- agent_params.c: merged params and their checks */

/* defaults of agent (trading.agents) merged with params; unknown keys are errors. */
extern cJSON *fsmml_agent_params(const FsAgent *a, const char *timeframe, Jsonb *params,
								 MemoryContext cxt);
extern int	fsmml_param_int(cJSON *o, const char *key, int lo, int hi, const char *example);
extern double fsmml_param_num(cJSON *o, const char *key, double lo, double hi, bool open,
							  const char *what, const char *example);
extern bool fsmml_param_bool(cJSON *o, const char *key);
/* A non-empty array of numbers (n out), each checked by the caller. */
extern double *fsmml_param_nums(cJSON *o, const char *key, int *n, const char *example);
/* features: explicit list, or the given defaults. */
extern List *fsmml_param_features(cJSON *o, const char *const *defaults);
extern void fsmml_param_error(const char *key, const char *what, const char *example) pg_attribute_noreturn();

/* ---- agent_train.c: what the non-direction agents share when training */

typedef struct FsAgentData
{
	FsmmlBars  *bars;
	FsmmlDataset *ds;			/* rows without a NULL feature, labels H bars ahead */
	int64		dev_end;		/* rows [0, dev_end) develop, [holdout_start, nrows) test */
	int64		holdout_start;
	int64	   *bar_index;		/* row -> index into bars */
	List	   *features;		/* the columns of ds */
} FsAgentData;

/* Bars of the series in params.lookback, features, chronological split by params.test_size. */
extern FsAgentData *fsmml_agent_data(FsAgentTrainCtx *ctx, cJSON *params, List *features,
									 int horizon, int min_rows);
/*
 * Lag-1 autocorrelation of next-bar returns over consecutive rows [from, to) of d
 * both in group g (group[] indexed by row; RegimeKMeans and its re-scoring).
 */
extern double fsmml_group_autocorr(const FsAgentData *d, const int *group, int64 from, int64 to, int g);
/* Default features without those NULL on more than half the window (a NOTICE names them). */
#define FSMML_AGENT_PRUNE (-1)

/* Registers a version and decides promotion on a metric (recorded in fsmml.promotions). */
typedef struct FsAgentVersion
{
	FsmmlNewVersion v;
	double		score;			/* the kind's promotion metric; NaN: always promote */
	const char *score_name;		/* its path in metrics, e.g. "holdout.pinball_mean" */
	bool		higher_better;
	bool		auto_promote;
	const FsAgentData *data;	/* the training's rows: promotion re-scores both versions on
								 * its hold-out (NULL: compare with the champion's recorded metric) */
} FsAgentVersion;
extern FsmmlTrainResult fsmml_agent_register(FsAgentTrainCtx *ctx, FsAgentVersion *av);
/* av's version: blob doc, params, metrics, objective, auto_promote; d's columns and windows (NULL: none). */
extern void fsmml_agent_version_init(FsAgentVersion *av, FsAgentTrainCtx *ctx, const FsAgentData *d,
									 cJSON *params, cJSON *doc, cJSON *metrics,
									 const char *objective);
/* ERROR: a stored version its agent cannot use ("<agent> version <id> has <what>"). */
extern void fsmml_agent_damaged(const FsAgentModel *m, const char *what) pg_attribute_noreturn();
/* params.features := the columns used. */
extern void fsmml_agent_params_set_features(cJSON *params, List *features);

/*
 * agent_promote.c: the kind's metric of the challenger (av) and of the
 * champion, both re-scored on av->data's hold-out rows.  false when the
 * kind has none (execution, ensemble) or av->data is NULL.
 */
extern bool fsmml_agent_rescore(FsAgentTrainCtx *ctx, const FsAgentVersion *av, int64 champion_id,
								double *challenger, double *champion, char **evaluated_on);

/* fsmml-json blobs: a JSON document (boosters inside as base64 UBJ). */
extern bytea *fsmml_blob_from_json(cJSON *doc);
extern cJSON *fsmml_blob_to_json(bytea *blob, MemoryContext owner);
extern char *fsmml_b64(const bytea *data);
extern bytea *fsmml_unb64(const char *s);
/* A booster of a stored model's base64 string, owned by owner; the decoded bytes are not kept. */
extern struct FsXgbBooster *fsmml_booster_from_b64(MemoryContext owner, const char *b64);
/* cJSON helpers */
extern void fsmml_json_num(cJSON *o, const char *key, double v);
extern double fsmml_json_get_num(cJSON *o, const char *key);	/* NaN if absent */

/* ---- calibration.c: the active trading.calibrations row of a series */

/* The newest active row's thresholds (any method), owned by cxt; NULL when none. */
extern cJSON *fsmml_active_calibration(const char *symbol, const char *timeframe,
									   int64 *id, MemoryContext cxt);
/* ExecRules thresholds from it: false when it has neither key; ERROR when one is missing. */
extern bool fsmml_calibration_exec(cJSON *cal, int64 id, double *long_t, double *short_t);

#endif							/* FSMML_AGENT_H */
