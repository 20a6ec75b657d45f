/*
 * score.c — serving the champions' predictions.
 *
 *   fsmml_predict(agent, symbol, tf, at)    one bar: the champion's payload as jsonb
 *   fsmml_score(symbol, tf, from, to)       a range: every XGBoost direction champion
 *                                           of the series into trading.agentpreds
 *
 * Both compute features exactly as training does: the streaming kernel runs
 * from the first bar of the series (warm-up included), and the row of a bar
 * is the one fsmml_dataset_build gives for it, in the version's
 * feature_names order.  Warm-up bars, whose features are still NULL, are
 * scored too: NULL (NaN) is XGBoost's "missing" and the trees route it down
 * their default branches, as they did for the missing values seen in
 * training.
 *
 * Probabilities are XGBoost's float32 values, written in the shortest decimal
 * form that reads back as the same float32 (e.g. 0.5703125), independent of
 * extra_float_digits.  fsmml_predict and fsmml_score give the same number for
 * the same bar.
 *
 * fsmml_predict keeps each instance's loaded champion booster in a
 * backend-local cache (a child of CacheMemoryContext), keyed by
 * agent@symbol-timeframe and checked against the champion's id and model
 * sha256 on every call with one indexed query; a promotion, a rollback or a
 * rewritten model therefore takes effect on the next call.
 *
 * fsmml_score is idempotent, with the semantics of INSERT ... ON CONFLICT
 * (agent_version_id, symbol, timeframe, timestamp, horizon) DO UPDATE SET
 * payload = EXCLUDED.payload WHERE the payload differs, but without ON
 * CONFLICT: each batch of bars is first merged against the predictions
 * already stored for it (one index range scan), then the missing rows are
 * written with one plain INSERT ... SELECT FROM unnest(...) and the changed
 * ones with one UPDATE (missing rows go straight into the heap and indexes
 * of their partition when no trigger needs to see them; see "direct
 * writes").  A re-run over the same range therefore writes
 * nothing (no new row versions, no WAL) and costs a fraction of the first
 * run; one after a corrected bar refreshes exactly the predictions that
 * changed; rows deleted meanwhile are re-inserted.  A plain INSERT costs half
 * a speculative one, and the statements do not depend on which unique index
 * agentpreds has.  Concurrent fsmml_score calls on the same champion are
 * serialised by a transaction-level advisory lock, so rows found missing are
 * still missing when inserted.  It returns the number of predictions the
 * range holds for the champions after the call (inserted, updated or
 * confirmed): the same count on a re-run.
 *
 * Speed (fsmml_score): the features of the whole range are built once per
 * champion; the next batch's prediction runs on a worker thread while the
 * backend merges and writes the current one; payloads are laid out as jsonb
 * bytes directly; new rows skip the executor when they can.  What is left is
 * the heap, the unique index and WAL — and, while agentpreds has its foreign
 * key to agentversions, the per-row RI check, which costs more than all the
 * rest and rules the direct writes out.  The DEBUG1 message after each
 * champion breaks the time down.
 */
#include "postgres.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "bars.h"
#include "bulk_insert.h"
#include "dataset.h"
#include "fsmml.h"
#include "registry.h"
#include "xgb.h"

/* Predictions per INSERT ... SELECT FROM unnest(...) of fsmml_score. */
#define SCORE_BATCH 16384

/* Longest agent@symbol-timeframe name the champion cache keys on. */
#define CACHE_KEY_LEN 256

static const char *const no_champion_hint =
"Train one with fsmml_train(...) or promote a version with fsmml_promote(...).";

/* ---------------------------------------------------------------- champions */

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

static bool
is_xgboost_format(const char *format)
{
	return strcmp(format, "xgboost-ubj") == 0 || strcmp(format, "xgboost-json") == 0;
}

/* text[] → List of C strings. */
static List *
text_array_to_list(Datum arr)
{
	ArrayType  *a = DatumGetArrayTypeP(arr);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *out = NIL;

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("feature_names of an agent version contains a NULL")));
		out = lappend(out, TextDatumGetCString(elems[i]));
	}
	return out;
}

/* params->>'horizon' of a version: a positive integer, 1 when absent. */
static int
parse_horizon(const char *s, int64 id)
{
	char	   *end;
	long		h;

	if (s == NULL)
		return 1;
	errno = 0;
	h = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || h < 1 || h > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("agent version " INT64_FORMAT " has an invalid params.horizon \"%s\"", id, s),
				 errhint("The horizon is a positive number of bars.")));
	return (int) h;
}

/*
 * Fills a Champion from an SPI row whose columns are: id, agent, version,
 * model_format, model_sha256, feature_names, params->>'horizon'[, model].
 */
static Champion *
champion_from_row(HeapTuple tup, TupleDesc desc, bool with_model)
{
	Champion   *c = palloc0(sizeof(Champion));
	bool		isnull;
	Datum		d;

	c->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	c->agent = SPI_getvalue(tup, desc, 2);
	c->version = SPI_getvalue(tup, desc, 3);
	c->model_format = SPI_getvalue(tup, desc, 4);
	c->sha256 = SPI_getvalue(tup, desc, 5);
	d = SPI_getbinval(tup, desc, 6, &isnull);
	c->features = isnull ? NIL : text_array_to_list(d);
	c->horizon = parse_horizon(SPI_getvalue(tup, desc, 7), c->id);
	if (with_model)
	{
		d = SPI_getbinval(tup, desc, 8, &isnull);
		c->model = isnull ? NULL : DatumGetByteaPCopy(d);
	}
	return c;
}

/*
 * The champion of agent@symbol-timeframe, without its model, or NULL.  The
 * query uses the partial unique index agentversions_one_champion; its plan
 * is kept for the backend's life.
 */
static Champion *
read_champion(const char *agent, const char *symbol, const char *timeframe)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[3];
	int			rc;

	if (plan == NULL)
	{
		Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
		SPIPlanPtr	p;

		p = SPI_prepare("SELECT id, agent, version, model_format, model_sha256, feature_names, "
						"params->>'horizon' FROM trading.agentversions "
						"WHERE symbol = $1 AND timeframe = $2 AND agent = $3 "
						"AND status = 'champion'", 3, types);
		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for the champion query: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		plan = p;
	}
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = CStringGetTextDatum(agent);
	rc = SPI_execute_plan(plan, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the champion failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return NULL;
	return champion_from_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, false);
}

static void report_sha_mismatch(const Champion *c, const char *instance) pg_attribute_noreturn();

static void
report_sha_mismatch(const Champion *c, const char *instance)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("the model of %s %s does not match its model_sha256", instance, c->version),
			 errhint("The model blob was altered after the version was registered; retrain or restore it.")));
}

/* The model blob of a version, checked against its recorded sha256. */
static bytea *
read_model(const char *symbol, const Champion *c, const char *instance)
{
	int64		id = c->id;
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	bool		isnull;
	bool		sha_ok;
	int			rc;

	values[0] = CStringGetTextDatum(symbol);
	values[1] = Int64GetDatum(id);
	rc = SPI_execute_with_args("SELECT model, encode(sha256(model), 'hex') = model_sha256 "
							   "FROM trading.agentversions WHERE symbol = $1 AND id = $2",
							   2, types, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the model failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("agent version " INT64_FORMAT " does not exist", id)));
	sha_ok = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (!sha_ok)
		report_sha_mismatch(c, instance);
	return DatumGetByteaPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Loads an XGBoost champion's model into owner and checks it gives one
 * value per row (a probability for a binary objective).
 */
static FsXgbBooster *
load_booster(MemoryContext owner, const Champion *c, bytea *model, const char *instance)
{
	FsXgbBooster *b = fsxgb_booster_load_bytea(owner, model);
	int			groups = fsxgb_booster_num_groups(b);

	if (groups != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("champion %s of %s predicts %d values per row, not a probability",
						c->version, instance, groups),
				 errhint("A DirectionXGB model has a binary objective such as binary:logistic.")));
	return b;
}

/*
 * The version's feature columns, validated against the catalogue and the
 * columns of trading.features.
 */
static List *
champion_features(const Champion *c, const char *timeframe, const char *instance)
{
	if (c->features == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("champion %s of %s has no feature_names", c->version, instance),
				 errhint("Every XGBoost version records the feature columns it was trained on, in order.")));
	return fsmml_resolve_features(timeframe, c->features);
}

/* ---------------------------------------------------------------- payload numbers */

/* The shortest decimal that reads back as p, e.g. "0.5703125"; "null" for NaN/Inf. */
static int
float_json(float p, char *buf)
{
	if (!isfinite(p))
	{
		strcpy(buf, "null");
		return 4;
	}
	return float_to_shortest_decimal_buf(p, buf);
}

/*
 * The numeric of a shortest decimal such as "0.5703125" or "1.2e-05",
 * without numeric_in's general parser: digits / 10^scale.  The result is
 * the one numeric_in gives (same weight, digits and display scale).
 */
static Numeric
decimal_numeric(const char *s)
{
	const char *p = s;
	int64		mant = 0;
	int			ndig = 0;
	int			frac = 0;
	int			exp10 = 0;
	bool		neg = false;
	bool		in_frac = false;
	int			scale;

	if (*p == '-')
	{
		neg = true;
		p++;
	}
	for (; *p; p++)
	{
		if (*p >= '0' && *p <= '9')
		{
			if (++ndig > 18)
				break;
			mant = mant * 10 + (*p - '0');
			if (in_frac)
				frac++;
		}
		else if (*p == '.' && !in_frac)
			in_frac = true;
		else
			break;
	}
	if (*p == 'e' || *p == 'E')
	{
		char	   *end;
		long		e = strtol(p + 1, &end, 10);

		if (*end == '\0' && e > -1000 && e < 1000)
		{
			exp10 = (int) e;
			p = end;
		}
	}
	scale = frac - exp10;
	if (*p != '\0' || ndig > 18 || scale < 0 || scale > 1000)
		return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
	return int64_div_fast_to_numeric(neg ? -mant : mant, scale);
}

/* {"prob_up": p} through the generic jsonb builder. */
static Jsonb *
prob_payload_generic(float p)
{
	JsonbValue	obj;
	JsonbPair	pair;

	pair.key.type = jbvString;
	pair.key.val.string.val = "prob_up";
	pair.key.val.string.len = 7;
	pair.order = 0;
	if (isfinite(p))
	{
		char		buf[32];

		float_to_shortest_decimal_buf(p, buf);
		pair.value.type = jbvNumeric;
		pair.value.val.numeric = decimal_numeric(buf);
	}
	else
		pair.value.type = jbvNull;
	obj.type = jbvObject;
	obj.val.object.nPairs = 1;
	obj.val.object.pairs = &pair;
	return JsonbValueToJsonb(&obj);
}

/*
 * {"prob_up": p} laid out directly (fsmml_score builds one per bar): the
 * object header, the key's and the value's JEntry, "prob_up", one byte of
 * padding to int alignment, the numeric.  These are the bytes
 * JsonbValueToJsonb writes, which is checked once per backend; should a
 * server ever lay one-key objects out differently, the generic builder is
 * used instead.
 */
#define PAYLOAD_HEAD (VARHDRSZ + sizeof(uint32) + 2 * sizeof(JEntry) + 8)

static Jsonb *
prob_payload_direct(float p)
{
	char		buf[32];
	Numeric		num;
	Size		numlen;
	Jsonb	   *j;
	char	   *d;
	uint32		header = 1 | JB_FOBJECT;
	JEntry		key = JENTRY_ISSTRING | JENTRY_HAS_OFF | 7;
	JEntry		val;

	float_to_shortest_decimal_buf(p, buf);
	num = decimal_numeric(buf);
	numlen = VARSIZE(num);
	val = JENTRY_ISNUMERIC | (uint32) (1 + numlen);
	j = palloc(PAYLOAD_HEAD + numlen);
	SET_VARSIZE(j, PAYLOAD_HEAD + numlen);
	d = VARDATA(j);
	memcpy(d, &header, sizeof(uint32));
	memcpy(d + 4, &key, sizeof(JEntry));
	memcpy(d + 8, &val, sizeof(JEntry));
	memcpy(d + 12, "prob_up\0", 8);
	memcpy(d + 20, num, numlen);
	pfree(num);
	return j;
}

static Jsonb *
prob_payload(float p)
{
	static int	direct_ok = -1; /* unknown, no, yes */

	if (!isfinite(p))
		return prob_payload_generic(p);
	if (direct_ok < 0)
	{
		Jsonb	   *a = prob_payload_generic(0.5703125f);
		Jsonb	   *b = prob_payload_direct(0.5703125f);

		direct_ok = VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
		pfree(a);
		pfree(b);
	}
	return direct_ok ? prob_payload_direct(p) : prob_payload_generic(p);
}

/* ---------------------------------------------------------------- prediction worker */

/*
 * fsmml_score predicts batch k+1 on a worker thread while the backend
 * writes batch k: XGBoost's in-place prediction is pure computation and
 * thread-safe, and hiding it behind the writes is the largest saving left
 * on a two-core machine.  The worker runs XGBoost only — no PostgreSQL
 * call, no palloc, no ereport — with every signal blocked; an XGBoost error
 * is copied out and raised by the backend after the join.  The first batch
 * is predicted by fsxgb_predict_dense on the backend, which applies
 * fsmml.nthread to the booster and checks the column count and the output
 * shape; the worker then reuses the same booster and configuration.  A
 * reset callback on the context owning the booster (registered after it,
 * so it runs first) joins the worker, so an ERROR or a cancel in the
 * backend never frees data the worker still reads.
 */
#define INPLACE_CONFIG \
	"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, " \
	"\"iteration_end\": 0, \"strict_shape\": false, \"missing\": NaN, " \
	"\"cache_id\": 0}"

typedef struct PredictWorker
{
	pthread_t	thread;
	bool		running;
	MemoryContextCallback cb;
	/* the job: read by the worker only while running */
	BoosterHandle handle;
	const float *X;
	uint64		nrow;
	uint64		ncol;
	float	   *out;
	bool		ok;
	char		err[512];
} PredictWorker;

static void *
predict_worker_main(void *arg)
{
	PredictWorker *w = arg;
	const bst_ulong *shape = NULL;
	bst_ulong	dim = 0;
	const float *res = NULL;
	char		iface[256];

	snprintf(iface, sizeof(iface),
			 "{\"data\": [%llu, true], \"shape\": [%llu, %llu], "
			 "\"strides\": null, \"typestr\": \"<f4\", \"version\": 3}",
			 (unsigned long long) (uintptr_t) w->X, (unsigned long long) w->nrow,
			 (unsigned long long) w->ncol);
	if (XGBoosterPredictFromDense(w->handle, iface, INPLACE_CONFIG, NULL,
								  &shape, &dim, &res) != 0)
	{
		const char *msg = XGBGetLastError();

		snprintf(w->err, sizeof(w->err), "%s", msg ? msg : "unknown error");
		w->ok = false;
	}
	else if (dim < 1 || shape == NULL || shape[0] != w->nrow ||
			 (dim > 1 && shape[1] != 1) || res == NULL)
	{
		snprintf(w->err, sizeof(w->err), "unexpected prediction shape");
		w->ok = false;
	}
	else
	{
		memcpy(w->out, res, sizeof(float) * w->nrow);
		w->ok = true;
	}
	return NULL;
}

static void
predict_worker_join(PredictWorker *w)
{
	if (w->running)
	{
		pthread_join(w->thread, NULL);
		w->running = false;
	}
}

static void
predict_worker_reset_cb(void *arg)
{
	predict_worker_join((PredictWorker *) arg);
}

/* Starts predicting nrow rows of X into out; false when no thread could start. */
static bool
predict_worker_start(PredictWorker *w, FsXgbBooster *b, const float *X, uint64 nrow,
					 uint64 ncol, float *out)
{
	sigset_t	all;
	sigset_t	old;
	int			rc;

	Assert(!w->running);
	w->handle = b->handle;
	w->X = X;
	w->nrow = nrow;
	w->ncol = ncol;
	w->out = out;
	w->ok = false;
	w->err[0] = '\0';
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&w->thread, NULL, predict_worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	w->running = (rc == 0);
	return w->running;
}

/* Waits for the worker; ERROR when its prediction failed. */
static void
predict_worker_finish(PredictWorker *w)
{
	predict_worker_join(w);
	if (!w->ok)
	{
		char	   *nl = strchr(w->err, '\n');

		if (nl)
			*nl = '\0';
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("XGBoost prediction failed: %s", w->err)));
	}
}

/* ---------------------------------------------------------------- champion cache */

typedef struct CacheEntry
{
	char		key[CACHE_KEY_LEN]; /* agent@symbol-timeframe; hash key */
	int64		version_id;		/* 0 while empty */
	char		sha256[65];
	MemoryContext cxt;			/* owns booster; NULL while empty */
	FsXgbBooster *booster;
} CacheEntry;

static HTAB *champion_cache = NULL;
static MemoryContext champion_cache_cxt = NULL;

/*
 * The champion's booster: from the cache when it holds this version with
 * this model, else loaded (into a context that dies with the call if
 * anything fails, then handed to the cache).
 */
static FsXgbBooster *
cached_booster(const char *instance, const Champion *c, const char *symbol,
			   MemoryContext opcxt)
{
	CacheEntry *e = NULL;
	MemoryContext newcxt;
	FsXgbBooster *b;
	bytea	   *model;
	bool		found;

	if (strlen(instance) < CACHE_KEY_LEN && strlen(c->sha256) < sizeof(e->sha256))
	{
		if (champion_cache == NULL)
		{
			HASHCTL		ctl;

			champion_cache_cxt = AllocSetContextCreate(CacheMemoryContext,
													   "fsmml champion cache",
													   ALLOCSET_SMALL_SIZES);
			memset(&ctl, 0, sizeof(ctl));
			ctl.keysize = CACHE_KEY_LEN;
			ctl.entrysize = sizeof(CacheEntry);
			ctl.hcxt = champion_cache_cxt;
			champion_cache = hash_create("fsmml champion cache", 16, &ctl,
										 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		}
		e = hash_search(champion_cache, instance, HASH_ENTER, &found);
		if (!found)
		{
			e->version_id = 0;
			e->sha256[0] = '\0';
			e->cxt = NULL;
			e->booster = NULL;
		}
		if (e->booster != NULL && e->version_id == c->id && strcmp(e->sha256, c->sha256) == 0)
			return e->booster;
	}

	/* Load under the call's context: an ERROR frees it with the call. */
	newcxt = AllocSetContextCreate(opcxt, "fsmml champion", ALLOCSET_SMALL_SIZES);
	model = read_model(symbol, c, instance);
	b = load_booster(newcxt, c, model, instance);
	if (e == NULL)
		return b;

	/* Swap it in; the old booster is freed by its context's reset callback. */
	MemoryContextSetParent(newcxt, champion_cache_cxt);
	if (e->cxt != NULL)
		MemoryContextDelete(e->cxt);
	e->cxt = newcxt;
	e->booster = b;
	e->version_id = c->id;
	strlcpy(e->sha256, c->sha256, sizeof(e->sha256));
	return b;
}

/* ---------------------------------------------------------------- fsmml_predict */

static char *
arg_cstring(FunctionCallInfo fcinfo, int i, const char *name)
{
	if (PG_ARGISNULL(i))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(i));
}

PG_FUNCTION_INFO_V1(fsmml_predict);

Datum
fsmml_predict(PG_FUNCTION_ARGS)
{
	char	   *agent = arg_cstring(fcinfo, 0, "agent");
	char	   *symbol = arg_cstring(fcinfo, 1, "symbol");
	char	   *timeframe = arg_cstring(fcinfo, 2, "timeframe");
	bool		has_at = !PG_ARGISNULL(3);
	TimestampTz at = has_at ? PG_GETARG_TIMESTAMPTZ(3) : DT_NOEND;
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext opcxt;
	char	   *instance;
	char	   *kind;
	Champion   *c;
	FsXgbBooster *b;
	List	   *features;
	FsmmlBars  *bars;
	FsmmlDataset *ds;
	const FsBar *last;
	float		prob;
	char		num[32];
	StringInfoData json;
	Datum		result;

	fsmml_timeframe_usec(timeframe);	/* ERROR when invalid */
	if (has_at && TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("at must be a finite timestamp"),
				 errhint("Pass the open time of an existing bar, or NULL for the latest bar.")));

	opcxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml predict", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(opcxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	instance = fsmml_instance_name(agent, symbol, timeframe);
	kind = fsmml_agent_kind(agent); /* ERROR for an unknown agent */
	c = read_champion(agent, symbol, timeframe);
	if (c == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s has no champion", instance),
				 errhint("%s", no_champion_hint)));
	if (strcmp(kind, "direction") != 0 || !is_xgboost_format(c->model_format))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fsmml_predict cannot serve %s: a %s agent with a %s model",
						instance, kind, c->model_format),
				 errhint("fsmml_predict serves XGBoost direction agents such as DirectionXGB.")));

	features = champion_features(c, timeframe, instance);
	b = cached_booster(instance, c, symbol, opcxt);

	/* Every bar up to the one scored: the kernel warms up from the first. */
	bars = fsmml_read_bars(symbol, timeframe, DT_NOBEGIN, at, opcxt);
	if (bars->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 has_at ? errmsg("no bar of %s %s at %s", symbol, timeframe, timestamptz_to_str(at))
				 : errmsg("no bars for %s %s in trading.historicaldata", symbol, timeframe),
				 has_at ? errhint("Pass the open time of an existing bar, or NULL for the latest bar.")
				 : errhint("Load bars into trading.historicaldata first.")));
	last = &bars->bars[bars->n - 1];
	if (has_at && fsmml_unix_to_ts(last->ts) != at)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no bar of %s %s at %s", symbol, timeframe, timestamptz_to_str(at)),
				 errhint("Pass the open time of an existing bar, or NULL for the latest bar.")));

	ds = fsmml_dataset_build(symbol, timeframe, bars, bars->n - 1, bars->n, features,
							 0, false, opcxt);
	if (ds->nrows != 1)
		elog(ERROR, "feature row of the bar was not built");
	fsxgb_predict_dense(b, ds->X, 1, ds->nfeat, &prob, 1);
	CHECK_FOR_INTERRUPTS();

	float_json(prob, num);
	initStringInfo(&json);
	appendStringInfo(&json, "{\"prob_up\": %s, \"agent_version_id\": " INT64_FORMAT
					 ", \"version\": ", num, c->id);
	escape_json(&json, c->version);
	appendStringInfo(&json, ", \"horizon\": %d, \"timestamp\": \"%s\"}",
					 c->horizon, fsmml_iso8601(last->ts));

	SPI_finish();
	MemoryContextSwitchTo(oldcxt);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data));
	MemoryContextDelete(opcxt);
	PG_RETURN_DATUM(result);
}

/* ---------------------------------------------------------------- fsmml_score */

/* Schema fsmml is installed in (get_extension_schema is static before PG 16). */
static char *
extension_schema(void)
{
	Oid			extoid = get_extension_oid("fsmml", false);
	Oid			nsp = InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *name;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	name = OidIsValid(nsp) ? get_namespace_name(nsp) : NULL;
	if (name == NULL)
		elog(ERROR, "schema of extension fsmml not found");
	return name;
}

static void
create_partitions(TimestampTz from_ts, TimestampTz to_ts)
{
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	int			rc;

	values[0] = TimestampTzGetDatum(from_ts);
	values[1] = TimestampTzGetDatum(to_ts);
	rc = SPI_execute_with_args(psprintf("SELECT %s.fsmml_create_pred_partitions($1, $2)",
										quote_identifier(extension_schema())),
							   2, types, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "creating agentpreds partitions failed: %s", SPI_result_code_string(rc));
}

/*
 * The XGBoost champions of direction agents on (symbol, timeframe), with
 * their models, in id order.  FOR KEY SHARE keeps each version from being
 * deleted (or its id changed) until the predictions written for it commit.
 */
static List *
read_score_champions(const char *symbol, const char *timeframe)
{
	List	   *out = NIL;

	fsmml_spi_series("SELECT v.id, v.agent, v.version, v.model_format, v.model_sha256, "
					 "v.feature_names, v.params->>'horizon', v.model, "
					 "encode(sha256(v.model), 'hex') = v.model_sha256 "
					 "FROM trading.agentversions v JOIN trading.agents a ON a.name = v.agent "
					 "WHERE v.symbol = $1 AND v.timeframe = $2 AND v.status = 'champion' "
					 "AND a.kind = 'direction' "
					 "AND v.model_format IN ('xgboost-ubj', 'xgboost-json') "
					 "ORDER BY v.id FOR KEY SHARE OF v",
					 symbol, timeframe, NULL, false, 0, SPI_OK_SELECT, "reading the champions");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		Champion   *c = champion_from_row(tup, SPI_tuptable->tupdesc, true);
		bool		isnull;

		if (!DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc, 9, &isnull)))
			report_sha_mismatch(c, fsmml_instance_name(c->agent, symbol, timeframe));
		out = lappend(out, c);
	}
	return out;
}

/* The statements fsmml_score runs per batch, prepared once per call. */
typedef struct PredPlans
{
	SPIPlanPtr	existing;		/* the predictions already stored for a range of bars */
	SPIPlanPtr	insert;			/* new predictions */
	SPIPlanPtr	update;			/* predictions whose payload changed */
} PredPlans;

static SPIPlanPtr
prepare(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s: %s", SPI_result_code_string(SPI_result), sql);
	return plan;
}

/*
 * No ON CONFLICT: the batch is merged against the stored rows first, and
 * only missing rows are inserted (a plain INSERT costs half a speculative
 * one), changed ones updated, equal ones left alone.  The statements do not
 * depend on which unique index agentpreds has.
 */
static PredPlans
prepare_pred_plans(void)
{
	PredPlans	p;
	Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Oid			wtypes[6] = {INT8OID, TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZARRAYOID, JSONBARRAYOID};

	p.existing = prepare("SELECT \"timestamp\", payload FROM trading.agentpreds "
						 "WHERE agent_version_id = $1 AND symbol = $2 AND timeframe = $3 "
						 "AND horizon = $4 AND \"timestamp\" >= $5 AND \"timestamp\" <= $6 "
						 "ORDER BY \"timestamp\"", 6, types);
	p.insert = prepare("INSERT INTO trading.agentpreds "
					   "(agent_version_id, symbol, timeframe, \"timestamp\", horizon, payload) "
					   "SELECT $1, $2, $3, u.t, $4, u.j FROM unnest($5, $6) AS u(t, j)",
					   6, wtypes);
	p.update = prepare("UPDATE trading.agentpreds AS p SET payload = u.j "
					   "FROM unnest($5, $6) AS u(t, j) "
					   "WHERE p.agent_version_id = $1 AND p.symbol = $2 AND p.timeframe = $3 "
					   "AND p.horizon = $4 AND p.\"timestamp\" = u.t",
					   6, wtypes);
	return p;
}

/*
 * Serialises the writers of one version's predictions (fsmml_score calls
 * scoring the same champion), so the rows found missing by the merge are
 * still missing when inserted.  Held to the end of the transaction.
 */
static void
lock_version_preds(int64 id)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(psprintf("fsmml.agentpreds:" INT64_FORMAT, id));
	if (SPI_execute_with_args("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext($1))",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not lock the predictions of agent version " INT64_FORMAT, id);
}

/* Index of the first bar at or after ts (bars ascend). */
static int64
first_bar_at_or_after(const FsmmlBars *bars, TimestampTz ts)
{
	int64		lo = 0,
				hi = bars->n;
	int64		t = fsmml_ts_to_unix(ts);

	if (ts == DT_NOBEGIN)
		return 0;
	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (bars->bars[mid].ts < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Same bytes: a stored payload equal to the one computed. */
static bool
payload_equal(Datum stored, Jsonb *computed)
{
	struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(stored));

	return VARSIZE_ANY_EXHDR(v) == VARSIZE(computed) - VARHDRSZ &&
		memcmp(VARDATA_ANY(v), VARDATA(computed), VARSIZE(computed) - VARHDRSZ) == 0;
}

static void
write_rows(SPIPlanPtr plan, Datum *values, const Datum *tsd, const Datum *jd, int n, int expect)
{
	int			rc;

	if (n == 0)
		return;
	values[4] = PointerGetDatum(construct_array((Datum *) tsd, n, TIMESTAMPTZOID,
												sizeof(TimestampTz), FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	values[5] = PointerGetDatum(construct_array((Datum *) jd, n, JSONBOID, -1, false, TYPALIGN_INT));
	rc = SPI_execute_plan(plan, values, NULL, false, 0);
	if (rc != expect)
		elog(ERROR, "writing predictions failed: %s", SPI_result_code_string(rc));
}

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

static double
ms_since(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_MILLISEC(now);
}

/* ---------------------------------------------------------------- direct writes */

/*
 * New predictions go straight into the heap and indexes of their monthly
 * partition (bulk_insert.c: what COPY does, without the executor's INSERT)
 * when the row comes out exactly as INSERT INTO trading.agentpreds would
 * make it: INSERT privilege on agentpreds, the other columns' defaults
 * (created_at's now() included), generated columns, constraints and every
 * index; and when nothing else has to see the rows go in: no trigger or
 * rule on agentpreds or the partition (the foreign key's RI triggers
 * count), no row-level security (fsmml_bulk_insert_possible).  The
 * partition of a row is found from the partition bounds as the executor's
 * routing does.  Otherwise the batch goes through the prepared
 * INSERT ... SELECT FROM unnest(...).
 */
#define PRED_NCOLS 6

/* The columns fsmml_score writes, as its INSERT names them. */
static const char *const pred_cols[PRED_NCOLS] = {
	"agent_version_id", "symbol", "timeframe", "timestamp", "horizon", "payload"
};

typedef struct PredPartition
{
	Oid			relid;
	bool		direct;			/* direct writes possible */
} PredPartition;

typedef struct PredTarget
{
	Relation	parent;			/* trading.agentpreds, RowExclusiveLock; NULL: never direct */
	PartitionKey key;
	PartitionDesc pd;
	List	   *parts;			/* of PredPartition *, the ones met so far */
	int			natts;			/* of agentpreds */
	int			attpos[PRED_NCOLS]; /* 0-based position of each written column */
	Bitmapset  *given;			/* their attribute numbers */
} PredTarget;

static void
pred_target_open(PredTarget *t)
{
	static const Oid types[PRED_NCOLS] = {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID,
	JSONBOID};
	Oid			relid = RangeVarGetRelid(makeRangeVar("trading", "agentpreds", -1),
										 RowExclusiveLock, false);
	Relation	rel = table_open(relid, NoLock);
	TupleDesc	desc = RelationGetDescr(rel);
	PartitionKey key;

	memset(t, 0, sizeof(*t));
	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE || rel->trigdesc != NULL ||
		rel->rd_rel->relhasrules || rel->rd_rel->relrowsecurity)
	{
		table_close(rel, NoLock);
		return;
	}
	key = RelationGetPartitionKey(rel);
	if (key->strategy != PARTITION_STRATEGY_RANGE || key->partnatts != 1 ||
		key->partattrs[0] == 0 ||
		strcmp(NameStr(TupleDescAttr(desc, key->partattrs[0] - 1)->attname),
			   "timestamp") != 0 ||
		key->parttypid[0] != TIMESTAMPTZOID)
	{
		table_close(rel, NoLock);
		return;
	}
	t->natts = desc->natts;
	for (int c = 0; c < PRED_NCOLS; c++)
	{
		t->attpos[c] = -1;
		for (int a = 0; a < desc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, a);

			if (!att->attisdropped && strcmp(NameStr(att->attname), pred_cols[c]) == 0 &&
				att->atttypid == types[c])
				t->attpos[c] = a;
		}
		if (t->attpos[c] < 0)
		{
			/* A column changed type or went away: INSERT will say what is wrong. */
			table_close(rel, NoLock);
			return;
		}
		t->given = bms_add_member(t->given, t->attpos[c] + 1);
	}
	t->parent = rel;
	t->key = key;
	t->pd = RelationGetPartitionDesc(rel, true);
}

static void
pred_target_close(PredTarget *t)
{
	if (t->parent)
		table_close(t->parent, NoLock);
	t->parent = NULL;
}

/* The partition holding ts, or InvalidOid (no partition: the executor will say so). */
static Oid
pred_partition_of(PredTarget *t, TimestampTz ts)
{
	PartitionBoundInfo bi = t->pd->boundinfo;
	Datum		v = TimestampTzGetDatum(ts);
	bool		equal = false;
	int			idx = -1;

	if (bi == NULL)
		return InvalidOid;
	if (bi->ndatums > 0)
	{
		int			off = partition_range_datum_bsearch(t->key->partsupfunc,
														t->key->partcollation,
														bi, 1, &v, &equal);

		idx = bi->indexes[off + 1];
	}
	if (idx < 0)
		idx = bi->default_index;
	return idx < 0 ? InvalidOid : t->pd->oids[idx];
}

static PredPartition *
pred_partition(PredTarget *t, Oid relid)
{
	ListCell   *lc;
	PredPartition *p;

	foreach(lc, t->parts)
	{
		p = lfirst(lc);
		if (p->relid == relid)
			return p;
	}
	p = palloc0(sizeof(PredPartition));
	p->relid = relid;
	p->direct = fsmml_bulk_insert_possible(relid, RelationGetRelid(t->parent), t->given);
	t->parts = lappend(t->parts, p);
	return p;
}

/*
 * Writes rows [0, n) directly when every row's partition allows it;
 * returns false (nothing written) otherwise.
 */
static bool
write_rows_direct(PredTarget *t, const Datum *fixed, const Datum *tsd, const Datum *jd, int n)
{
	Oid		   *part;
	Datum	   *values;
	bool	   *nulls;
	int			r = 0;

	if (t->parent == NULL || n == 0)
		return false;
	part = palloc(sizeof(Oid) * n);
	for (int k = 0; k < n; k++)
	{
		part[k] = pred_partition_of(t, DatumGetTimestampTz(tsd[k]));
		if (!OidIsValid(part[k]) ||
			((k == 0 || part[k] != part[k - 1]) && !pred_partition(t, part[k])->direct))
			return false;
	}
	/* Rows in agentpreds' layout; the other columns take their defaults. */
	values = palloc0(sizeof(Datum) * t->natts);
	nulls = palloc(sizeof(bool) * t->natts);
	memset(nulls, true, sizeof(bool) * t->natts);
	for (int c = 0; c < PRED_NCOLS; c++)
		nulls[t->attpos[c]] = false;
	values[t->attpos[0]] = fixed[0];	/* agent_version_id */
	values[t->attpos[1]] = fixed[1];	/* symbol */
	values[t->attpos[2]] = fixed[2];	/* timeframe */
	values[t->attpos[4]] = fixed[3];	/* horizon */
	while (r < n)
	{
		Oid			relid = part[r];
		FsmmlBulkInsert *bi = fsmml_bulk_insert_begin(relid, RelationGetRelid(t->parent),
													  t->given);

		for (; r < n && part[r] == relid; r++)
		{
			values[t->attpos[3]] = tsd[r];
			values[t->attpos[5]] = jd[r];
			fsmml_bulk_insert_row(bi, values, nulls);
		}
		fsmml_bulk_insert_end(bi);
	}
	return true;
}

/*
 * Scores rows [0, ds->nrows) of one champion, SCORE_BATCH rows at a time:
 * the prediction of the next batch runs on the worker while this one is
 * merged with the rows already stored for its bars (one index range scan)
 * and written (one INSERT of the missing rows, one UPDATE of the changed).
 * b must be owned by mcxt.
 */
static void
score_champion(const PredPlans *plans, PredTarget *target, const Champion *c, FsXgbBooster *b,
			   const FsmmlDataset *ds, const char *symbol, const char *timeframe,
			   MemoryContext mcxt, MemoryContext batchcxt, ScoreStats *st)
{
	Datum		values[6];
	float	   *prob = palloc(sizeof(float) * SCORE_BATCH);
	float	   *next = palloc(sizeof(float) * SCORE_BATCH);
	Jsonb	  **payload = palloc(sizeof(Jsonb *) * SCORE_BATCH);
	Datum	   *ins_ts = palloc(sizeof(Datum) * SCORE_BATCH);
	Datum	   *ins_j = palloc(sizeof(Datum) * SCORE_BATCH);
	Datum	   *upd_ts = palloc(sizeof(Datum) * SCORE_BATCH);
	Datum	   *upd_j = palloc(sizeof(Datum) * SCORE_BATCH);
	PredictWorker *w = MemoryContextAllocZero(mcxt, sizeof(PredictWorker));
	instr_time	t0;

	if (ds->nrows == 0)
		return;
	w->cb.func = predict_worker_reset_cb;
	w->cb.arg = w;
	MemoryContextRegisterResetCallback(mcxt, &w->cb);

	values[0] = Int64GetDatum(c->id);
	values[1] = CStringGetTextDatum(symbol);
	values[2] = CStringGetTextDatum(timeframe);
	values[3] = Int32GetDatum(c->horizon);

	INSTR_TIME_SET_CURRENT(t0);
	fsxgb_predict_dense(b, ds->X, Min(SCORE_BATCH, ds->nrows), ds->nfeat, prob,
						Min(SCORE_BATCH, ds->nrows));
	st->predict_ms += ms_since(t0);

	for (int64 off = 0; off < ds->nrows; off += SCORE_BATCH)
	{
		int			m = (int) Min(SCORE_BATCH, ds->nrows - off);
		int64		noff = off + SCORE_BATCH;
		int			nm = (int) Min(SCORE_BATCH, Max(ds->nrows - noff, 0));
		const int64 *ts = ds->ts + off;
		MemoryContext old;
		int			rc;
		uint64		nexist;
		uint64		e = 0;
		int			nins = 0;
		int			nupd = 0;
		bool		async = false;
		float	   *swap;

		CHECK_FOR_INTERRUPTS();
		if (nm > 0)
			async = predict_worker_start(w, b, ds->X + noff * ds->nfeat, nm, ds->nfeat, next);

		INSTR_TIME_SET_CURRENT(t0);
		old = MemoryContextSwitchTo(batchcxt);
		for (int k = 0; k < m; k++)
			payload[k] = prob_payload(prob[k]);
		st->payload_ms += ms_since(t0);

		INSTR_TIME_SET_CURRENT(t0);
		values[4] = TimestampTzGetDatum(fsmml_unix_to_ts(ts[0]));
		values[5] = TimestampTzGetDatum(fsmml_unix_to_ts(ts[m - 1]));
		rc = SPI_execute_plan(plans->existing, values, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "reading stored predictions failed: %s", SPI_result_code_string(rc));
		nexist = SPI_processed;

		/* Merge: both sides ascend by timestamp. */
		for (int k = 0; k < m; k++)
		{
			TimestampTz tsk = fsmml_unix_to_ts(ts[k]);
			TimestampTz te = 0;
			bool		isnull;

			while (e < nexist &&
				   (te = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[e],
														   SPI_tuptable->tupdesc, 1,
														   &isnull))) < tsk)
				e++;
			if (e < nexist && te == tsk)
			{
				Datum		stored = SPI_getbinval(SPI_tuptable->vals[e], SPI_tuptable->tupdesc,
												   2, &isnull);

				if (!isnull && payload_equal(stored, payload[k]))
					st->unchanged++;
				else
				{
					upd_ts[nupd] = TimestampTzGetDatum(tsk);
					upd_j[nupd++] = JsonbPGetDatum(payload[k]);
				}
				e++;
			}
			else
			{
				ins_ts[nins] = TimestampTzGetDatum(tsk);
				ins_j[nins++] = JsonbPGetDatum(payload[k]);
			}
		}
		if (SPI_tuptable)
			SPI_freetuptable(SPI_tuptable);

		if (write_rows_direct(target, values, ins_ts, ins_j, nins))
			st->direct += nins;
		else
			write_rows(plans->insert, values, ins_ts, ins_j, nins, SPI_OK_INSERT);
		write_rows(plans->update, values, upd_ts, upd_j, nupd, SPI_OK_UPDATE);
		st->inserted += nins;
		st->updated += nupd;
		st->write_ms += ms_since(t0);
		MemoryContextSwitchTo(old);
		MemoryContextReset(batchcxt);

		/* The next batch's probabilities: from the worker, or computed here. */
		if (nm > 0)
		{
			INSTR_TIME_SET_CURRENT(t0);
			if (async)
				predict_worker_finish(w);
			else
				fsxgb_predict_dense(b, ds->X + noff * ds->nfeat, nm, ds->nfeat, next, nm);
			st->predict_ms += ms_since(t0);
			swap = prob;
			prob = next;
			next = swap;
		}
	}
}

PG_FUNCTION_INFO_V1(fsmml_score);

Datum
fsmml_score(PG_FUNCTION_ARGS)
{
	char	   *symbol = arg_cstring(fcinfo, 0, "symbol");
	char	   *timeframe = arg_cstring(fcinfo, 1, "timeframe");
	TimestampTz from_ts;
	TimestampTz to_ts;
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext opcxt;
	MemoryContext champcxt;
	MemoryContext batchcxt;
	List	   *champs;
	ListCell   *lc;
	FsmmlBars  *bars;
	int64		row_from;
	int64		written = 0;
	instr_time	t0;
	double		read_ms;
	double		features_ms;

	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("from_ts and to_ts must not be NULL"),
				 errhint("Pass the range of bars to score; '-infinity' and 'infinity' are accepted.")));
	from_ts = PG_GETARG_TIMESTAMPTZ(2);
	to_ts = PG_GETARG_TIMESTAMPTZ(3);
	fsmml_timeframe_usec(timeframe);	/* ERROR when invalid */
	if (from_ts > to_ts)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid scoring range [%s, %s]",
						pstrdup(timestamptz_to_str(from_ts)), pstrdup(timestamptz_to_str(to_ts))),
				 errhint("Pass from_ts <= to_ts.")));

	opcxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml score", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(opcxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	champs = read_score_champions(symbol, timeframe);
	if (champs == NIL)
	{
		ereport(NOTICE,
				(errmsg("%s %s has no XGBoost direction champion; nothing scored", symbol, timeframe),
				 errhint("%s", no_champion_hint)));
		SPI_finish();
		MemoryContextSwitchTo(oldcxt);
		MemoryContextDelete(opcxt);
		PG_RETURN_INT64(0);
	}

	/* Every bar up to to_ts: those before from_ts only warm the kernel up. */
	INSTR_TIME_SET_CURRENT(t0);
	bars = fsmml_read_bars(symbol, timeframe, DT_NOBEGIN, to_ts, opcxt);
	read_ms = ms_since(t0);
	row_from = first_bar_at_or_after(bars, from_ts);
	if (row_from < bars->n)
	{
		PredPlans	plans;
		PredTarget	target;

		create_partitions(fsmml_unix_to_ts(bars->bars[row_from].ts),
						  fsmml_unix_to_ts(bars->bars[bars->n - 1].ts));
		plans = prepare_pred_plans();
		pred_target_open(&target);
		champcxt = AllocSetContextCreate(opcxt, "fsmml score champion", ALLOCSET_DEFAULT_SIZES);
		batchcxt = AllocSetContextCreate(opcxt, "fsmml score batch", ALLOCSET_DEFAULT_SIZES);
		foreach(lc, champs)
		{
			Champion   *c = lfirst(lc);
			char	   *instance = fsmml_instance_name(c->agent, symbol, timeframe);
			MemoryContext old = MemoryContextSwitchTo(champcxt);
			List	   *features;
			FsXgbBooster *b;
			FsmmlDataset *ds;
			ScoreStats	st;

			memset(&st, 0, sizeof(st));
			lock_version_preds(c->id);
			features = champion_features(c, timeframe, instance);
			b = load_booster(champcxt, c, c->model, instance);
			INSTR_TIME_SET_CURRENT(t0);
			ds = fsmml_dataset_build(symbol, timeframe, bars, row_from, bars->n,
									 features, 0, false, champcxt);
			features_ms = ms_since(t0);
			score_champion(&plans, &target, c, b, ds, symbol, timeframe, champcxt, batchcxt, &st);
			written += st.inserted + st.updated + st.unchanged;
			ereport(DEBUG1,
					(errmsg("fsmml_score %s %s: " INT64_FORMAT " inserted (" INT64_FORMAT
							" directly), " INT64_FORMAT " updated, " INT64_FORMAT " unchanged",
							instance, c->version, st.inserted, st.direct, st.updated,
							st.unchanged),
					 errdetail("bars " INT64_FORMAT " read in %.0f ms, features %.0f ms, "
							   "prediction %.0f ms (not overlapped), payloads %.0f ms, merge and write %.0f ms",
							   bars->n, read_ms, features_ms, st.predict_ms, st.payload_ms,
							   st.write_ms)));
			MemoryContextSwitchTo(old);
			MemoryContextReset(champcxt);	/* frees the booster and the matrix */
		}
		pred_target_close(&target);
	}

	SPI_finish();
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(opcxt);
	PG_RETURN_INT64(written);
}
