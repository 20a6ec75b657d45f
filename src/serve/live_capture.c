/*
 * live_capture.c — which inserted bars live scoring sees, at (almost) no
 * cost for the bars it will not score.
 *
 * Row triggers on trading.historicaldata (AFTER INSERT, AFTER UPDATE) carry
 * a WHEN clause calling fsmml_live_wanted: fsmml.score_on_insert on, the
 * row's series in fsmml.live_series and (INSERT) the bar inside
 * fsmml.live_window.  A row that fails it queues no trigger event and is
 * never copied anywhere, so a COPY of bars nobody scores pays one function
 * call per row (a transition table would have stored every row).  A row
 * that passes fires fsmml_live_capture, which appends the bar to a list in
 * transaction memory; the statement's AFTER STATEMENT trigger (fired after
 * all of the statement's row events) takes its rows from the list and
 * scores them (live_trigger.c).
 *
 * Nested statements: a statement run inside another's trigger fires its
 * own events first, inside one of the outer statement's events.  A query
 * level fires all its AFTER events under its own active snapshot, and a
 * nested statement always runs under another (its own copy, while the
 * outer one is still alive), so each row is tagged with the active snapshot
 * and a statement trigger takes only rows with its own tag.  A statement
 * that fails never reaches its statement trigger: rows captured in an
 * aborted (sub)transaction are dropped at its abort, all rows at the end of
 * the transaction.
 *
 * The live set is cached per backend, read with the latest snapshot (so it
 * is the committed state, plus this transaction's own changes).  A
 * statement trigger on fsmml.live_series queues a relcache invalidation of
 * that table; PostgreSQL sends it to other backends when the writer commits
 * (never on abort) and replays it locally at command end and on abort, and
 * the callback drops the cache.  Pending invalidations are accepted at the
 * first row of each statement, so a session inside a transaction block
 * sees another's committed change at its next statement, as it would have
 * seen the table itself.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "fsmml.h"
#include "live.h"
#include "live_capture.h"
#include "privilege.h"
#include "serve.h"

/* ---------------------------------------------------------------- bars of a row */

static const char *const bar_col_names[8] =
{"symbol", "timeframe", "timestamp", "open", "high", "low", "close", "volume"};

static double
to_float8(Datum d, Oid type, bool isnull)
{
	if (isnull)
		return NAN;
	switch (type)
	{
		case FLOAT8OID:
			return DatumGetFloat8(d);
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case NUMERICOID:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, d));
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return (double) DatumGetInt64(d);
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("live scoring cannot read prices of type %s", format_type_be(type)),
					 errhint("Use double precision or numeric prices in trading.historicaldata.")));
	}
	return NAN;
}

/* Columns by name: a partition may order them differently from its parent. */
bool
fsmml_live_bar_from_slot(TupleTableSlot *slot, InBar *out)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;
	AttrNumber	att[8];
	Oid			type[8];
	Datum		d;
	bool		isnull;

	for (int k = 0; k < 8; k++)
	{
		att[k] = InvalidAttrNumber;
		for (int a = 0; a < desc->natts && att[k] == InvalidAttrNumber; a++)
		{
			Form_pg_attribute fa = TupleDescAttr(desc, a);

			if (!fa->attisdropped && strcmp(NameStr(fa->attname), bar_col_names[k]) == 0)
			{
				att[k] = fa->attnum;
				type[k] = fa->atttypid;
			}
		}
		if (att[k] == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("trading.historicaldata has no column \"%s\"", bar_col_names[k])));
	}
	d = slot_getattr(slot, att[0], &isnull);
	if (isnull)
		return false;
	out->symbol = TextDatumGetCString(d);
	d = slot_getattr(slot, att[1], &isnull);
	if (isnull)
		return false;
	out->timeframe = TextDatumGetCString(d);
	d = slot_getattr(slot, att[2], &isnull);
	if (isnull)
		return false;
	if (type[2] == TIMESTAMPOID)
		out->bar.ts = fsmml_ts_to_unix(DatumGetTimestampTz(DirectFunctionCall1(timestamp_timestamptz, d)));
	else
		out->bar.ts = fsmml_ts_to_unix(DatumGetTimestampTz(d));
	out->bar.open = to_float8(slot_getattr(slot, att[3], &isnull), type[3], isnull);
	out->bar.high = to_float8(slot_getattr(slot, att[4], &isnull), type[4], isnull);
	out->bar.low = to_float8(slot_getattr(slot, att[5], &isnull), type[5], isnull);
	out->bar.close = to_float8(slot_getattr(slot, att[6], &isnull), type[6], isnull);
	out->bar.volume = to_float8(slot_getattr(slot, att[7], &isnull), type[7], isnull);
	out->changed = true;
	return true;
}

/* ---------------------------------------------------------------- the live set */

typedef struct LiveKey
{
	char	   *symbol;
	int			symlen;
	char	   *timeframe;
	int			tflen;
} LiveKey;

static MemoryContext live_cxt = NULL;
static LiveKey *live_keys = NULL;
static int	n_live = 0;
static bool live_valid = false;
static uint64 live_generation = 0;	/* bumped by every invalidation */
static Oid	live_relid = InvalidOid;
static TimestampTz seen_stmt_start = 0;
static CommandId seen_cid = InvalidCommandId;

static void
live_inval_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == live_relid || !OidIsValid(live_relid))
	{
		live_valid = false;
		live_generation++;
	}
}

static int
cmp_bytes(const char *a, int alen, const char *b, int blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	return c != 0 ? c : (alen > blen) - (alen < blen);
}

static int
cmp_livekey(const void *x, const void *y)
{
	const LiveKey *a = x;
	const LiveKey *b = y;
	int			c = cmp_bytes(a->symbol, a->symlen, b->symbol, b->symlen);

	return c != 0 ? c : cmp_bytes(a->timeframe, a->tflen, b->timeframe, b->tflen);
}

/* fsmml.live_series as committed (and as this transaction changed it), in owner mode. */
static void
live_load(void)
{
	Oid			nsp = get_namespace_oid("fsmml", true);
	uint64		generation = live_generation;
	FsmmlUserScope us;
	SPIPlanPtr	plan;

	live_relid = OidIsValid(nsp) ? get_relname_relid("live_series", nsp) : InvalidOid;
	if (live_cxt == NULL)
		live_cxt = AllocSetContextCreate(TopMemoryContext, "fsmml live series",
										 ALLOCSET_SMALL_SIZES);
	MemoryContextReset(live_cxt);
	live_keys = NULL;
	n_live = 0;
	if (!OidIsValid(live_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"fsmml.live_series\" does not exist"),
				 errhint("Reinstall the extension: its live-scoring triggers are on trading.historicaldata without it.")));
	fsmml_owner_enter(&us);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare("SELECT symbol, timeframe FROM fsmml.live_series", 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for fsmml.live_series");
	/* the latest snapshot, not the statement's: the cache outlives this transaction */
	if (SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading fsmml.live_series failed");
	if (SPI_processed > 0)
	{
		live_keys = MemoryContextAlloc(live_cxt, sizeof(LiveKey) * SPI_processed);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		n1,
						n2;
			text	   *s = DatumGetTextPP(SPI_getbinval(t, desc, 1, &n1));
			text	   *f = DatumGetTextPP(SPI_getbinval(t, desc, 2, &n2));
			LiveKey    *k = &live_keys[n_live++];

			k->symlen = VARSIZE_ANY_EXHDR(s);
			k->symbol = MemoryContextAlloc(live_cxt, k->symlen + 1);
			memcpy(k->symbol, VARDATA_ANY(s), k->symlen);
			k->tflen = VARSIZE_ANY_EXHDR(f);
			k->timeframe = MemoryContextAlloc(live_cxt, k->tflen + 1);
			memcpy(k->timeframe, VARDATA_ANY(f), k->tflen);
		}
	}
	SPI_finish();
	fsmml_owner_leave(&us);
	if (n_live > 1)
		qsort(live_keys, n_live, sizeof(LiveKey), cmp_livekey);
	/* an invalidation taken in while reading (our own lock) may postdate the read */
	live_valid = (generation == live_generation);
}

bool
fsmml_live_series_on(const char *symbol, int symlen, const char *timeframe, int tflen)
{
	TimestampTz stmt = GetCurrentStatementStartTimestamp();
	CommandId	cid = GetCurrentCommandId(false);
	LiveKey		key;

	if (stmt != seen_stmt_start || cid != seen_cid)
	{
		/* once per statement: others' committed changes (a held lock takes none in) */
		seen_stmt_start = stmt;
		seen_cid = cid;
		AcceptInvalidationMessages();
	}
	if (!live_valid)
		live_load();
	if (n_live == 0)
		return false;
	key.symbol = (char *) symbol;
	key.symlen = symlen;
	key.timeframe = (char *) timeframe;
	key.tflen = tflen;
	return bsearch(&key, live_keys, n_live, sizeof(LiveKey), cmp_livekey) != NULL;
}

/*
 * WHEN clause of the row triggers: (symbol, timeframe, timestamp) for an
 * inserted row, (symbol, timeframe) for either version of an updated one
 * (an update's window is applied after old and new rows are matched).
 * STRICT: a NULL key is not a bar of any series.
 */
PG_FUNCTION_INFO_V1(fsmml_live_wanted);

Datum
fsmml_live_wanted(PG_FUNCTION_ARGS)
{
	text	   *symbol;
	text	   *timeframe;

	if (!fsmml_score_on_insert)
		PG_RETURN_BOOL(false);
	if (PG_NARGS() > 2 && fsmml_live_window > 0 &&
		PG_GETARG_TIMESTAMPTZ(2) < GetCurrentTransactionStartTimestamp() -
		(int64) fsmml_live_window * USECS_PER_MINUTE)
		PG_RETURN_BOOL(false);
	symbol = PG_GETARG_TEXT_PP(0);
	timeframe = PG_GETARG_TEXT_PP(1);
	PG_RETURN_BOOL(fsmml_live_series_on(VARDATA_ANY(symbol), VARSIZE_ANY_EXHDR(symbol),
										VARDATA_ANY(timeframe), VARSIZE_ANY_EXHDR(timeframe)));
}

/* Trigger on fsmml.live_series: every backend drops its live set after this commits. */
PG_FUNCTION_INFO_V1(fsmml_live_series_changed);

Datum
fsmml_live_series_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fsmml_live_series_changed must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
	return PointerGetDatum(NULL);
}

/* ---------------------------------------------------------------- the captured rows */

typedef struct CapturedRow
{
	Snapshot	tag;			/* the active snapshot of the capturing query level */
	SubTransactionId subid;
	LiveRowKind kind;
	InBar		bar;
} CapturedRow;

static MemoryContext capture_cxt = NULL;	/* child of TopTransactionContext */
static CapturedRow *captured = NULL;
static int	n_captured = 0;
static int	cap_captured = 0;

static Snapshot
current_tag(void)
{
	return ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;
}

static void
capture(LiveRowKind kind, TupleTableSlot *slot)
{
	InBar		bar;

	if (slot == NULL || !fsmml_live_bar_from_slot(slot, &bar))
		return;
	if (n_captured == cap_captured)
	{
		cap_captured = cap_captured == 0 ? 16 : cap_captured * 2;
		captured = captured == NULL ? palloc(sizeof(CapturedRow) * cap_captured)
			: repalloc_huge(captured, sizeof(CapturedRow) * cap_captured);
	}
	captured[n_captured].tag = current_tag();
	captured[n_captured].subid = GetCurrentSubTransactionId();
	captured[n_captured].kind = kind;
	captured[n_captured].bar = bar;
	n_captured++;
}

PG_FUNCTION_INFO_V1(fsmml_live_capture);

Datum
fsmml_live_capture(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	MemoryContext oldcxt;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_AFTER(td->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fsmml_live_capture must be an AFTER INSERT or UPDATE row trigger"),
				 errhint("The extension installs it on trading.historicaldata.")));
	if (capture_cxt == NULL)
		capture_cxt = AllocSetContextCreate(TopTransactionContext, "fsmml live capture",
											ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(capture_cxt);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		capture(LIVE_ROW_OLD, td->tg_trigslot);
		capture(LIVE_ROW_NEW, td->tg_newslot);
	}
	else
		capture(LIVE_ROW_INSERTED, td->tg_trigslot);
	MemoryContextSwitchTo(oldcxt);
	return PointerGetDatum(NULL);
}

InBar *
fsmml_live_capture_take(LiveRowKind kind, int *n)
{
	Snapshot	tag = current_tag();
	InBar	   *out = NULL;
	int			kept = 0;

	*n = 0;
	if (n_captured == 0)
		return NULL;
	for (int i = 0; i < n_captured; i++)
	{
		CapturedRow *r = &captured[i];

		if (r->tag == tag && r->kind == kind)
		{
			InBar	   *b;

			if (out == NULL)
				out = palloc(sizeof(InBar) * (n_captured - i));
			b = &out[(*n)++];
			*b = r->bar;
			b->symbol = pstrdup(r->bar.symbol);
			b->timeframe = pstrdup(r->bar.timeframe);
		}
		else
			captured[kept++] = *r;
	}
	n_captured = kept;
	ereport(DEBUG2,
			(errmsg_internal("fsmml live capture: %d rows taken, %d left for other statements",
							 *n, n_captured)));
	if (n_captured == 0)
	{
		/* nothing pending: give the memory back (a long transaction inserts many statements) */
		MemoryContextReset(capture_cxt);
		captured = NULL;
		cap_captured = 0;
	}
	return out;
}

bool
fsmml_live_capture_pending(void)
{
	return n_captured > 0;
}

static void
capture_xact_cb(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		/* the context goes with TopTransactionContext */
		capture_cxt = NULL;
		captured = NULL;
		n_captured = cap_captured = 0;
	}
}

static void
capture_subxact_cb(SubXactEvent event, SubTransactionId mySubid,
				   SubTransactionId parentSubid, void *arg)
{
	int			kept = 0;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	/* ids only grow: rows of the aborted subtransaction and its children */
	for (int i = 0; i < n_captured; i++)
		if (captured[i].subid < mySubid)
			captured[kept++] = captured[i];
	n_captured = kept;
}

void
fsmml_live_capture_init(void)
{
	CacheRegisterRelcacheCallback(live_inval_cb, (Datum) 0);
	RegisterXactCallback(capture_xact_cb, NULL);
	RegisterSubXactCallback(capture_subxact_cb, NULL);
}
