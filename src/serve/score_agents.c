/*
 * score_agents.c — fsmml_score's agent set: every non-direction champion of
 * the series (table order of agents/agent.c), the ensemble's AgentSignal,
 * the state machine's state_history and transitions.
 *
 * The features of the range are built once (the union of every champion's
 * columns plus atr_14, the direction champions' included: fsmml_score
 * builds them and hands them over) from one bar before the range (the
 * state before the first bar, for its transition).  Each agent fills its fields of one
 * FsAgentRow per bar; their payloads go to trading.agentpreds through the
 * same merge-and-write as the direction champions (score.c), so a re-run
 * writes nothing.  Signals, states and transitions are merged the same way
 * (series_write.c): new rows written directly, changed ones upserted.
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
#define BATCH_CXT_SIZE (8 * 1024 * 1024)

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

static Datum
datum_array(Datum *d, int n, Oid type, int len, bool byval, char align)
{
	return PointerGetDatum(construct_array(d, n, type, len, byval, align));
}

/* A float8 column value: NULL when not finite (or when null says so). */
static inline void
f8(Datum *col, bool *nulls, int k, double v, bool null)
{
	nulls[k] = null || !isfinite(v);
	col[k] = Float8GetDatum(nulls[k] ? 0 : v);
}

static const SeriesCol signal_cols[] = {
	{"side", INT2OID, false}, {"strength", FLOAT8OID, false}, {"size", FLOAT8OID, false},
	{"sl", FLOAT8OID, false}, {"tp", FLOAT8OID, false}, {"payload", JSONBOID, false},
	{"ensemble_version_id", INT8OID, true}, {"agent_version_ids", INT8ARRAYOID, true}
};
static const SeriesTable signal_table = {"agentsignals", lengthof(signal_cols), signal_cols};

static const SeriesCol state_cols[] = {
	{"state", TEXTOID, false}, {"confidence", FLOAT8OID, false}, {"effort", FLOAT8OID, false},
	{"result", FLOAT8OID, false}, {"compression", FLOAT8OID, false}, {"slope", FLOAT8OID, false},
	{"speed", FLOAT8OID, false}, {"feat_score", FLOAT8OID, false},
	{"agent_version_id", INT8OID, true}
};
static const SeriesTable state_table = {"state_history", lengthof(state_cols), state_cols};

static const SeriesCol transition_cols[] = {
	{"from_state", TEXTOID, false}, {"to_state", TEXTOID, false},
	{"confidence", FLOAT8OID, false}, {"reason", TEXTOID, false},
	{"agent_version_id", INT8OID, true}
};
static const SeriesTable transition_table = {"transitions", lengthof(transition_cols), transition_cols};

/* Column arrays of AGENT_BATCH rows for ncols columns. */
static void
alloc_cols(Datum **vals, bool **nulls, int ncols)
{
	for (int c = 0; c < ncols; c++)
	{
		vals[c] = palloc(sizeof(Datum) * AGENT_BATCH);
		nulls[c] = palloc0(sizeof(bool) * AGENT_BATCH);
	}
}

static void
write_signals(const char *symbol, const char *timeframe, const FsAgentBatch *b, int64 first,
			  AgentChampion *ens, Datum version_ids, const char *const *missing, int nmissing,
			  MemoryContext batchcxt)
{
	Datum		consts[lengthof(signal_cols)] = {0};
	Datum	   *vals[lengthof(signal_cols)];
	bool	   *nulls[lengthof(signal_cols)];
	Datum	   *ts = palloc(sizeof(Datum) * AGENT_BATCH);
	SeriesWriter *w;

	fsmml_lock_series_signals(symbol, timeframe);
	consts[6] = Int64GetDatum(ens->m.version_id);
	consts[7] = version_ids;
	w = fsmml_series_writer_open(&signal_table, symbol, timeframe, consts);
	alloc_cols(vals, nulls, 6);
	for (int64 off = first; off < b->n; off += AGENT_BATCH)
	{
		int			m = (int) Min(AGENT_BATCH, b->n - off);
		MemoryContext old = MemoryContextSwitchTo(batchcxt);

		CHECK_FOR_INTERRUPTS();
		for (int k = 0; k < m; k++)
		{
			const FsAgentRow *r = &b->rows[off + k];

			ts[k] = TimestampTzGetDatum(fsmml_unix_to_ts(b->bars->bars[b->row_from + off + k].ts));
			vals[0][k] = Int16GetDatum(r->ens_side);
			f8(vals[1], nulls[1], k, r->strength, false);
			/* the size ExecRules sized for the same side; 0 flat; NULL otherwise */
			f8(vals[2], nulls[2], k, r->ens_side == 0 ? 0 : r->size,
			   !(r->ens_side == 0 || (r->why >= 0 && r->side == r->ens_side)));
			f8(vals[3], nulls[3], k, r->ens_sl, false);
			f8(vals[4], nulls[4], k, r->ens_tp, false);
			vals[5][k] = JsonbPGetDatum(fsmml_signal_payload(&ens->m, r, missing, nmissing));
		}
		fsmml_series_write(w, m, ts, vals, nulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(batchcxt);
	}
}

static void
write_states(const char *symbol, const char *timeframe, const FsAgentBatch *b, int64 first,
			 int64 version_id, MemoryContext batchcxt)
{
	Datum		consts[lengthof(state_cols)] = {0};
	Datum		tconsts[lengthof(transition_cols)] = {0};
	Datum	   *vals[lengthof(state_cols)];
	bool	   *nulls[lengthof(state_cols)];
	Datum	   *tvals[lengthof(transition_cols)];
	bool	   *tnulls[lengthof(transition_cols)];
	Datum	   *ts = palloc(sizeof(Datum) * AGENT_BATCH);
	Datum	   *tts = palloc(sizeof(Datum) * AGENT_BATCH);
	Datum		state_text[FS_FSM_NSTATES];
	Datum		reason_text[FS_FSM_NSTATES];
	SeriesWriter *w;
	SeriesWriter *tw;
	int			last = -1;

	for (int s = 0; s < FS_FSM_NSTATES; s++)
	{
		state_text[s] = CStringGetTextDatum(fs_fsm_state_name(s));
		reason_text[s] = CStringGetTextDatum(fs_fsm_reason(s));
	}
	fsmml_lock_series_signals(symbol, timeframe);
	consts[8] = tconsts[4] = Int64GetDatum(version_id);
	w = fsmml_series_writer_open(&state_table, symbol, timeframe, consts);
	tw = fsmml_series_writer_open(&transition_table, symbol, timeframe, tconsts);
	alloc_cols(vals, nulls, 8);
	alloc_cols(tvals, tnulls, 4);
	/* the state before the range: the last known one of the bars before first */
	for (int64 i = 0; i < first; i++)
		if (b->rows[i].state >= 0)
			last = b->rows[i].state;
	for (int64 off = first; off < b->n; off += AGENT_BATCH)
	{
		int			m = (int) Min(AGENT_BATCH, b->n - off);
		int			ns = 0,
					nt = 0;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		for (int k = 0; k < m; k++)
		{
			const FsAgentRow *r = &b->rows[off + k];
			Datum		t = TimestampTzGetDatum(fsmml_unix_to_ts(b->bars->bars[b->row_from + off + k].ts));
			double		conf = rint(r->confidence * 100) / 100;

			if (r->state < 0)
				continue;
			ts[ns] = t;
			vals[0][ns] = state_text[(int) r->state];
			f8(vals[1], nulls[1], ns, conf, false);
			for (int j = 0; j < 6; j++)
				f8(vals[2 + j], nulls[2 + j], ns, r->m[j], false);
			ns++;
			if (last >= 0 && r->state != last)
			{
				tts[nt] = t;
				tvals[0][nt] = state_text[last];
				tvals[1][nt] = state_text[(int) r->state];
				f8(tvals[2], tnulls[2], nt, conf, false);
				tvals[3][nt] = reason_text[(int) r->state];
				nt++;
			}
			last = r->state;
		}
		old = MemoryContextSwitchTo(batchcxt);
		fsmml_series_write(w, ns, ts, vals, nulls);
		fsmml_series_write(tw, nt, tts, tvals, tnulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(batchcxt);
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

/*
 * The columns fsmml_score_agents reads, unresolved: every agent champion's
 * in agent table order, then atr_14 (the rows read_agent_champions loads
 * and locks; fsmml_score builds them once with the direction champions',
 * and the agents check that the set they get has every column they need).
 */
List *
fsmml_agent_features(const char *symbol, const char *timeframe)
{
	List	  **per = palloc0(sizeof(List *) * fsmml_nagents);
	List	   *features = NIL;

	fsmml_spi_series("SELECT v.agent, v.feature_names "
					 "FROM trading.agentversions v JOIN trading.agents a ON a.name = v.agent "
					 "WHERE v.symbol = $1 AND v.timeframe = $2 AND v.status = 'champion' "
					 "AND a.kind <> 'direction' ORDER BY v.id",
					 symbol, timeframe, NULL, false, 0, SPI_OK_SELECT, "reading the champions");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *agent = SPI_getvalue(tup, desc, 1);
		bool		isnull;
		Datum		arr = SPI_getbinval(tup, desc, 2, &isnull);
		Datum	   *elems;
		int			nel;

		for (int a = 0; a < fsmml_nagents; a++)
			if (strcmp(fsmml_agents[a]->name, agent) == 0 && !isnull)
			{
				deconstruct_array(DatumGetArrayTypeP(arr), TEXTOID, -1, false, TYPALIGN_INT,
								  &elems, NULL, &nel);
				per[a] = NIL;
				for (int k = 0; k < nel; k++)
					per[a] = lappend(per[a], TextDatumGetCString(elems[k]));
			}
	}
	for (int a = 0; a < fsmml_nagents; a++)
	{
		ListCell   *lc;

		foreach(lc, per[a])
			append_feature(&features, lfirst(lc));
	}
	append_feature(&features, "atr_14");
	return features;
}

/* True when every column of features is one of ds's. */
static bool
has_columns(const FsmmlDataset *ds, List *features)
{
	ListCell   *lc;

	foreach(lc, features)
	{
		bool		found = false;

		for (int j = 0; j < ds->nfeat && !found; j++)
			found = strcmp(ds->names[j], lfirst(lc)) == 0;
		if (!found)
			return false;
	}
	return true;
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
				   const FsmmlDataset *shared, const PredPlans *plans, PredTarget *target,
				   MemoryContext opcxt)
{
	MemoryContext cxt = AllocSetContextCreate(opcxt, "fsmml score agents", ALLOCSET_DEFAULT_SIZES);
	/* a batch's payloads fit its first block, which a reset keeps: no malloc churn per batch */
	MemoryContext batchcxt = AllocSetContextCreate(opcxt, "fsmml score agents batch",
												   BATCH_CXT_SIZE, BATCH_CXT_SIZE, BATCH_CXT_SIZE);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int			found;
	AgentChampion **champ = read_agent_champions(symbol, timeframe, cxt, &found);
	int64		from = Max(row_from - 1, 0);	/* one bar before: the state to leave */
	int64		first = row_from - from;
	List	   *features = NIL;
	const FsmmlDataset *ds;
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
	/* built by fsmml_score from the same bar, unless the champions changed meanwhile */
	if (shared && has_columns(shared, features))
		ds = shared;
	else
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
			write_states(symbol, timeframe, &b, first, champ[a]->m.version_id, batchcxt);
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
