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
#include "utils/relcache.h"
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
extern FsXgbBooster *fsmml_load_booster(MemoryContext owner, const Champion *c, bytea *model,
										const char *instance);
extern List *fsmml_champion_features(const Champion *c, const char *timeframe, const char *instance);
extern FsXgbBooster *fsmml_cached_booster(const char *instance, const Champion *c,
										  const char *symbol, MemoryContext opcxt);

/* ---- payload.c: {"prob_up": p} as jsonb */

/* Shortest decimal that reads back as the same float32; returns its length. */
extern int	fsmml_float_json(float p, char *buf);
extern Jsonb *fsmml_prob_payload(float p);

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

#endif							/* FSMML_SERVE_H */
