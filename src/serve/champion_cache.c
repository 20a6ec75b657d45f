/*
 * champion_cache.c — the champions fsmml serves: reading a version, its model
 * (checked against its sha256), loading its booster, and the backend-local
 * cache of loaded champion boosters fsmml_predict keeps (a child of
 * CacheMemoryContext, keyed by agent@symbol-timeframe and checked against the
 * champion's id and model sha256 on every call).
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/sha2.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#ifdef USE_OPENSSL
#include <openssl/evp.h>
#endif

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
#include "serve.h"

/* Longest agent@symbol-timeframe name the champion cache keys on. */
#define CACHE_KEY_LEN 256

const char *const fsmml_no_champion_hint =
"Train one with fsmml_train(...) or promote a version with fsmml_promote(...).";

/* ---------------------------------------------------------------- champions */


bool
fsmml_is_xgboost_format(const char *format)
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
Champion *
fsmml_champion_from_row(HeapTuple tup, TupleDesc desc, bool with_model)
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
Champion *
fsmml_read_champion(const char *agent, const char *symbol, const char *timeframe)
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
	return fsmml_champion_from_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, false);
}

void fsmml_report_sha_mismatch(const Champion *c, const char *instance) pg_attribute_noreturn();

void
fsmml_report_sha_mismatch(const Champion *c, const char *instance)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("the model of %s %s does not match its model_sha256", instance, c->version),
			 errhint("The model blob was altered after the version was registered; retrain or restore it.")));
}

/* Lower-case hex SHA-256 of len bytes into hex[65]. */
void
fsmml_sha256_hex(const void *data, size_t len, char *hex)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 || pg_cryptohash_update(ctx, data, len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute a SHA-256 digest: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/*
 * In the postmaster (shared_preload_libraries): OpenSSL's first SHA-256 of
 * a process loads its configuration and default provider, 3-6 ms that
 * every backend's first bar would otherwise pay checking its champions'
 * blobs; done once here, the backends inherit it.  (PostgreSQL with ssl on
 * initialises OpenSSL in the postmaster too.)
 */
void
fsmml_sha256_preload(void)
{
#ifdef USE_OPENSSL
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len;

	(void) EVP_Digest("", 0, md, &len, EVP_sha256(), NULL);
#endif
}

/*
 * The model blob of a version, checked against its recorded sha256 (hashed
 * here, from the one detoasted copy: the blobs run to hundreds of kB).
 */
bytea *
fsmml_read_model(const char *symbol, const Champion *c, const char *instance)
{
	int64		id = c->id;
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	bool		isnull;
	bytea	   *model;
	char	   *want;
	char		got[2 * PG_SHA256_DIGEST_LENGTH + 1];
	int			rc;

	values[0] = CStringGetTextDatum(symbol);
	values[1] = Int64GetDatum(id);
	rc = SPI_execute_with_args("SELECT model, model_sha256 FROM trading.agentversions "
							   "WHERE symbol = $1 AND id = $2",
							   2, types, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the model failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("agent version " INT64_FORMAT " does not exist", id)));
	model = DatumGetByteaPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	want = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	fsmml_sha256_hex(VARDATA_ANY(model), VARSIZE_ANY_EXHDR(model), got);
	if (want == NULL || strcmp(got, want) != 0)
		fsmml_report_sha_mismatch(c, instance);
	return model;
}

/*
 * Loads an XGBoost champion's model into owner and checks it gives one
 * value per row (a probability for a binary objective).
 */
FsXgbBooster *
fsmml_load_booster(MemoryContext owner, const Champion *c, bytea *model, const char *instance)
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
List *
fsmml_champion_features(const Champion *c, const char *timeframe, const char *instance)
{
	if (c->features == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("champion %s of %s has no feature_names", c->version, instance),
				 errhint("Every XGBoost version records the feature columns it was trained on, in order.")));
	return fsmml_resolve_features(timeframe, c->features);
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

/* A cached champion predicts one row a call: it keeps only its forest once that matches. */
static FsXgbBooster *
load_for_cache(MemoryContext owner, const Champion *c, bytea *model, const char *instance, bool cached)
{
	FsXgbBooster *volatile b = NULL;

	fsxgb_release_for_forest(cached);
	PG_TRY();
	{
		b = fsmml_load_booster(owner, c, model, instance);
	}
	PG_FINALLY();
	{
		fsxgb_release_for_forest(false);
	}
	PG_END_TRY();
	return b;
}

/*
 * The champion's booster: from the cache when it holds this version with
 * this model, else loaded (into a context that dies with the call if
 * anything fails, then handed to the cache).
 */
FsXgbBooster *
fsmml_cached_booster(const char *instance, const Champion *c, const char *symbol,
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
	model = fsmml_read_model(symbol, c, instance);
	b = load_for_cache(newcxt, c, model, instance, e != NULL);
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
