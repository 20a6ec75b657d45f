/*
 * serve.h — what the serving files share: champions, payloads, prediction writes.
 */
#ifndef FSMML_SERVE_H
#define FSMML_SERVE_H

#include "postgres.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "partitioning/partdefs.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/relcache.h"
#include "bars.h"
#include "xgb.h"

extern const char *const fsmml_no_champion_hint;

/* ---- champion_cache.c: champions, their models, the backend's booster cache */

typedef struct Champion
{
	int64		id;
	char	   *agent;
	char	   *version;
	char	   *model_format;
	char	   *sha256;
	List	   *features;		/* of char *, the model's column order */
	int			horizon;
	bytea	   *model;			/* NULL unless fetched */
} Champion;

extern bool fsmml_is_xgboost_format(const char *format);
extern Champion *fsmml_champion_from_row(HeapTuple tup, TupleDesc desc, bool with_model);
extern Champion *fsmml_read_champion(const char *agent, const char *symbol, const char *timeframe);
extern void fsmml_report_sha_mismatch(const Champion *c, const char *instance) pg_attribute_noreturn();
extern bytea *fsmml_read_model(const char *symbol, const Champion *c, const char *instance);
/* Lower-case hex SHA-256 of len bytes into hex[65]. */
extern void fsmml_sha256_hex(const void *data, size_t len, char *hex);
/* The postmaster's warm-up of OpenSSL's SHA-256 (shared_preload_libraries). */
extern void fsmml_sha256_preload(void);
extern FsXgbBooster *fsmml_load_booster(MemoryContext owner, const Champion *c, bytea *model,
										const char *instance);
extern List *fsmml_champion_features(const Champion *c, const char *timeframe, const char *instance);
extern FsXgbBooster *fsmml_cached_booster(const char *instance, const Champion *c,
										  const char *symbol, MemoryContext opcxt);

/* ---- payload.c: {"prob_up": p} as jsonb */

/* Shortest decimal that reads back as the same float32; returns its length. */
extern int	fsmml_float_json(float p, char *buf);
extern Jsonb *fsmml_prob_payload(float p);
/* The numeric of a shortest decimal ("0.5703125", "1.2e-05") without numeric_in's parser. */
extern Numeric fsmml_decimal_numeric(const char *s);

/* ---- predict.c */

extern char *fsmml_arg_cstring(FunctionCallInfo fcinfo, int i, const char *name);

/* ---- pred_write.c: writing predictions into trading.agentpreds */

/* The statements fsmml_score runs per batch, prepared once per call. */
typedef struct PredPlans
{
	SPIPlanPtr	existing;		/* the predictions already stored for a range of bars */
	SPIPlanPtr	insert;			/* new predictions */
	SPIPlanPtr	update;			/* predictions whose payload changed */
} PredPlans;

extern PredPlans fsmml_prepare_pred_plans(void);
/* SPI_prepare, ERROR when it fails. */
extern SPIPlanPtr fsmml_spi_prepare(const char *sql, int nargs, Oid *types);
/* The plan in *slot, prepared and kept on first use. */
extern SPIPlanPtr fsmml_spi_keep_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types);
/* The same with cursor options (CURSOR_OPT_CUSTOM_PLAN: planned at every execution). */
extern SPIPlanPtr fsmml_spi_prepare_opts(const char *sql, int nargs, Oid *types,
										 int cursor_options);
extern bool fsmml_payload_equal(Datum stored, Jsonb *computed);
extern void fsmml_write_rows(SPIPlanPtr plan, Datum *values, const Datum *tsd, const Datum *jd,
							 int n, int expect);

/* The columns fsmml_score writes: see pred_cols in pred_write.c. */
#define PRED_NCOLS 6

typedef struct PredTarget
{
	Relation	parent;			/* trading.agentpreds, RowExclusiveLock; NULL: never direct */
	PartitionKey key;
	PartitionDesc pd;
	List	   *parts;			/* of PredPartition * (pred_write.c), the ones met so far */
	int			natts;			/* of agentpreds */
	int			attpos[PRED_NCOLS]; /* 0-based position of each written column */
	Bitmapset  *given;			/* their attribute numbers */
} PredTarget;

extern void fsmml_pred_target_open(PredTarget *t);
extern void fsmml_pred_target_close(PredTarget *t);
extern bool fsmml_write_rows_direct(PredTarget *t, const Datum *fixed, const Datum *tsd,
									const Datum *jd, int n);

/* ---- score.c: merging and writing one batch of payloads of a version */

typedef struct ScoreStats
{
	int64		inserted;
	int64		updated;
	int64		unchanged;
	int64		direct;			/* of inserted: written without the executor */
	double		predict_ms;
	double		payload_ms;
	double		write_ms;
} ScoreStats;

extern void fsmml_merge_write_batch(const PredPlans *plans, PredTarget *target, Datum *values,
									const int64 *ts, Jsonb **payload, int m, Datum *ins_ts,
									Datum *ins_j, Datum *upd_ts, Datum *upd_j, ScoreStats *st);

/* Process CPU time in ms (all threads); CPU spent writing during the current fsmml_score. */
extern double fsmml_cpu_ms(void);
extern double fsmml_score_write_cpu_ms;

/* ---- series_write.c: rows keyed by (symbol, timeframe, "timestamp") */

#define SERIES_MAXCOLS 12
typedef struct SeriesCol
{
	const char *name;
	Oid			type;
	bool		constant;		/* the same value in every row of a call */
} SeriesCol;
typedef struct SeriesTable
{
	const char *table;			/* in schema trading, UNIQUE (symbol, timeframe, "timestamp") */
	int			ncols;
	const SeriesCol *cols;		/* the columns written besides the key */
} SeriesTable;
typedef struct SeriesWriter SeriesWriter;

/* Prepares the statements; constvals[c] for each constant column (others ignored). */
extern SeriesWriter *fsmml_series_writer_open(const SeriesTable *s, const char *symbol,
											  const char *timeframe, const Datum *constvals);
/* Rows ascending by ts; vals[c][k] (and nulls[c][k], nulls[c] NULL: none) per non-constant c. */
extern void fsmml_series_write(SeriesWriter *w, int n, const Datum *ts, Datum *const *vals,
							   bool *const *nulls);
extern void fsmml_series_writer_stats(const SeriesWriter *w, int64 *inserted, int64 *upserted,
									  int64 *unchanged);

/* ---- score_agents.c: the non-direction champions, signals, states, transitions */

struct FsmmlDataset;			/* dataset.h */

/*
 * prob_up: the DirectionXGB champion's probabilities of bars [row_from, n),
 * or NULL.  shared: features of bars [max(row_from - 1, 0), n) (built
 * without labels or dropping), used when it has every column the agents
 * read; else (or NULL) they are built here.
 */
extern int64 fsmml_score_agents(const char *symbol, const char *timeframe, const FsmmlBars *bars,
								int64 row_from, const float *prob_up, int64 direction_id,
								const struct FsmmlDataset *shared, const PredPlans *plans,
								PredTarget *target, MemoryContext opcxt);
/* The columns the agent champions read, then atr_14, unresolved (fsmml_resolve_features). */
extern List *fsmml_agent_features(const char *symbol, const char *timeframe);
/* Champions of the series other than direction ones (a count). */
extern int64 fsmml_count_agent_champions(const char *symbol, const char *timeframe);

#endif							/* FSMML_SERVE_H */
