/*
 * model_cache.c — the champions live scoring runs, per backend.
 *
 * Two caches.  Models: loaded versions keyed by version id (a version's
 * model never changes without its sha256 being checked again), at most
 * fsmml.model_cache_size of them, least recently used evicted; each owns a
 * memory context (XGBoost handles freed by its reset callbacks).  Series:
 * which versions are the champions of a series, valid for one generation.
 *
 * A statement trigger on trading.agentversions (fsmml_versions_changed)
 * queues a relcache invalidation of that table in the writing transaction.
 * PostgreSQL sends it to other backends only when that transaction commits
 * (and drops it on abort), so a promotion, a deploy or a rewritten blob
 * bumps every backend's generation after commit, never before, and a
 * rolled-back one never.  The next bar then re-reads its series' champions
 * and checks each model's bytes against model_sha256.  Every bar takes
 * AccessShareLock on trading.agentversions first (so the invalidations of
 * promotions committed before are processed); a version's DELETE waits for
 * the writers of its predictions through their prediction lock (agentpreds
 * has no foreign key; see agentversions_keep_predicted).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "nodes/makefuncs.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "fsmml.h"
#include "live.h"
#include "registry.h"
#include "serve.h"
#include "xgb.h"

#define SERIES_KEY_LEN 160
#define MAX_CHAMPIONS 16

typedef struct ModelEntry
{
	int64		id;				/* hash key */
	char		sha256[65];
	MemoryContext cxt;
	FsAgentModel *m;
	uint64		used;			/* LRU tick */
	uint64		hits;			/* bars served after the one that loaded it */
	bool		warmed;
} ModelEntry;

typedef struct SeriesEntry
{
	char		key[SERIES_KEY_LEN];
	uint64		generation;		/* valid while == generation */
	int			n;
	int64		ids[MAX_CHAMPIONS];
	int			slot[MAX_CHAMPIONS];
	bool		direction[MAX_CHAMPIONS];
	TimestampTz created[MAX_CHAMPIONS];
	char		sha256[MAX_CHAMPIONS][65];
	char		agent[MAX_CHAMPIONS][NAMEDATALEN];
	char		version[MAX_CHAMPIONS][NAMEDATALEN];
} SeriesEntry;

static HTAB *models = NULL;
static HTAB *series = NULL;
static MemoryContext cache_cxt = NULL;
static uint64 generation = 1;
static uint64 tick = 0;
static Oid	versions_relid = InvalidOid;

static void
versions_inval_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == versions_relid)
		generation++;
}

void
fsmml_model_cache_init(void)
{
	CacheRegisterRelcacheCallback(versions_inval_cb, (Datum) 0);
}

PG_FUNCTION_INFO_V1(fsmml_versions_changed);

Datum
fsmml_versions_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fsmml_versions_changed must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
	return PointerGetDatum(NULL);
}

static void
caches_create(void)
{
	HASHCTL		ctl;

	if (models != NULL)
		return;
	cache_cxt = AllocSetContextCreate(TopMemoryContext, "fsmml model cache",
									  ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(ModelEntry);
	ctl.hcxt = cache_cxt;
	models = hash_create("fsmml models", 32, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = SERIES_KEY_LEN;
	ctl.entrysize = sizeof(SeriesEntry);
	ctl.hcxt = cache_cxt;
	series = hash_create("fsmml live champions", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* A statement kept for the backend's life (it re-plans itself after DDL). */
static SPIPlanPtr
keep_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*plan = p;
	}
	return *plan;
}

/* ERROR: the blob of a champion does not hash to its model_sha256. */
static void
sha_mismatch(SeriesEntry *e, int k, const char *symbol, const char *timeframe)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("model of champion %s of %s does not match its sha256",
					e->version[k], fsmml_instance_name(e->agent[k], symbol, timeframe)),
			 errhint("Train the agent again, or promote another version.")));
}

/*
 * The champions of the series (id order).  The blobs of those whose model
 * this backend holds are checked against model_sha256 here (one may have
 * been rewritten in place); the others are checked as they load, from the
 * one copy load_model reads, so a backend's first bar reads and hashes
 * each blob once.
 */
static void
read_series(SeriesEntry *e, const char *symbol, const char *timeframe)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {TEXTOID, TEXTOID, INT8ARRAYOID};
	Datum		values[3];
	Oid			nsp = get_namespace_oid("trading", true);
	Datum	   *held = palloc(sizeof(Datum) * (hash_get_num_entries(models) + 1));
	int			nheld = 0;
	HASH_SEQ_STATUS hs;
	ModelEntry *me;

	versions_relid = OidIsValid(nsp) ? get_relname_relid("agentversions", nsp) : InvalidOid;
	hash_seq_init(&hs, models);
	while ((me = hash_seq_search(&hs)) != NULL)
		held[nheld++] = Int64GetDatum(me->id);
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = PointerGetDatum(construct_array(held, nheld, INT8OID, sizeof(int64),
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	keep_plan(&plan,
			  "SELECT v.id, v.agent, a.kind, v.model_format, v.model_sha256, v.created_at, "
			  "CASE WHEN v.id = ANY ($3) THEN encode(sha256(v.model), 'hex') = v.model_sha256 END, "
			  "v.version "
			  "FROM trading.agentversions v JOIN trading.agents a ON a.name = v.agent "
			  "WHERE v.symbol = $1 AND v.timeframe = $2 AND v.status = 'champion' "
			  "ORDER BY v.id", 3, types);
	if (SPI_execute_plan(plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading the champions failed");
	e->n = 0;
	for (uint64 i = 0; i < SPI_processed && e->n < MAX_CHAMPIONS; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		bool		same;
		char	   *agent = SPI_getvalue(tup, desc, 2);
		char	   *kind = SPI_getvalue(tup, desc, 3);
		char	   *format = SPI_getvalue(tup, desc, 4);
		bool		direction = strcmp(kind, "direction") == 0;
		int			slot = -1;

		for (int a = 0; a < fsmml_nagents; a++)
			if (strcmp(fsmml_agents[a]->name, agent) == 0)
				slot = a;
		if (direction)
		{
			/* as fsmml_score: XGBoost direction champions, run by DirectionXGB's code */
			if (strcmp(format, "xgboost-ubj") != 0 && strcmp(format, "xgboost-json") != 0)
				continue;
			for (int a = 0; a < fsmml_nagents; a++)
				if (strcmp(fsmml_agents[a]->kind, "direction") == 0)
					slot = a;
		}
		else if (slot < 0)
			continue;			/* a catalogue row fsmml does not run */
		else if (strcmp(format, "fsmml-json") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("champion %s of %s has model format %s, not fsmml-json",
							SPI_getvalue(tup, desc, 8), fsmml_instance_name(agent, symbol, timeframe),
							format),
					 errhint("Train the agent with fsmml_train.")));
		e->ids[e->n] = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		e->slot[e->n] = slot;
		e->direction[e->n] = direction;
		e->created[e->n] = DatumGetTimestampTz(SPI_getbinval(tup, desc, 6, &isnull));
		strlcpy(e->sha256[e->n], SPI_getvalue(tup, desc, 5), 65);
		strlcpy(e->agent[e->n], agent, NAMEDATALEN);
		strlcpy(e->version[e->n], SPI_getvalue(tup, desc, 8), NAMEDATALEN);
		same = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
		if (!isnull && !same)
			sha_mismatch(e, e->n, symbol, timeframe);
		e->n++;
	}
}

/*
 * Models evicted before they served a second bar.  A cache's worth of them
 * means the session cycles through more series than the cache holds, and
 * every bar loads its models again: warned about once per backend.
 */
static void
count_unused_eviction(void)
{
	static int64 unused = 0;
	static bool warned = false;

	if (warned || ++unused < Max(fsmml_model_cache_size, 1))
		return;
	warned = true;
	ereport(WARNING,
			(errcode(ERRCODE_WARNING),
			 errmsg("fsmml.model_cache_size (%d) is too small for the live series this session scores",
					fsmml_model_cache_size),
			 errdetail("%d models were evicted before they scored a second bar, so each bar loads its models again.",
					   Max(fsmml_model_cache_size, 1)),
			 errhint("Raise fsmml.model_cache_size to at least six per live series this session inserts bars into.")));
}

static void
evict_lru(void)
{
	long		count = hash_get_num_entries(models);

	while (count > Max(fsmml_model_cache_size, 1))
	{
		HASH_SEQ_STATUS hs;
		ModelEntry *m;
		ModelEntry *victim = NULL;

		hash_seq_init(&hs, models);
		while ((m = hash_seq_search(&hs)) != NULL)
			if (m->used < tick && (victim == NULL || m->used < victim->used))
				victim = m;
		if (victim == NULL)
			return;				/* every entry serves the current bar */
		if (victim->hits == 0)
			count_unused_eviction();
		MemoryContextDelete(victim->cxt);
		hash_search(models, &victim->id, HASH_REMOVE, NULL);
		count--;
	}
}

/*
 * Loads version k of the series into a new context, handed to the cache on
 * success.  The blob is detoasted once and hashed from that copy.
 */
static ModelEntry *
load_model(SeriesEntry *e, int k, const char *symbol, const char *timeframe)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml live model",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old;
	FsAgentModel *m;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum	   *elems;
	int			nel;
	char	   *horizon;
	char	   *want;
	char		got[65];
	cJSON	   *params;
	bytea	   *blob;
	ModelEntry *me;
	bool		found;

	values[0] = CStringGetTextDatum(symbol);
	values[1] = Int64GetDatum(e->ids[k]);
	keep_plan(&plan,
			  "SELECT model, params::text, feature_names, version, params->>'horizon', model_sha256 "
			  "FROM trading.agentversions WHERE symbol = $1 AND id = $2", 2, types);
	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("agent version " INT64_FORMAT " does not exist", e->ids[k])));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	blob = DatumGetByteaPCopy(SPI_getbinval(tup, desc, 1, &isnull));
	want = SPI_getvalue(tup, desc, 6);
	fsmml_sha256_hex(VARDATA_ANY(blob), VARSIZE_ANY_EXHDR(blob), got);
	if (want == NULL || strcmp(got, want) != 0)
		sha_mismatch(e, k, symbol, timeframe);
	old = MemoryContextSwitchTo(cxt);
	m = palloc0(sizeof(FsAgentModel));
	m->agent = fsmml_agents[e->slot[k]];
	m->version_id = e->ids[k];
	m->version = SPI_getvalue(tup, desc, 4);
	horizon = SPI_getvalue(tup, desc, 5);
	m->horizon = (e->direction[k] && horizon) ? atoi(horizon) : 1;
	if (m->horizon < 1)
		m->horizon = 1;
	params = fsxgb_json_parse_owned(SPI_getvalue(tup, desc, 2), cxt);
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 3, &isnull)), TEXTOID, -1,
					  false, TYPALIGN_INT, &elems, NULL, &nel);
	for (int j = 0; j < nel; j++)
		m->features = lappend(m->features, TextDatumGetCString(elems[j]));
	/* cached champions predict a few rows a bar: their boosters keep only the forest */
	fsxgb_release_for_forest(true);
	PG_TRY();
	{
		m->agent->load(m, blob, params, cxt);
	}
	PG_FINALLY();
	{
		fsxgb_release_for_forest(false);
	}
	PG_END_TRY();
	pfree(blob);
	MemoryContextSwitchTo(old);

	/* loaded: the cache owns it from here */
	MemoryContextSetParent(cxt, cache_cxt);
	me = hash_search(models, &e->ids[k], HASH_ENTER, &found);
	if (found)
		MemoryContextDelete(me->cxt);
	me->id = e->ids[k];
	strlcpy(me->sha256, e->sha256[k], sizeof(me->sha256));
	me->cxt = cxt;
	me->m = m;
	me->used = tick;
	me->hits = 0;
	me->warmed = false;
	return me;
}

/*
 * AccessShareLock on trading.agentversions for the transaction: TRUNCATE
 * waits for it, and taking it processes the invalidations of promotions
 * committed until now.  A DELETE of a version waits instead for the
 * version's prediction lock (locks.h), which the writers of its
 * predictions hold; agentversions_keep_predicted takes it.
 */
static void
lock_versions_table(void)
{
	(void) RangeVarGetRelid(makeRangeVar("trading", "agentversions", -1), AccessShareLock, false);
}

LiveChampions *
fsmml_live_champions(const char *symbol, const char *timeframe, bool lock)
{
	char		key[SERIES_KEY_LEN];
	SeriesEntry *e;
	bool		found;
	LiveChampions *out = palloc0(sizeof(LiveChampions));
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	caches_create();
	if (lock)
		lock_versions_table();
	tick++;
	memset(key, 0, sizeof(key));
	snprintf(key, sizeof(key), "%s\x01%s", symbol, timeframe);
	e = hash_search(series, key, HASH_ENTER, &found);
	if (!found)
		e->generation = 0;
	for (int attempt = 0;; attempt++)
	{
		if (e->generation != generation)
		{
			uint64		g = generation;

			e->generation = 0;	/* an ERROR below leaves it unread */
			read_series(e, symbol, timeframe);
			e->generation = g;
		}
		if (e->generation == generation)
			break;
		/* a promotion committed while we read: read again */
		if (attempt > 0)
			elog(ERROR, "the champions of %s %s keep changing", symbol, timeframe);
	}
	out->n = e->n;
	out->c = palloc0(sizeof(LiveChampion) * Max(e->n, 1));
	for (int k = 0; k < e->n; k++)
	{
		ModelEntry *me = hash_search(models, &e->ids[k], HASH_FIND, NULL);

		if (me == NULL || strcmp(me->sha256, e->sha256[k]) != 0)
			me = load_model(e, k, symbol, timeframe);
		else if (me->used != tick)
			me->hits++;
		me->used = tick;
		out->c[k].m = me->m;
		out->c[k].warmed = &me->warmed;
		out->c[k].cxt = me->cxt;
		out->c[k].slot = e->slot[k];
		out->c[k].agent = e->agent[k];
		out->c[k].direction = e->direction[k];
		out->c[k].stale = fsmml_model_max_age > 0 &&
			e->created[k] < now - (int64) fsmml_model_max_age * USECS_PER_SEC;
	}
	evict_lru();
	return out;
}

void
fsmml_live_predict(LiveChampion *c, const FsAgentBatch *b, int64 n)
{
	if (!*c->warmed)
	{
		MemoryContext old = MemoryContextSwitchTo(c->cxt);

		c->m->agent->predict(c->m, b, 0, n);
		MemoryContextSwitchTo(old);
		*c->warmed = true;
	}
	else
		c->m->agent->predict(c->m, b, 0, n);
}
