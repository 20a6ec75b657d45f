/*
 * live_trigger.c — live scoring's front door: the statement triggers on
 * trading.historicaldata (AFTER INSERT and AFTER UPDATE), which score the
 * rows the statement's row triggers captured (live_capture.c: only rows of
 * live series, with scoring on), so one-row INSERT, multi-row INSERT, COPY
 * and ON CONFLICT DO UPDATE all arrive as one batch of rows;
 * fsmml_enable_scoring / fsmml_disable_scoring (fsmml.live_series) and the
 * GUCs.
 *
 * Each series of the batch is scored in its own subtransaction.  Bars after
 * the series' last featured bar take the O(1) path (live_state.c,
 * model_cache.c, live_score.c); a bar before it, a corrected bar or a series
 * without a kernel state rebuilds the features from that bar and re-scores
 * the rest of the series with fsmml_score's own code, so both paths store
 * what fsmml_score stores.  Any ERROR rolls the subtransaction back, is
 * recorded in fsmml.scoring_errors and reported as a WARNING; the bars stay
 * inserted.  The trigger runs in owner mode (privilege.c) and never reads
 * the bars table on the O(1) path: only the captured rows, which hold
 * values, not code.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "bars.h"
#include "fsmml.h"
#include "fsmml_features.h"
#include "live.h"
#include "live_capture.h"
#include "locks.h"
#include "privilege.h"
#include "serve.h"

bool		fsmml_score_on_insert = true;
int			fsmml_live_window = 0;
int			fsmml_model_max_age = 0;
int			fsmml_model_cache_size = 1024;

extern Datum fsmml_score(PG_FUNCTION_ARGS);
extern void fsmml_live_forget_partitions(void);
extern void fsmml_live_init(void);

void
fsmml_live_init(void)
{
	DefineCustomBoolVariable("fsmml.score_on_insert",
							 "Scores bars of live series as they are inserted.",
							 "Off for a bulk back-fill; score it later with fsmml_score.",
							 &fsmml_score_on_insert, true, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("fsmml.live_window",
							"Inserted bars older than this are not scored live (0: no limit).",
							NULL, &fsmml_live_window, 0, 0, INT_MAX, PGC_USERSET, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("fsmml.model_max_age",
							"A champion trained longer ago than this gives flat signals marked stale (0: never).",
							NULL, &fsmml_model_max_age, 0, 0, INT_MAX, PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("fsmml.model_cache_size",
							"Loaded model versions live scoring keeps per backend.",
							"A live series runs up to six; a session that inserts bars of more series than fit loads their models again for every bar.",
							&fsmml_model_cache_size, 1024, 1, 100000, PGC_USERSET, 0,
							NULL, NULL, NULL);
	fsmml_model_cache_init();
	fsmml_live_capture_init();
	fsmml_live_checks_init();
}

/* ---------------------------------------------------------------- rows in */

static int
cmp_inbar(const void *a, const void *b)
{
	const InBar *x = a;
	const InBar *y = b;
	int			c = strcmp(x->symbol, y->symbol);

	if (c == 0)
		c = strcmp(x->timeframe, y->timeframe);
	if (c == 0)
		c = x->bar.ts < y->bar.ts ? -1 : x->bar.ts > y->bar.ts;
	return c;
}

static bool
same_bar(const FsBar *a, const FsBar *b)
{
	return memcmp(a, b, sizeof(FsBar)) == 0;
}

/* ---------------------------------------------------------------- one series */

/*
 * Whether trading.historicaldata holds exactly the n new bars after last_ts
 * up to the newest of them: bars inserted while scoring was off (or older
 * than the window) would otherwise be skipped by the kernel.  Read as the
 * caller.  A single bar one step after the last needs no look: no other bar
 * fits between (the kernel refuses bars less than half a step apart).
 */
static bool
only_new_bars(const char *symbol, const char *timeframe, int64 last_ts, const FsBar *bars, int n)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4];
	FsmmlUserScope us;
	bool		isnull;
	int64		count;

	if (n == 1 && bars[0].ts - last_ts <= fsmml_timeframe_usec(timeframe))
		return true;
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = TimestampTzGetDatum(fsmml_unix_to_ts(last_ts));
	values[3] = TimestampTzGetDatum(fsmml_unix_to_ts(bars[n - 1].ts));
	fsmml_caller_enter(&us);
	if (SPI_execute_with_args("SELECT count(*) FROM trading.historicaldata WHERE symbol = $1 "
							  "AND timeframe = $2 AND \"timestamp\" > $3 AND \"timestamp\" <= $4",
							  4, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "counting the new bars failed");
	fsmml_caller_leave(&us);
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return count == n;
}

/* Whether the series being scored writes with plain INSERTs (score_series_guarded reads it). */
static bool scoring_new = false;

/*
 * Scores bars[0..n) of one series (ascending).  since: the earliest bar an
 * UPDATE changed (INT64_MAX for an INSERT).  allow_new: one new bar may go
 * in with plain INSERTs (LIVE_WRITE_NEW, noted in scoring_new).
 */
static void
score_series(const char *symbol, const char *timeframe, InBar *in, int n, int64 since,
			 bool allow_new)
{
	bool		used_new = false;
	FsBar	   *bars = palloc(sizeof(FsBar) * (n + 1));
	int64		last_ts = INT64_MIN;
	LiveSeries *s;

	for (int i = 0; i < n; i++)
		bars[i + 1] = in[i].bar;
	s = fsmml_live_series_lock(symbol, timeframe, &last_ts);
	if (s != NULL && since == INT64_MAX && bars[1].ts > last_ts &&
		only_new_bars(symbol, timeframe, last_ts, bars + 1, n))
	{
		/* The common case: new bars after the last one, O(1) each. */
		double	   *feats = palloc(sizeof(double) * FS_NFEATURES * (n + 1));
		LiveChampions *ch;

		/* one bar after the newest featured one: no row of it is expected anywhere */
		used_new = allow_new && n == 1;
		scoring_new = used_new;

		memcpy(feats, fsmml_live_series_prev(s), sizeof(double) * FS_NFEATURES);
		memset(&bars[0], 0, sizeof(FsBar));
		bars[0].ts = last_ts;
		bars[0].open = bars[0].high = bars[0].low = bars[0].close = bars[0].volume = NAN;
		fsmml_live_series_advance(s, symbol, timeframe, bars + 1, n, feats + FS_NFEATURES, !used_new);
		ch = fsmml_live_champions(symbol, timeframe, true);
		ereport(DEBUG1,
				(errmsg_internal("fsmml live %s %s: %d bars, %d champions", symbol, timeframe, n, ch->n)));
		if (ch->n > 0 || used_new)
			fsmml_live_score_rows(symbol, timeframe, ch, bars, feats, n,
								  used_new ? LIVE_WRITE_NEW : LIVE_WRITE_UPSERT, true, NULL);
	}
	else
	{
		/* A late or corrected bar (or no state yet): rebuild from it, re-score with fsmml_score. */
		int64		from = Min(since, bars[1].ts);
		int64	   *ts = palloc(sizeof(int64) * n);

		if (s != NULL && last_ts < from)
			from = last_ts + 1;	/* bars stored unscored since the last one: from there */

		fsmml_build_features_internal(symbol, timeframe, fsmml_unix_to_ts(from), s != NULL);
		{
			Datum		scored = DirectFunctionCall4(fsmml_score, CStringGetTextDatum(symbol),
													 CStringGetTextDatum(timeframe),
													 TimestampTzGetDatum(fsmml_unix_to_ts(from)),
													 TimestampTzGetDatum(DT_NOEND));

			ereport(DEBUG1,
					(errmsg_internal("fsmml live %s %s: %d bars re-scored from %s: " INT64_FORMAT " predictions",
									 symbol, timeframe, n, timestamptz_to_str(fsmml_unix_to_ts(from)),
									 DatumGetInt64(scored))));
		}
		for (int i = 0; i < n; i++)
			ts[i] = bars[i + 1].ts;
		fsmml_live_notify_stored(symbol, timeframe, ts, n);
	}
}

static void
record_error(const char *symbol, const char *timeframe, int64 first_ts, int n, ErrorData *ed)
{
	Oid			types[8] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = TimestampTzGetDatum(fsmml_unix_to_ts(first_ts));
	values[3] = Int32GetDatum(n);
	values[4] = CStringGetTextDatum(unpack_sql_state(ed->sqlerrcode));
	values[5] = CStringGetTextDatum(ed->message ? ed->message : "unknown error");
	values[6] = ed->detail ? CStringGetTextDatum(ed->detail) : (Datum) 0;
	nulls[6] = ed->detail ? ' ' : 'n';
	values[7] = ed->hint ? CStringGetTextDatum(ed->hint) : (Datum) 0;
	nulls[7] = ed->hint ? ' ' : 'n';
	if (SPI_execute_with_args("INSERT INTO fsmml.scoring_errors (symbol, timeframe, \"timestamp\", bars, "
							  "sqlstate, message, detail, hint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
							  8, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "recording the scoring error failed");
	ereport(WARNING,
			(errcode(ed->sqlerrcode),
			 errmsg("fsmml: scoring %s %s failed: %s", symbol, timeframe, ed->message),
			 ed->detail ? errdetail("%s", ed->detail) : 0,
			 errhint("The bars are stored; the error is in fsmml.scoring_errors. Score them later with fsmml_score.")));
}

/*
 * One series in a subtransaction: an ERROR is recorded, the bars stay.  A
 * bar written with plain INSERTs that meets a row already there (left by a
 * deleted bar, or written meanwhile by another session) is scored again
 * with upserts.
 */
static void
score_series_guarded(const char *symbol, const char *timeframe, InBar *in, int n, int64 since,
					 MemoryContext cxt)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool retry = false;

	do
	{
		bool		allow_new = !retry;

		retry = false;
		scoring_new = false;
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(cxt);
		PG_TRY();
		{
			/*
			 * The statement's snapshot does not see the bars it inserted:
			 * read with a fresh one (popped by the abort on an ERROR).
			 */
			CommandCounterIncrement();
			/* fsmml_build_features' lock first, then the state row: one order, no deadlock */
			fsmml_lock_series_build(symbol, timeframe);
			PushActiveSnapshot(GetTransactionSnapshot());
			score_series(symbol, timeframe, in, n, since, allow_new);
			PopActiveSnapshot();
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
		}
		PG_CATCH();
		{
			ErrorData  *ed;

			MemoryContextSwitchTo(oldcxt);
			ed = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
			MemoryContextReset(cxt);
			fsmml_live_forget_partitions();
			fsmml_live_checks_disarm();
			if (scoring_new && ed->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
				retry = true;
			else
				record_error(symbol, timeframe, in[0].bar.ts, n, ed);
			FreeErrorData(ed);
		}
		PG_END_TRY();
		MemoryContextReset(cxt);
	} while (retry);
}

/* ---------------------------------------------------------------- the trigger */

PG_FUNCTION_INFO_V1(fsmml_live_trigger);

Datum
fsmml_live_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext opcxt;
	MemoryContext seriescxt;
	InBar	   *rows;
	InBar	   *old = NULL;
	int			n;
	int			nold = 0;
	bool		update;
	TimestampTz oldest = DT_NOBEGIN;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) ||
		!TRIGGER_FIRED_AFTER(td->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fsmml_live_trigger must be an AFTER INSERT or UPDATE statement trigger"),
				 errhint("The extension installs it on trading.historicaldata.")));
	update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);
	if (!fsmml_live_capture_pending())
		return PointerGetDatum(NULL);	/* no row of the statement passed the WHEN clause */

	opcxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml live", ALLOCSET_DEFAULT_SIZES);
	seriescxt = AllocSetContextCreate(opcxt, "fsmml live series", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(opcxt);
	/* the statement's rows, taken even when scoring was switched off since (none left behind) */
	rows = fsmml_live_capture_take(update ? LIVE_ROW_NEW : LIVE_ROW_INSERTED, &n);
	if (update)
		old = fsmml_live_capture_take(LIVE_ROW_OLD, &nold);
	if (!fsmml_score_on_insert || n + nold == 0)
	{
		MemoryContextSwitchTo(oldcxt);
		MemoryContextDelete(opcxt);
		return PointerGetDatum(NULL);
	}
	if (rows == NULL)
		rows = palloc(sizeof(InBar));
	if (n > 1)
		qsort(rows, n, sizeof(InBar), cmp_inbar);
	if (nold > 0)
	{
		int			j = 0;

		if (nold > 1)
			qsort(old, nold, sizeof(InBar), cmp_inbar);
		/* a new row equal to its old one changed nothing; an old key that vanished did */
		for (int i = 0; i < nold; i++)
			old[i].changed = true;
		for (int i = 0; i < n; i++)
		{
			while (j < nold && cmp_inbar(&old[j], &rows[i]) < 0)
				j++;
			if (j < nold && cmp_inbar(&old[j], &rows[i]) == 0)
			{
				rows[i].changed = !same_bar(&old[j].bar, &rows[i].bar);
				old[j].changed = false;
			}
		}
		for (int i = 0; i < nold; i++)
			if (old[i].changed)
			{
				/* the old key's series is re-scored from the old bar on */
				rows = repalloc_huge(rows, sizeof(InBar) * (n + 1));
				rows[n++] = old[i];
			}
		if (n > 1)
			qsort(rows, n, sizeof(InBar), cmp_inbar);
	}
	if (fsmml_live_window > 0)
		oldest = GetCurrentTransactionStartTimestamp() - (int64) fsmml_live_window * USECS_PER_MINUTE;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int i = 0; i < n;)
	{
		int			j = i;
		int			m = 0;
		int64		since = INT64_MAX;
		InBar	   *grp;

		while (j < n && strcmp(rows[j].symbol, rows[i].symbol) == 0 &&
			   strcmp(rows[j].timeframe, rows[i].timeframe) == 0)
			j++;
		CHECK_FOR_INTERRUPTS();
		grp = palloc(sizeof(InBar) * (j - i));
		for (int k = i; k < j; k++)
		{
			if (!rows[k].changed || fsmml_unix_to_ts(rows[k].bar.ts) < oldest)
				continue;		/* unchanged, or a back-fill older than fsmml.live_window */
			grp[m++] = rows[k];
			if (update)
				since = Min(since, rows[k].bar.ts);
		}
		if (m > 0 && fsmml_live_series_on(rows[i].symbol, strlen(rows[i].symbol),
										  rows[i].timeframe, strlen(rows[i].timeframe)))
			score_series_guarded(rows[i].symbol, rows[i].timeframe, grp, m, since, seriescxt);
		i = j;
	}
	SPI_finish();
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(opcxt);
	return PointerGetDatum(NULL);
}

/* ---------------------------------------------------------------- enable / disable */

PG_FUNCTION_INFO_V1(fsmml_enable_scoring);

Datum
fsmml_enable_scoring(PG_FUNCTION_ARGS)
{
	char	   *symbol = fsmml_arg_cstring(fcinfo, 0, "symbol");
	char	   *timeframe = fsmml_arg_cstring(fcinfo, 1, "timeframe");
	bool		added;

	fsmml_timeframe_usec(timeframe);	/* ERROR when invalid */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	fsmml_spi_series("INSERT INTO fsmml.live_series (symbol, timeframe) VALUES ($1, $2) "
					 "ON CONFLICT (symbol, timeframe) DO NOTHING",
					 symbol, timeframe, NULL, false, 0, SPI_OK_INSERT, "enabling live scoring");
	added = SPI_processed > 0;
	SPI_finish();
	/* the kernel state up to the latest bar, so the first live bar is O(1) too */
	fsmml_build_features_internal(symbol, timeframe, 0, false);
	PG_RETURN_BOOL(added);
}

PG_FUNCTION_INFO_V1(fsmml_disable_scoring);

Datum
fsmml_disable_scoring(PG_FUNCTION_ARGS)
{
	char	   *symbol = fsmml_arg_cstring(fcinfo, 0, "symbol");
	char	   *timeframe = fsmml_arg_cstring(fcinfo, 1, "timeframe");
	bool		removed;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	fsmml_spi_series("DELETE FROM fsmml.live_series WHERE symbol = $1 AND timeframe = $2",
					 symbol, timeframe, NULL, false, 0, SPI_OK_DELETE, "disabling live scoring");
	removed = SPI_processed > 0;
	SPI_finish();
	PG_RETURN_BOOL(removed);
}
