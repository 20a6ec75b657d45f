/*
 * score_agents.c — fsmml_score's agent set: every non-direction champion of
 * the series (table order of agents/agent.c), the ensemble's AgentSignal,
 * the state machine's state_history and transitions.
 *
 * The features of the range are built once (the union of every champion's
 * columns plus atr_14) from one bar before the range (the state before the
 * first bar, for its transition).  Each agent fills its fields of one
 * FsAgentRow per bar; their payloads go to trading.agentpreds through the
 * same merge-and-write as the direction champions (score.c), so a re-run
 * writes nothing.  Signals, states and transitions are upserts whose
 * DO UPDATE only fires when a value differs: a re-run writes no row version.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "agent.h"
#include "fsmml.h"
#include "locks.h"
#include "registry.h"
#include "serve.h"
#include "statefsm.h"
#include "xgb.h"

#define AGENT_BATCH 16384

typedef struct AgentChampion
{
	FsAgentModel m;
	const char *instance;
} AgentChampion;

/* The champions of every agent but direction, keyed by agent table order. */
static AgentChampion **
read_agent_champions(const char *symbol, const char *timeframe, MemoryContext cxt, int *found)
{
	AgentChampion **out = MemoryContextAllocZero(cxt, sizeof(AgentChampion *) * fsmml_nagents);

	*found = 0;
	fsmml_spi_series("SELECT v.id, v.agent, v.version, v.params::text, v.feature_names, v.model, "
					 "encode(sha256(v.model), 'hex') = v.model_sha256, v.model_format "
					 "FROM trading.agentversions v JOIN trading.agents a ON a.name = v.agent "
					 "WHERE v.symbol = $1 AND v.timeframe = $2 AND v.status = 'champion' "
					 "AND a.kind <> 'direction' ORDER BY v.id FOR KEY SHARE OF v",
					 symbol, timeframe, NULL, false, 0, SPI_OK_SELECT, "reading the champions");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *agent = SPI_getvalue(tup, desc, 2);
		MemoryContext old = MemoryContextSwitchTo(cxt);
		AgentChampion *c = palloc0(sizeof(AgentChampion));
		Datum	   *elems;
		int			nel;
		int			slot = -1;
		cJSON	   *params;
		bytea	   *blob;

		for (int a = 0; a < fsmml_nagents; a++)
			if (strcmp(fsmml_agents[a]->name, agent) == 0)
				slot = a;
		if (slot < 0)
		{
			MemoryContextSwitchTo(old);
			continue;			/* a catalogue row fsmml does not run */
		}
		c->m.agent = fsmml_agents[slot];
		c->m.version_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		c->m.version = SPI_getvalue(tup, desc, 3);
		c->instance = fsmml_instance_name(agent, symbol, timeframe);
		if (!DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("model of champion %s of %s does not match its sha256", c->m.version, c->instance),
					 errhint("Train the agent again, or promote another version.")));
		if (strcmp(SPI_getvalue(tup, desc, 8), "fsmml-json") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("champion %s of %s has model format %s, not fsmml-json",
							c->m.version, c->instance, SPI_getvalue(tup, desc, 8)),
					 errhint("Train the agent with fsmml_train.")));
		params = fsxgb_json_parse_owned(SPI_getvalue(tup, desc, 4), cxt);
		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 5, &isnull)), TEXTOID, -1,
						  false, TYPALIGN_INT, &elems, NULL, &nel);
		for (int k = 0; k < nel; k++)
			c->m.features = lappend(c->m.features, TextDatumGetCString(elems[k]));
		c->m.horizon = 1;
		blob = DatumGetByteaPCopy(SPI_getbinval(tup, desc, 6, &isnull));
		c->m.agent->load(&c->m, blob, params, cxt);
		out[slot] = c;
		(*found)++;
		MemoryContextSwitchTo(old);
	}
	return out;
}

static void
append_feature(List **l, const char *name)
{
	ListCell   *lc;

	foreach(lc, *l)
		if (strcmp(lfirst(lc), name) == 0)
			return;
	*l = lappend(*l, pstrdup(name));
}

/* Upserts changed rows only; sql has $1 symbol, $2 timeframe, then the arrays. */
static void
upsert(const char *sql, int nargs, Oid *types, Datum *values, const char *what)
{
	double		cpu0 = fsmml_cpu_ms();
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc != SPI_OK_INSERT)
		elog(ERROR, "writing %s failed: %s", what, SPI_result_code_string(rc));
	fsmml_score_write_cpu_ms += fsmml_cpu_ms() - cpu0;
}

static Datum
float8_array(const double *v, const bool *null, int n)
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

static Datum
datum_array(Datum *d, int n, Oid type, int len, bool byval, char align)
{
	return PointerGetDatum(construct_array(d, n, type, len, byval, align));
}

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

static void
write_signals(const char *symbol, const char *timeframe, const FsAgentBatch *b, int64 first,
			  AgentChampion *ens, Datum version_ids, const char *const *missing, int nmissing,
			  MemoryContext batchcxt)
{
	Oid			types[11] = {TEXTOID, TEXTOID, INT8OID, INT8ARRAYOID, TIMESTAMPTZARRAYOID,
		INT2ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, JSONBARRAYOID};
	Datum		values[11];
	Datum	   *ts = palloc(sizeof(Datum) * AGENT_BATCH);
	Datum	   *side = palloc(sizeof(Datum) * AGENT_BATCH);
	Datum	   *js = palloc(sizeof(Datum) * AGENT_BATCH);
	double	   *st = palloc(sizeof(double) * AGENT_BATCH);
	double	   *sz = palloc(sizeof(double) * AGENT_BATCH);
	bool	   *sznull = palloc(sizeof(bool) * AGENT_BATCH);
	double	   *sl = palloc(sizeof(double) * AGENT_BATCH);
	double	   *tp = palloc(sizeof(double) * AGENT_BATCH);

	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = Int64GetDatum(ens->m.version_id);
	values[3] = version_ids;
	for (int64 off = first; off < b->n; off += AGENT_BATCH)
	{
		int			m = (int) Min(AGENT_BATCH, b->n - off);
		MemoryContext old = MemoryContextSwitchTo(batchcxt);

		CHECK_FOR_INTERRUPTS();
		for (int k = 0; k < m; k++)
		{
			const FsAgentRow *r = &b->rows[off + k];

			ts[k] = TimestampTzGetDatum(fsmml_unix_to_ts(b->bars->bars[b->row_from + off + k].ts));
			side[k] = Int16GetDatum(r->ens_side);
			st[k] = r->strength;
			/* the size ExecRules sized for the same side; 0 flat; NULL otherwise */
			sznull[k] = !(r->ens_side == 0 || (r->why >= 0 && r->side == r->ens_side));
			sz[k] = r->ens_side == 0 ? 0 : r->size;
			sl[k] = r->ens_sl;
			tp[k] = r->ens_tp;
			js[k] = JsonbPGetDatum(fsmml_signal_payload(&ens->m, r, missing, nmissing));
		}
		values[4] = datum_array(ts, m, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
		values[5] = datum_array(side, m, INT2OID, 2, true, TYPALIGN_SHORT);
		values[6] = float8_array(st, NULL, m);
		values[7] = float8_array(sz, sznull, m);
		values[8] = float8_array(sl, NULL, m);
		values[9] = float8_array(tp, NULL, m);
		values[10] = datum_array(js, m, JSONBOID, -1, false, TYPALIGN_INT);
		upsert(signal_sql, 11, types, values, "trading.agentsignals");
		MemoryContextSwitchTo(old);
		MemoryContextReset(batchcxt);
	}
}

static void
write_states(const char *symbol, const char *timeframe, const FsAgentBatch *b, int64 first,
			 int64 version_id)
{
	Oid			types[12] = {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZARRAYOID, TEXTARRAYOID,
		FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID,
	FLOAT8ARRAYOID, FLOAT8ARRAYOID};
	Oid			ttypes[8] = {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, FLOAT8ARRAYOID, TEXTARRAYOID};
	Datum		values[12];
	Datum		tvalues[8];
	Datum	   *ts = palloc(sizeof(Datum) * AGENT_BATCH);
	Datum	   *names = palloc(sizeof(Datum) * AGENT_BATCH);
	double	   *conf = palloc(sizeof(double) * AGENT_BATCH);
	double	   *met[6];
	Datum	   *tts = palloc(sizeof(Datum) * AGENT_BATCH);
	Datum	   *tfrom = palloc(sizeof(Datum) * AGENT_BATCH);
	Datum	   *tto = palloc(sizeof(Datum) * AGENT_BATCH);
	Datum	   *treason = palloc(sizeof(Datum) * AGENT_BATCH);
	double	   *tconf = palloc(sizeof(double) * AGENT_BATCH);
	Datum		state_text[FS_FSM_NSTATES];
	Datum		reason_text[FS_FSM_NSTATES];
	int			last = -1;

	for (int j = 0; j < 6; j++)
		met[j] = palloc(sizeof(double) * AGENT_BATCH);
	for (int s = 0; s < FS_FSM_NSTATES; s++)
	{
		state_text[s] = CStringGetTextDatum(fs_fsm_state_name(s));
		reason_text[s] = CStringGetTextDatum(fs_fsm_reason(s));
	}
	values[0] = tvalues[0] = CStringGetTextDatum(symbol);
	values[1] = tvalues[1] = CStringGetTextDatum(timeframe);
	values[2] = tvalues[2] = Int64GetDatum(version_id);
	/* the state before the range: the last known one of the bars before first */
	for (int64 i = 0; i < first; i++)
		if (b->rows[i].state >= 0)
			last = b->rows[i].state;
	for (int64 off = first; off < b->n; off += AGENT_BATCH)
	{
		int			m = (int) Min(AGENT_BATCH, b->n - off);
		int			ns = 0,
					nt = 0;

		CHECK_FOR_INTERRUPTS();
		for (int k = 0; k < m; k++)
		{
			const FsAgentRow *r = &b->rows[off + k];
			Datum		t = TimestampTzGetDatum(fsmml_unix_to_ts(b->bars->bars[b->row_from + off + k].ts));

			if (r->state < 0)
				continue;
			ts[ns] = t;
			names[ns] = state_text[(int) r->state];
			conf[ns] = rint(r->confidence * 100) / 100;
			for (int j = 0; j < 6; j++)
				met[j][ns] = r->m[j];
			ns++;
			if (last >= 0 && r->state != last)
			{
				tts[nt] = t;
				tfrom[nt] = state_text[last];
				tto[nt] = state_text[(int) r->state];
				tconf[nt] = rint(r->confidence * 100) / 100;
				treason[nt] = reason_text[(int) r->state];
				nt++;
			}
			last = r->state;
		}
		if (ns > 0)
		{
			values[3] = datum_array(ts, ns, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
			values[4] = datum_array(names, ns, TEXTOID, -1, false, TYPALIGN_INT);
			values[5] = float8_array(conf, NULL, ns);
			for (int j = 0; j < 6; j++)
				values[6 + j] = float8_array(met[j], NULL, ns);
			upsert(state_sql, 12, types, values, "trading.state_history");
		}
		if (nt > 0)
		{
			tvalues[3] = datum_array(tts, nt, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
			tvalues[4] = datum_array(tfrom, nt, TEXTOID, -1, false, TYPALIGN_INT);
			tvalues[5] = datum_array(tto, nt, TEXTOID, -1, false, TYPALIGN_INT);
			tvalues[6] = float8_array(tconf, NULL, nt);
			tvalues[7] = datum_array(treason, nt, TEXTOID, -1, false, TYPALIGN_INT);
			upsert(transition_sql, 8, ttypes, tvalues, "trading.transitions");
		}
	}
}

/* Payloads of one agent's rows into agentpreds, batch by batch. */
static void
write_preds(const PredPlans *plans, PredTarget *target, AgentChampion *c, const FsAgentBatch *b,
			int64 first, const char *symbol, const char *timeframe, MemoryContext batchcxt,
			ScoreStats *st)
{
	Datum		values[6];
	int64	   *ts = palloc(sizeof(int64) * AGENT_BATCH);
	Jsonb	  **payload = palloc(sizeof(Jsonb *) * AGENT_BATCH);
	Datum	   *ins_ts = palloc(sizeof(Datum) * AGENT_BATCH);
	Datum	   *ins_j = palloc(sizeof(Datum) * AGENT_BATCH);
	Datum	   *upd_ts = palloc(sizeof(Datum) * AGENT_BATCH);
	Datum	   *upd_j = palloc(sizeof(Datum) * AGENT_BATCH);
	fsmml_lock_version_preds(c->m.version_id);
	values[0] = Int64GetDatum(c->m.version_id);
	values[1] = CStringGetTextDatum(symbol);
	values[2] = CStringGetTextDatum(timeframe);
	values[3] = Int32GetDatum(c->m.horizon);
	for (int64 off = first; off < b->n; off += AGENT_BATCH)
	{
		int			m = (int) Min(AGENT_BATCH, b->n - off);
		int			np = 0;
		MemoryContext old;
		instr_time	t0;

		CHECK_FOR_INTERRUPTS();
		INSTR_TIME_SET_CURRENT(t0);
		old = MemoryContextSwitchTo(batchcxt);
		for (int k = 0; k < m; k++)
		{
			Jsonb	   *j = c->m.agent->payload(&c->m, &b->rows[off + k]);

			if (j == NULL)
				continue;		/* no prediction for this bar (warm-up) */
			ts[np] = b->bars->bars[b->row_from + off + k].ts;
			payload[np++] = j;
		}
		{
			instr_time	t1;

			INSTR_TIME_SET_CURRENT(t1);
			INSTR_TIME_SUBTRACT(t1, t0);
			st->payload_ms += INSTR_TIME_GET_MILLISEC(t1);
		}
		fsmml_merge_write_batch(plans, target, values, ts, payload, np, ins_ts, ins_j, upd_ts,
								upd_j, st);
		MemoryContextSwitchTo(old);
		MemoryContextReset(batchcxt);
	}
}

int64
fsmml_count_agent_champions(const char *symbol, const char *timeframe)
{
	bool		isnull;

	fsmml_spi_series("SELECT count(*) FROM trading.agentversions v JOIN trading.agents a ON a.name = v.agent "
					 "WHERE v.symbol = $1 AND v.timeframe = $2 AND v.status = 'champion' "
					 "AND a.kind <> 'direction'",
					 symbol, timeframe, NULL, true, 1, SPI_OK_SELECT, "counting the champions");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

int64
fsmml_score_agents(const char *symbol, const char *timeframe, const FsmmlBars *bars,
				   int64 row_from, const float *prob_up, int64 direction_id,
				   const PredPlans *plans, PredTarget *target, MemoryContext opcxt)
{
	MemoryContext cxt = AllocSetContextCreate(opcxt, "fsmml score agents", ALLOCSET_DEFAULT_SIZES);
	MemoryContext batchcxt = AllocSetContextCreate(opcxt, "fsmml score agents batch", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int			found;
	AgentChampion **champ = read_agent_champions(symbol, timeframe, cxt, &found);
	int64		from = Max(row_from - 1, 0);	/* one bar before: the state to leave */
	int64		first = row_from - from;
	List	   *features = NIL;
	FsmmlDataset *ds;
	FsAgentBatch b;
	int			atr_col = -1;
	int64		written = 0;
	const char **missing = palloc(sizeof(char *) * fsmml_nagents);
	int			nmissing = 0;
	Datum	   *ids;
	int			nids = 0;
	ListCell   *lc;
	instr_time	t0;
	double		compute_ms = 0;
	ScoreStats	st;
	instr_time	ta,
				tb;
	StringInfoData per_agent;

	memset(&st, 0, sizeof(st));
	initStringInfo(&per_agent);
	if (found == 0 && direction_id == 0)
	{
		MemoryContextSwitchTo(old);
		return 0;
	}
	INSTR_TIME_SET_CURRENT(t0);
	for (int a = 0; a < fsmml_nagents; a++)
		if (champ[a])
			foreach(lc, champ[a]->m.features)
				append_feature(&features, lfirst(lc));
	append_feature(&features, "atr_14");
	features = fsmml_resolve_features(timeframe, features);
	ds = fsmml_dataset_build(symbol, timeframe, bars, from, bars->n, features, 0, false, cxt);
	INSTR_TIME_SET_CURRENT(tb);
	INSTR_TIME_SUBTRACT(tb, t0);
	appendStringInfo(&per_agent, " (features %.0f ms", INSTR_TIME_GET_MILLISEC(tb));
	for (int j = 0; j < ds->nfeat; j++)
		if (strcmp(ds->names[j], "atr_14") == 0)
			atr_col = j;
	b.bars = bars;
	b.row_from = from;
	b.ds = ds;
	b.n = ds->nrows;
	b.rows = MemoryContextAllocHuge(cxt, sizeof(FsAgentRow) * Max(b.n, 1));
	for (int64 i = 0; i < b.n; i++)
	{
		FsAgentRow *r = &b.rows[i];
		float		atr = ds->X[i * ds->nfeat + atr_col];

		fsmml_agent_row_init(r);
		r->close = bars->bars[from + i].close;
		r->atr = isfinite(atr) ? atr * r->close : NAN;
		if (prob_up && i >= first)
			r->prob_up = prob_up[i - first];
	}

	/* Every agent in table order: each reads what the earlier ones wrote. */
	ids = palloc(sizeof(Datum) * (fsmml_nagents + 1));
	if (direction_id)
		ids[nids++] = Int64GetDatum(direction_id);
	else
		missing[nmissing++] = "DirectionXGB";
	for (int a = 0; a < fsmml_nagents; a++)
	{
		if (strcmp(fsmml_agents[a]->kind, "direction") == 0)
			continue;
		if (champ[a] == NULL)
		{
			missing[nmissing++] = fsmml_agents[a]->name;
			continue;
		}
		INSTR_TIME_SET_CURRENT(ta);
		for (int64 off = 0; off < b.n; off += AGENT_BATCH)
		{
			CHECK_FOR_INTERRUPTS();
			champ[a]->m.agent->predict(&champ[a]->m, &b, off, Min(off + AGENT_BATCH, b.n));
		}
		INSTR_TIME_SET_CURRENT(tb);
		INSTR_TIME_SUBTRACT(tb, ta);
		appendStringInfo(&per_agent, ", %s %.0f ms", fsmml_agents[a]->name, INSTR_TIME_GET_MILLISEC(tb));
		if (champ[a]->m.agent->writes_preds)
			ids[nids++] = Int64GetDatum(champ[a]->m.version_id);
	}
	{
		instr_time	t1;

		INSTR_TIME_SET_CURRENT(t1);
		INSTR_TIME_SUBTRACT(t1, t0);
		compute_ms = INSTR_TIME_GET_MILLISEC(t1);
	}

	/* Writes. */
	for (int a = 0; a < fsmml_nagents; a++)
	{
		ScoreStats	one;

		if (champ[a] == NULL || !champ[a]->m.agent->writes_preds)
			continue;
		memset(&one, 0, sizeof(one));
		write_preds(plans, target, champ[a], &b, first, symbol, timeframe, batchcxt, &one);
		written += one.inserted + one.updated + one.unchanged;
		st.payload_ms += one.payload_ms;
		st.write_ms += one.write_ms;
		st.inserted += one.inserted;
		st.unchanged += one.unchanged;
		if (strcmp(champ[a]->m.agent->kind, "state") == 0)
			write_states(symbol, timeframe, &b, first, champ[a]->m.version_id);
	}
	for (int a = 0; a < fsmml_nagents; a++)
		if (champ[a] && strcmp(champ[a]->m.agent->kind, "ensemble") == 0)
			write_signals(symbol, timeframe, &b, first, champ[a],
						  datum_array(ids, nids, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE),
						  missing, nmissing, batchcxt);
	if (champ[fsmml_nagents - 1] == NULL)
		ereport(NOTICE,
				(errmsg("%s %s has no EnsembleWeighted champion: no signals written", symbol, timeframe),
				 errhint("Train it: SELECT * FROM fsmml_train('EnsembleWeighted', '%s', '%s');",
						 symbol, timeframe)));
	ereport(DEBUG1,
			(errmsg("fsmml_score %s %s agents: " INT64_FORMAT " predictions (" INT64_FORMAT " inserted, " INT64_FORMAT " unchanged)",
					symbol, timeframe, written, st.inserted, st.unchanged),
			 errdetail("features and agents %.0f ms%s), payloads %.0f ms, merge and write %.0f ms",
					   compute_ms, per_agent.data, st.payload_ms, st.write_ms)));
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	MemoryContextDelete(batchcxt);
	return written;
}
