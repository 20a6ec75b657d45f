/*
 * live_score.c — the champions of a series over a few new bars: the same
 * agents, the same order and the same rows as fsmml_score (score.c,
 * score_agents.c), so a bar scored live stores what fsmml_score would store
 * for it.  One extra row in front (the bar before) gives the state machine
 * its previous state, as fsmml_score's one bar before its range does.
 *
 * Writes are upserts that change nothing when a value is already there,
 * through plans kept for the backend's life; NOTIFY fsmml_signals carries
 * each signal as JSON (symbol, timeframe, timestamp, side, strength, size,
 * sl, tp, version ids, stale), delivered by PostgreSQL only at commit.
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "storage/lmgr.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "commands/async.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "dataset.h"
#include "fsmml.h"
#include "live.h"
#include "locks.h"
#include "serve.h"
#include "statefsm.h"

/* NOTIFY payloads must be shorter than 8000 bytes (async.c) */
#define NOTIFY_PAYLOAD_MAX_LENGTH 8000

static Datum
f8_array(const double *v, const bool *null, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};

	for (int i = 0; i < n; i++)
	{
		nulls[i] = (null && null[i]) || !isfinite(v[i]);
		d[i] = Float8GetDatum(nulls[i] ? 0 : v[i]);
	}
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, FLOAT8OID, 8,
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

#define ARR(d, n, type, len, byval, align) \
	PointerGetDatum(construct_array((d), (n), (type), (len), (byval), (align)))
#define TS_ARR(d, n) ARR(d, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)
#define TEXT_ARR(d, n) ARR(d, n, TEXTOID, -1, false, TYPALIGN_INT)

/* ---------------------------------------------------------------- partitions */

static int64 *known_months = NULL;
static int	nknown = 0;

/* Forget which agentpreds partitions exist (after an error: one may have been dropped). */
void		fsmml_live_forget_partitions(void);
void
fsmml_live_forget_partitions(void)
{
	nknown = 0;
}

static void
ensure_partition(int64 ts)
{
	static char *schema = NULL;
	TimestampTz t = fsmml_unix_to_ts(ts);
	struct pg_tm tm;
	fsec_t		fsec;
	int64		month;
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	bool		exists;

	if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "timestamp out of range");
	month = (int64) tm.tm_year * 12 + tm.tm_mon;
	for (int i = 0; i < nknown; i++)
		if (known_months[i] == month)
			return;
	/*
	 * Concurrent first bars of a new month would race in
	 * fsmml_create_pred_partitions ("already exists"): unless the month's
	 * partition is there, creators queue on a self-conflicting lock of
	 * agentpreds, whose acquisition also makes a partition committed
	 * meanwhile visible.  Once per backend and month; a partition already
	 * there needs no call (the function would do nothing, and a backend's
	 * first bar would pay for PL/pgSQL's loading and compilation).
	 */
	{
		Oid			nsp = get_namespace_oid("trading", false);
		char	   *part = psprintf("agentpreds_y%04dm%02d", tm.tm_year, tm.tm_mon);

		AcceptInvalidationMessages();
		exists = OidIsValid(get_relname_relid(part, nsp));
		if (!exists)
			LockRelationOid(get_relname_relid("agentpreds", nsp), ShareRowExclusiveLock);
	}
	if (!exists)
	{
		if (schema == NULL)
		{
			if (SPI_execute("SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n "
							"ON n.oid = e.extnamespace WHERE e.extname = 'fsmml'", true, 1) != SPI_OK_SELECT ||
				SPI_processed != 1)
				elog(ERROR, "schema of extension fsmml not found");
			schema = MemoryContextStrdup(TopMemoryContext,
										 quote_identifier(SPI_getvalue(SPI_tuptable->vals[0],
																	   SPI_tuptable->tupdesc, 1)));
		}
		values[0] = values[1] = TimestampTzGetDatum(t);
		if (SPI_execute_with_args(psprintf("SELECT %s.fsmml_create_pred_partitions($1, $2)", schema),
								  2, types, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "creating agentpreds partitions failed");
	}
	if (known_months == NULL)
		known_months = MemoryContextAlloc(TopMemoryContext, sizeof(int64) * 64);
	if (nknown == 64)
		nknown = 0;
	known_months[nknown++] = month;
}

/* ---------------------------------------------------------------- statements */

static const char *preds_sql =
"INSERT INTO trading.agentpreds AS p (agent_version_id, symbol, timeframe, \"timestamp\", horizon, payload) "
"SELECT v, $1, $2, t, h, j FROM unnest($3::int8[], $4::timestamptz[], $5::int4[], $6::jsonb[]) AS u(v, t, h, j) "
"ON CONFLICT (agent_version_id, symbol, timeframe, \"timestamp\", horizon) DO UPDATE "
"SET payload = EXCLUDED.payload WHERE p.payload IS DISTINCT FROM EXCLUDED.payload";

/* the same statements as score_agents.c */
static const char *signal_sql =
"INSERT INTO trading.agentsignals AS s (symbol, timeframe, \"timestamp\", side, strength, size, sl, tp, "
"payload, ensemble_version_id, agent_version_ids) "
"SELECT $1, $2, t, sd, st, sz, l, p, j, $3, $4 "
"FROM unnest($5::timestamptz[], $6::smallint[], $7::float8[], $8::float8[], $9::float8[], "
"$10::float8[], $11::jsonb[]) AS u(t, sd, st, sz, l, p, j) "
"ON CONFLICT (symbol, timeframe, \"timestamp\") DO UPDATE SET side = EXCLUDED.side, "
"strength = EXCLUDED.strength, size = EXCLUDED.size, sl = EXCLUDED.sl, tp = EXCLUDED.tp, "
"payload = EXCLUDED.payload, ensemble_version_id = EXCLUDED.ensemble_version_id, "
"agent_version_ids = EXCLUDED.agent_version_ids "
"WHERE (s.side, s.strength, s.size, s.sl, s.tp, s.payload, s.ensemble_version_id, s.agent_version_ids) "
"IS DISTINCT FROM (EXCLUDED.side, EXCLUDED.strength, EXCLUDED.size, EXCLUDED.sl, EXCLUDED.tp, "
"EXCLUDED.payload, EXCLUDED.ensemble_version_id, EXCLUDED.agent_version_ids)";

static const char *state_sql =
"INSERT INTO trading.state_history AS s (symbol, timeframe, \"timestamp\", state, confidence, effort, "
"result, compression, slope, speed, feat_score, agent_version_id) "
"SELECT $1, $2, t, st, c, e, r, cp, sl, sp, fs, $3 "
"FROM unnest($4::timestamptz[], $5::text[], $6::float8[], $7::float8[], $8::float8[], $9::float8[], "
"$10::float8[], $11::float8[], $12::float8[]) AS u(t, st, c, e, r, cp, sl, sp, fs) "
"ON CONFLICT (symbol, timeframe, \"timestamp\") DO UPDATE SET state = EXCLUDED.state, "
"confidence = EXCLUDED.confidence, effort = EXCLUDED.effort, result = EXCLUDED.result, "
"compression = EXCLUDED.compression, slope = EXCLUDED.slope, speed = EXCLUDED.speed, "
"feat_score = EXCLUDED.feat_score, agent_version_id = EXCLUDED.agent_version_id "
"WHERE (s.state, s.confidence, s.effort, s.result, s.compression, s.slope, s.speed, s.feat_score, "
"s.agent_version_id) IS DISTINCT FROM (EXCLUDED.state, EXCLUDED.confidence, EXCLUDED.effort, "
"EXCLUDED.result, EXCLUDED.compression, EXCLUDED.slope, EXCLUDED.speed, EXCLUDED.feat_score, "
"EXCLUDED.agent_version_id)";

static const char *transition_sql =
"INSERT INTO trading.transitions AS s (symbol, timeframe, \"timestamp\", from_state, to_state, "
"confidence, reason, agent_version_id) "
"SELECT $1, $2, t, f, tt, c, r, $3 "
"FROM unnest($4::timestamptz[], $5::text[], $6::text[], $7::float8[], $8::text[]) AS u(t, f, tt, c, r) "
"ON CONFLICT (symbol, timeframe, \"timestamp\") DO UPDATE SET from_state = EXCLUDED.from_state, "
"to_state = EXCLUDED.to_state, confidence = EXCLUDED.confidence, reason = EXCLUDED.reason, "
"agent_version_id = EXCLUDED.agent_version_id "
"WHERE (s.from_state, s.to_state, s.confidence, s.reason, s.agent_version_id) IS DISTINCT FROM "
"(EXCLUDED.from_state, EXCLUDED.to_state, EXCLUDED.confidence, EXCLUDED.reason, EXCLUDED.agent_version_id)";

/*
 * The same three for the one row of a bar new to every table: array
 * subscripts instead of unnest, no function scan materialising one row.
 */
static const char *signal_row_sql =
"INSERT INTO trading.agentsignals (symbol, timeframe, \"timestamp\", side, strength, size, sl, tp, "
"payload, ensemble_version_id, agent_version_ids) "
"VALUES ($1, $2, ($5::timestamptz[])[1], ($6::smallint[])[1], ($7::float8[])[1], ($8::float8[])[1], "
"($9::float8[])[1], ($10::float8[])[1], ($11::jsonb[])[1], $3, $4)";

static const char *state_row_sql =
"INSERT INTO trading.state_history (symbol, timeframe, \"timestamp\", state, confidence, effort, "
"result, compression, slope, speed, feat_score, agent_version_id) "
"VALUES ($1, $2, ($4::timestamptz[])[1], ($5::text[])[1], ($6::float8[])[1], ($7::float8[])[1], "
"($8::float8[])[1], ($9::float8[])[1], ($10::float8[])[1], ($11::float8[])[1], ($12::float8[])[1], $3)";

static const char *transition_row_sql =
"INSERT INTO trading.transitions (symbol, timeframe, \"timestamp\", from_state, to_state, "
"confidence, reason, agent_version_id) "
"VALUES ($1, $2, ($4::timestamptz[])[1], ($5::text[])[1], ($6::text[])[1], ($7::float8[])[1], "
"($8::text[])[1], $3)";

/* ---------------------------------------------------------------- notify */

static void
json_num(StringInfo s, const char *key, double v, bool null)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	appendStringInfo(s, ", \"%s\": ", key);
	if (null || !isfinite(v))
		appendStringInfoString(s, "null");
	else
	{
		double_to_shortest_decimal_buf(v, buf);
		appendStringInfoString(s, buf);
	}
}

static void
notify_signal(const char *symbol, const char *timeframe, int64 ts, int side, double strength,
			  double size, bool size_null, double sl, double tp, int64 ens_id,
			  const int64 *ids, int nids, bool stale)
{
	StringInfoData s;

	if (!fsmml_live_anyone_listening())
		return;					/* nobody to tell: no commit-time notify lock */
	initStringInfo(&s);
	appendStringInfoString(&s, "{\"symbol\": ");
	escape_json(&s, symbol);
	appendStringInfoString(&s, ", \"timeframe\": ");
	escape_json(&s, timeframe);
	appendStringInfo(&s, ", \"timestamp\": \"%s\", \"side\": %d", fsmml_iso8601(ts), side);
	json_num(&s, "strength", strength, false);
	json_num(&s, "size", size, size_null);
	json_num(&s, "sl", sl, false);
	json_num(&s, "tp", tp, false);
	appendStringInfo(&s, ", \"ensemble_version_id\": " INT64_FORMAT ", \"agent_version_ids\": [", ens_id);
	for (int i = 0; i < nids; i++)
		appendStringInfo(&s, "%s" INT64_FORMAT, i ? ", " : "", ids[i]);
	appendStringInfo(&s, "], \"stale\": %s}", stale ? "true" : "false");
	if (s.len >= NOTIFY_PAYLOAD_MAX_LENGTH)
		elog(ERROR, "signal notification of %d bytes exceeds the NOTIFY limit", s.len);
	Async_Notify(FSMML_NOTIFY_CHANNEL, s.data);
}

void
fsmml_live_notify_stored(const char *symbol, const char *timeframe, const int64 *ts, int n)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZARRAYOID};
	Datum		values[3];
	Datum	   *td = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		td[i] = TimestampTzGetDatum(fsmml_unix_to_ts(ts[i]));
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = TS_ARR(td, n);
	if (SPI_execute_with_args("SELECT \"timestamp\", side, strength, size, sl, tp, ensemble_version_id, "
							  "agent_version_ids, coalesce((payload->>'stale')::boolean, false) "
							  "FROM trading.agentsignals WHERE symbol = $1 AND timeframe = $2 "
							  "AND \"timestamp\" = ANY ($3) ORDER BY \"timestamp\"",
							  3, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.agentsignals failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		null[9];
		Datum		d[9];
		Datum	   *elems = NULL;
		int			nel = 0;
		int64	   *ids;

		for (int k = 0; k < 9; k++)
			d[k] = SPI_getbinval(tup, desc, k + 1, &null[k]);
		if (!null[7])
			deconstruct_array(DatumGetArrayTypeP(d[7]), INT8OID, 8, FLOAT8PASSBYVAL,
							  TYPALIGN_DOUBLE, &elems, NULL, &nel);
		ids = palloc(sizeof(int64) * Max(nel, 1));
		for (int k = 0; k < nel; k++)
			ids[k] = DatumGetInt64(elems[k]);
		notify_signal(symbol, timeframe, fsmml_ts_to_unix(DatumGetTimestampTz(d[0])),
					  DatumGetInt16(d[1]), null[2] ? NAN : DatumGetFloat8(d[2]),
					  null[3] ? 0 : DatumGetFloat8(d[3]), null[3],
					  null[4] ? NAN : DatumGetFloat8(d[4]), null[5] ? NAN : DatumGetFloat8(d[5]),
					  null[6] ? 0 : DatumGetInt64(d[6]), ids, nel, !null[8] && DatumGetBool(d[8]));
	}
}

/* ---------------------------------------------------------------- writes */

static int
first_direction(LiveChampions *ch)
{
	for (int k = 0; k < ch->n; k++)
		if (ch->c[k].direction)
			return k;
	return -1;
}

/*
 * A bar's writes as one statement: each part (its features row when new,
 * predictions, states, transitions, signals) is one of the statements
 * above; the parts present become data-modifying CTEs of the last one, so
 * the executor starts once per bar instead of once per table.  A bar new
 * to every table takes the statements without their ON CONFLICT clause
 * (LIVE_WRITE_NEW).  Plans are kept per set of parts and mode.
 */
enum
{
	PART_FEATURES, PART_PREDS, PART_STATES, PART_TRANSITIONS, PART_SIGNALS, NPARTS
};

/* after $1 symbol, $2 timeframe */
static const int part_nargs[NPARTS] = {1 + FS_NFEATURES, 4, 10, 6, 9};

typedef struct LiveWrite
{
	bool		has[NPARTS];
	bool		fresh;			/* plain INSERTs: the bar is new to every table */
	Datum		args[NPARTS][3 + FS_NFEATURES];	/* $1, $2 and the part's own */
	char		nulls[NPARTS][3 + FS_NFEATURES];
} LiveWrite;

/* a part's statement; fresh: the one row of a new bar, plain INSERT */
static const char *
part_sql(int part, bool fresh)
{
	switch (part)
	{
		case PART_FEATURES:
			return fsmml_live_feature_row_sql();	/* only fresh: cut at its ON CONFLICT */
		case PART_PREDS:
			return preds_sql;
		case PART_STATES:
			return fresh ? state_row_sql : state_sql;
		case PART_TRANSITIONS:
			return fresh ? transition_row_sql : transition_sql;
		default:
			return fresh ? signal_row_sql : signal_sql;
	}
}

/* sql with its $3.. renumbered from $(first): $1 and $2 stay; up to ON CONFLICT when plain */
static void
append_renumbered(StringInfo out, const char *sql, int first, bool plain)
{
	const char *end = plain ? strstr(sql, " ON CONFLICT ") : NULL;

	for (const char *c = sql; *c && c != end; c++)
	{
		if (*c == '$' && isdigit((unsigned char) c[1]))
		{
			int			k = (int) strtol(c + 1, (char **) &c, 10);

			appendStringInfo(out, "$%d", k <= 2 ? k : k - 3 + first);
			c--;
		}
		else
			appendStringInfoChar(out, *c);
	}
}

static void
flush_writes(LiveWrite *w)
{
	static SPIPlanPtr plans[2][1 << NPARTS];
	static Oid	part_types[NPARTS][1 + FS_NFEATURES] = {
		{TIMESTAMPTZOID},		/* and FS_NFEATURES float8, filled below */
		{INT8ARRAYOID, TIMESTAMPTZARRAYOID, INT4ARRAYOID, JSONBARRAYOID},
		{INT8OID, TIMESTAMPTZARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID,
		FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID},
		{INT8OID, TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID, TEXTARRAYOID},
		{INT8OID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, INT2ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID,
		FLOAT8ARRAYOID, FLOAT8ARRAYOID, JSONBARRAYOID},
	};
	int			mask = 0;
	int			last = -1;
	int			nargs = 2;
	Oid			types[2 + 1 + FS_NFEATURES + 4 + 10 + 6 + 9];
	Datum		values[lengthof(types)];
	char		nulls[lengthof(types)];
	SPIPlanPtr *plan;

	for (int p = 0; p < NPARTS; p++)
		if (w->has[p])
		{
			mask |= 1 << p;
			last = p;
		}
	if (last < 0)
		return;
	Assert(!w->has[PART_FEATURES] || w->fresh);
	if (part_types[PART_FEATURES][1] != FLOAT8OID)
		for (int j = 0; j < FS_NFEATURES; j++)
			part_types[PART_FEATURES][1 + j] = FLOAT8OID;
	types[0] = types[1] = TEXTOID;
	values[0] = w->args[last][0];	/* symbol and timeframe: the same in every part */
	values[1] = w->args[last][1];
	nulls[0] = nulls[1] = ' ';
	for (int p = 0; p < NPARTS; p++)
		if (w->has[p])
		{
			memcpy(types + nargs, part_types[p], sizeof(Oid) * part_nargs[p]);
			memcpy(values + nargs, w->args[p] + 2, sizeof(Datum) * part_nargs[p]);
			memcpy(nulls + nargs, w->nulls[p] + 2, part_nargs[p]);
			nargs += part_nargs[p];
		}
	plan = &plans[w->fresh][mask];
	if (*plan == NULL)
	{
		StringInfoData sql;
		int			first = 3;
		int			ncte = 0;

		initStringInfo(&sql);
		for (int p = 0; p < last; p++)
			if (w->has[p])
			{
				appendStringInfo(&sql, "%s w%d AS (", ncte++ ? "," : "WITH", p);
				append_renumbered(&sql, part_sql(p, w->fresh), first, w->fresh);
				appendStringInfoString(&sql, ") ");
				first += part_nargs[p];
			}
		append_renumbered(&sql, part_sql(last, w->fresh), first, w->fresh);
		fsmml_spi_keep_plan(plan, sql.data, nargs, types);
		pfree(sql.data);
	}
	fsmml_live_checks_arm();
	if (SPI_execute_plan(*plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "writing the live scores failed");
	fsmml_live_checks_disarm();
	memset(w->has, 0, sizeof(w->has));
}

/* The features row of a bar new to trading.features (LIVE_WRITE_NEW). */
static void
write_features(LiveWrite *w, const char *symbol, const char *timeframe, int64 ts, const double *f)
{
	Datum	   *values = w->args[PART_FEATURES];
	char	   *nulls = w->nulls[PART_FEATURES];

	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = TimestampTzGetDatum(fsmml_unix_to_ts(ts));
	fsmml_live_feature_args(f, values + 3, nulls + 3);
	w->has[PART_FEATURES] = true;
}

static void
write_preds(LiveWrite *w, const char *symbol, const char *timeframe, LiveChampions *ch,
			const FsBar *bars, const FsAgentRow *rows, int n, float **dprob)
{
	Datum	   *values = w->args[PART_PREDS];
	int			cap = ch->n * n;
	Datum	   *v = palloc(sizeof(Datum) * Max(cap, 1));
	Datum	   *t = palloc(sizeof(Datum) * Max(cap, 1));
	Datum	   *h = palloc(sizeof(Datum) * Max(cap, 1));
	Datum	   *j = palloc(sizeof(Datum) * Max(cap, 1));
	int			np = 0;

	for (int k = 0; k < ch->n; k++)
	{
		FsAgentModel *m = ch->c[k].m;

		if (!m->agent->writes_preds)
			continue;
		for (int i = 1; i <= n; i++)
		{
			FsAgentRow	r = rows[i];
			Jsonb	   *p;

			if (ch->c[k].direction)
				r.prob_up = dprob[k][i];	/* each direction champion its own */
			p = m->agent->payload(m, &r);

			if (p == NULL)
				continue;		/* warm-up: no prediction */
			v[np] = Int64GetDatum(m->version_id);
			t[np] = TimestampTzGetDatum(fsmml_unix_to_ts(bars[i].ts));
			h[np] = Int32GetDatum(m->horizon);
			j[np] = JsonbPGetDatum(p);
			np++;
		}
	}
	if (np == 0)
		return;
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = ARR(v, np, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	values[3] = TS_ARR(t, np);
	values[4] = ARR(h, np, INT4OID, 4, true, TYPALIGN_INT);
	values[5] = ARR(j, np, JSONBOID, -1, false, TYPALIGN_INT);
	w->has[PART_PREDS] = true;
}

static void
write_states(LiveWrite *w, const char *symbol, const char *timeframe, FsAgentModel *m,
			 const FsBar *bars, const FsAgentRow *rows, int n)
{
	Datum	   *values = w->args[PART_STATES];
	Datum	   *tvalues = w->args[PART_TRANSITIONS];
	Datum	   *ts = palloc(sizeof(Datum) * n);
	Datum	   *names = palloc(sizeof(Datum) * n);
	double	   *conf = palloc(sizeof(double) * n);
	double	   *met[6];
	Datum	   *tts = palloc(sizeof(Datum) * n);
	Datum	   *tfrom = palloc(sizeof(Datum) * n);
	Datum	   *tto = palloc(sizeof(Datum) * n);
	Datum	   *treason = palloc(sizeof(Datum) * n);
	double	   *tconf = palloc(sizeof(double) * n);
	int			ns = 0,
				nt = 0;
	int			last = rows[0].state;

	for (int j = 0; j < 6; j++)
		met[j] = palloc(sizeof(double) * n);
	for (int i = 1; i <= n; i++)
	{
		const FsAgentRow *r = &rows[i];
		Datum		t = TimestampTzGetDatum(fsmml_unix_to_ts(bars[i].ts));

		if (r->state < 0)
			continue;
		ts[ns] = t;
		names[ns] = CStringGetTextDatum(fs_fsm_state_name(r->state));
		conf[ns] = rint(r->confidence * 100) / 100;
		for (int j = 0; j < 6; j++)
			met[j][ns] = r->m[j];
		ns++;
		if (last >= 0 && r->state != last)
		{
			tts[nt] = t;
			tfrom[nt] = CStringGetTextDatum(fs_fsm_state_name(last));
			tto[nt] = CStringGetTextDatum(fs_fsm_state_name(r->state));
			tconf[nt] = rint(r->confidence * 100) / 100;
			treason[nt] = CStringGetTextDatum(fs_fsm_reason(r->state));
			nt++;
		}
		last = r->state;
	}
	values[0] = tvalues[0] = CStringGetTextDatum(symbol);
	values[1] = tvalues[1] = CStringGetTextDatum(timeframe);
	values[2] = tvalues[2] = Int64GetDatum(m->version_id);
	if (ns > 0)
	{
		values[3] = TS_ARR(ts, ns);
		values[4] = TEXT_ARR(names, ns);
		values[5] = f8_array(conf, NULL, ns);
		for (int j = 0; j < 6; j++)
			values[6 + j] = f8_array(met[j], NULL, ns);
		w->has[PART_STATES] = true;
	}
	if (nt > 0)
	{
		tvalues[3] = TS_ARR(tts, nt);
		tvalues[4] = TEXT_ARR(tfrom, nt);
		tvalues[5] = TEXT_ARR(tto, nt);
		tvalues[6] = f8_array(tconf, NULL, nt);
		tvalues[7] = TEXT_ARR(treason, nt);
		w->has[PART_TRANSITIONS] = true;
	}
}

static void
write_signals(LiveWrite *w, const char *symbol, const char *timeframe, FsAgentModel *ens,
			  const FsBar *bars, FsAgentRow *rows, int n, const int64 *ids, int nids,
			  const char *const *missing, int nmissing, bool stale, bool notify)
{
	Datum	   *values = w->args[PART_SIGNALS];
	Datum	   *ts = palloc(sizeof(Datum) * n);
	Datum	   *side = palloc(sizeof(Datum) * n);
	Datum	   *js = palloc(sizeof(Datum) * n);
	double	   *st = palloc(sizeof(double) * n);
	double	   *sz = palloc(sizeof(double) * n);
	bool	   *sznull = palloc(sizeof(bool) * n);
	double	   *sl = palloc(sizeof(double) * n);
	double	   *tp = palloc(sizeof(double) * n);
	Datum	   *idd = palloc(sizeof(Datum) * Max(nids, 1));
	Datum		stale_jb = stale ? DirectFunctionCall1(jsonb_in, CStringGetDatum("{\"stale\": true}")) : 0;

	for (int k = 0; k < nids; k++)
		idd[k] = Int64GetDatum(ids[k]);
	for (int i = 1; i <= n; i++)
	{
		FsAgentRow *r = &rows[i];
		int			k = i - 1;

		if (stale)
		{
			/* an expired champion trades nothing until retrained */
			r->ens_side = 0;
			r->strength = 0;
		}
		ts[k] = TimestampTzGetDatum(fsmml_unix_to_ts(bars[i].ts));
		side[k] = Int16GetDatum(r->ens_side);
		st[k] = r->strength;
		sznull[k] = !(r->ens_side == 0 || (r->why >= 0 && r->side == r->ens_side));
		sz[k] = r->ens_side == 0 ? 0 : r->size;
		sl[k] = r->ens_sl;
		tp[k] = r->ens_tp;
		js[k] = JsonbPGetDatum(fsmml_signal_payload(ens, r, missing, nmissing));
		if (stale)
			js[k] = DirectFunctionCall2(jsonb_concat, js[k], stale_jb);
	}
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = Int64GetDatum(ens->version_id);
	values[3] = ARR(idd, nids, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	values[4] = TS_ARR(ts, n);
	values[5] = ARR(side, n, INT2OID, 2, true, TYPALIGN_SHORT);
	values[6] = f8_array(st, NULL, n);
	values[7] = f8_array(sz, sznull, n);
	values[8] = f8_array(sl, NULL, n);
	values[9] = f8_array(tp, NULL, n);
	values[10] = ARR(js, n, JSONBOID, -1, false, TYPALIGN_INT);
	w->has[PART_SIGNALS] = true;
	flush_writes(w);
	if (notify)
		for (int k = 0; k < n; k++)
			notify_signal(symbol, timeframe, bars[k + 1].ts, DatumGetInt16(side[k]),
						  (double) (float) st[k], sz[k], sznull[k], sl[k], tp[k],
						  ens->version_id, ids, nids, stale);
}

/* ---------------------------------------------------------------- scoring */

/* The agents without a champion in the last fsmml_live_score_rows with rows_out. */
static const char **last_missing = NULL;
static int	last_nmissing = 0;

Jsonb *
fsmml_live_signal_payload(LiveChampions *ch, int k, const FsAgentRow *r)
{
	return fsmml_signal_payload(ch->c[k].m, r, last_missing, last_nmissing);
}

int
fsmml_live_score_rows(const char *symbol, const char *timeframe, LiveChampions *ch,
					  const FsBar *bars, const double *feats, int n, LiveWriteMode write, bool notify,
					  FsAgentRow **rows_out)
{
	FsmmlDataset ds;
	FsmmlBars	fb;
	FsAgentBatch b;
	FsAgentRow *rows;
	int			nrows = n + 1;
	int			atr = fs_feature_index("atr_14");
	int			direction = -1;
	float	  **dprob;
	FsAgentModel *ens = NULL;
	FsAgentModel *state = NULL;
	const char **missing = palloc(sizeof(char *) * (fsmml_nagents + 1));
	int			nmissing = 0;
	int64	   *ids = palloc(sizeof(int64) * (ch->n + 1));
	int			nids = 0;
	bool		stale = false;
	bool		any_agent = false;
	LiveWrite	w;

	memset(&w, 0, sizeof(w));
	memset(w.nulls, ' ', sizeof(w.nulls));
	w.fresh = write == LIVE_WRITE_NEW;
	if (w.fresh)
	{
		Assert(n == 1);
		write_features(&w, symbol, timeframe, bars[1].ts, feats + FS_NFEATURES);
	}
	memset(&ds, 0, sizeof(ds));
	ds.nfeat = FS_NFEATURES;
	ds.names = palloc(sizeof(char *) * FS_NFEATURES);
	for (int j = 0; j < FS_NFEATURES; j++)
		ds.names[j] = (char *) fs_feature_catalog[j].name;
	ds.nrows = nrows;
	ds.X = palloc(sizeof(float) * nrows * FS_NFEATURES);
	ds.ts = palloc(sizeof(int64) * nrows);
	for (int i = 0; i < nrows; i++)
	{
		for (int j = 0; j < FS_NFEATURES; j++)
			ds.X[i * FS_NFEATURES + j] = (float) feats[(int64) i * FS_NFEATURES + j];
		ds.ts[i] = bars[i].ts;
	}
	fb.bars = (FsBar *) bars;
	fb.n = fb.cap = nrows;
	rows = palloc(sizeof(FsAgentRow) * nrows);
	for (int i = 0; i < nrows; i++)
	{
		float		a = ds.X[i * FS_NFEATURES + atr];

		fsmml_agent_row_init(&rows[i]);
		rows[i].close = bars[i].close;
		rows[i].atr = isfinite(a) ? a * rows[i].close : NAN;
	}
	b.bars = &fb;
	b.row_from = 0;
	b.ds = &ds;
	b.rows = rows;
	b.n = nrows;
	if (rows_out)
		*rows_out = rows;

	/*
	 * Direction first (score.c): every direction champion predicts its own
	 * probabilities; DirectionXGB's (the first by id) feed the others, as in
	 * fsmml_score.  Then the others in table order (score_agents.c).
	 */
	dprob = palloc0(sizeof(float *) * Max(ch->n, 1));
	for (int k = 0; k < ch->n; k++)
		if (ch->c[k].direction)
		{
			fsmml_live_predict(&ch->c[k], &b, nrows);
			dprob[k] = palloc(sizeof(float) * nrows);
			for (int i = 0; i < nrows; i++)
				dprob[k][i] = rows[i].prob_up;
			if (direction < 0 && strcmp(ch->c[k].agent, "DirectionXGB") == 0)
				direction = k;
		}
	for (int i = 0; i < nrows; i++)
		rows[i].prob_up = direction >= 0 ? dprob[direction][i] : NAN;
	if (direction >= 0)
	{
		ids[nids++] = ch->c[direction].m->version_id;
		stale |= ch->c[direction].stale;
	}
	else
		missing[nmissing++] = "DirectionXGB";
	for (int a = 0; a < fsmml_nagents; a++)
	{
		int			k;

		if (strcmp(fsmml_agents[a]->kind, "direction") == 0)
			continue;
		for (k = 0; k < ch->n; k++)
			if (!ch->c[k].direction && ch->c[k].slot == a)
				break;
		if (k == ch->n)
		{
			missing[nmissing++] = fsmml_agents[a]->name;
			continue;
		}
		any_agent = true;
		fsmml_live_predict(&ch->c[k], &b, nrows);
		stale |= ch->c[k].stale;
		if (ch->c[k].m->agent->writes_preds)
			ids[nids++] = ch->c[k].m->version_id;
		if (strcmp(fsmml_agents[a]->kind, "ensemble") == 0)
			ens = ch->c[k].m;
		if (strcmp(fsmml_agents[a]->kind, "state") == 0)
			state = ch->c[k].m;
	}
	if (rows_out)
	{
		/* for fsmml_predict: the signal payload needs the agents that had no champion */
		last_missing = missing;
		last_nmissing = nmissing;
	}
	if (write == LIVE_WRITE_NONE)
		return 0;
	if (first_direction(ch) < 0 && !any_agent)
	{
		flush_writes(&w);		/* the features row, when new */
		return 0;
	}

	/*
	 * fsmml_score's lock on each version's predictions, in its order (direction
	 * champions by id, then the agents in table order): a concurrent
	 * fsmml_score merging the same bars waits for this transaction instead of
	 * failing on its rows.
	 */
	for (int k = 0; k < ch->n; k++)
		if (ch->c[k].direction)
			fsmml_lock_version_preds(ch->c[k].m->version_id);
	for (int a = 0; a < fsmml_nagents; a++)
		for (int k = 0; k < ch->n; k++)
			if (!ch->c[k].direction && ch->c[k].slot == a && ch->c[k].m->agent->writes_preds)
				fsmml_lock_version_preds(ch->c[k].m->version_id);
	/* and its lock on the series' signals, states and transitions, after the versions' as there */
	if (state || ens)
		fsmml_lock_series_signals(symbol, timeframe);
	for (int i = 1; i <= n; i++)
		ensure_partition(bars[i].ts);
	write_preds(&w, symbol, timeframe, ch, bars, rows, n, dprob);
	if (state)
		write_states(&w, symbol, timeframe, state, bars, rows, n);
	if (ens == NULL)
	{
		flush_writes(&w);
		return 0;
	}
	write_signals(&w, symbol, timeframe, ens, bars, rows, n, ids, nids, missing, nmissing, stale, notify);
	return n;
}
