/*
 * registry.c — inserting versions, numbering them, and promotion.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "fsmml.h"
#include "locks.h"
#include "registry.h"

char *
fsmml_instance_name(const char *agent, const char *symbol, const char *timeframe)
{
	return psprintf("%s@%s-%s", agent, symbol, timeframe);
}

char *
fsmml_agent_kind(const char *agent)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(agent);
	if (SPI_execute_with_args("SELECT kind FROM trading.agents WHERE name = $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.agents failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("unknown agent \"%s\"", agent),
				 errhint("Agents are listed in trading.agents: DirectionXGB, RegimeKMeans, VolQuantile, ExecRules, EnsembleWeighted, StateFSM.")));
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

void
fsmml_registry_lock_instance(const char *agent, const char *symbol, const char *timeframe)
{
	fsmml_lock_instance(agent, symbol, timeframe);
}

static Datum
text_array(List *names)
{
	int			n = list_length(names);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(list_nth(names, i));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Next version number of the instance: MINOR when the feature list or the
 * objective differ from the latest version's, PATCH otherwise.
 */
static char *
next_version(const FsmmlNewVersion *v)
{
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID};
	Datum		values[5];
	int			major,
				minor,
				patch;
	bool		isnull;
	bool		same_spec;
	char	   *latest;

	values[0] = CStringGetTextDatum(v->symbol);
	values[1] = CStringGetTextDatum(v->timeframe);
	values[2] = CStringGetTextDatum(v->agent);
	values[3] = text_array(v->feature_names);
	values[4] = CStringGetTextDatum(v->objective ? v->objective : "");
	if (SPI_execute_with_args("SELECT version, feature_names = $4 AND "
							  "coalesce(params->'xgb'->>'objective', '') = $5 "
							  "FROM trading.agentversions "
							  "WHERE symbol = $1 AND timeframe = $2 AND agent = $3 "
							  "ORDER BY id DESC LIMIT 1",
							  5, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the latest version failed");
	if (SPI_processed == 0)
		return pstrdup("v1.0.0");
	latest = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	same_spec = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (sscanf(latest, "v%d.%d.%d", &major, &minor, &patch) != 3)
		elog(ERROR, "malformed version \"%s\" in trading.agentversions", latest);
	if (same_spec)
		return psprintf("v%d.%d.%d", major, minor, patch + 1);
	return psprintf("v%d.%d.0", major, minor + 1);
}

static Datum
ts_or_null(TimestampTz ts, char *isnull)
{
	*isnull = (ts == DT_NOBEGIN) ? 'n' : ' ';
	return TimestampTzGetDatum(ts);
}

FsmmlVersionRow
fsmml_registry_insert(const FsmmlNewVersion *v)
{
	Oid			types[13] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, BYTEAOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[13];
	char		nulls[14] = "             ";
	FsmmlVersionRow row;
	bool		isnull;
	char	   *version;
	bool		first;

	fsmml_registry_lock_instance(v->agent, v->symbol, v->timeframe);
	version = next_version(v);
	first = fsmml_registry_champion(v->agent, v->symbol, v->timeframe) == 0;

	values[0] = CStringGetTextDatum(v->symbol);
	values[1] = CStringGetTextDatum(v->timeframe);
	values[2] = CStringGetTextDatum(v->agent);
	values[3] = CStringGetTextDatum(version);
	values[4] = PointerGetDatum(v->model);
	values[5] = CStringGetTextDatum(v->model_format);
	values[6] = CStringGetTextDatum(v->params);
	values[7] = CStringGetTextDatum(v->metrics);
	values[8] = text_array(v->feature_names);
	values[9] = ts_or_null(v->train_from, &nulls[9]);
	values[10] = ts_or_null(v->train_to, &nulls[10]);
	values[11] = ts_or_null(v->test_from, &nulls[11]);
	values[12] = ts_or_null(v->test_to, &nulls[12]);

	if (SPI_execute_with_args(psprintf("INSERT INTO trading.agentversions "
									   "(symbol, timeframe, agent, version, status, model, model_format, "
									   "model_sha256, params, metrics, feature_names, train_from, train_to, "
									   "test_from, test_to, ext_version, created_by%s) "
									   "VALUES ($1, $2, $3, $4, %s, $5, $6, encode(sha256($5), 'hex'), "
									   "$7::jsonb, $8::jsonb, $9, $10, $11, $12, $13, '%s', session_user%s) "
									   "RETURNING id, version, status",
									   first ? ", promoted_at, promoted_by, promote_reason" : "",
									   first ? "'champion'" : "'challenger'",
									   FSMML_VERSION,
									   first ? ", now(), session_user, 'first version of the instance'" : ""),
							  13, types, values, nulls, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "inserting the version failed");
	row.id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	row.version = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	row.status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (first)
		fsmml_registry_log_decision(v->symbol, v->timeframe, v->agent, row.id, 0, "promoted",
									"first version of the instance", v->metrics, NULL);
	return row;
}

int64
fsmml_registry_champion(const char *agent, const char *symbol, const char *timeframe)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		isnull;

	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = CStringGetTextDatum(agent);
	if (SPI_execute_with_args("SELECT id FROM trading.agentversions WHERE symbol = $1 "
							  "AND timeframe = $2 AND agent = $3 AND status = 'champion'",
							  3, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the champion failed");
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

void
fsmml_registry_log_decision(const char *symbol, const char *timeframe, const char *agent,
							int64 challenger_id, int64 champion_id, const char *decision,
							const char *reason, const char *challenger_metrics,
							const char *champion_metrics)
{
	Oid			types[9] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID};
	Datum		values[9];
	char		nulls[10] = "         ";

	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = CStringGetTextDatum(agent);
	values[3] = Int64GetDatum(challenger_id);
	values[4] = Int64GetDatum(champion_id);
	if (champion_id == 0)
		nulls[4] = 'n';
	values[5] = CStringGetTextDatum(decision);
	values[6] = CStringGetTextDatum(reason);
	values[7] = CStringGetTextDatum(challenger_metrics ? challenger_metrics : "null");
	values[8] = CStringGetTextDatum(champion_metrics ? champion_metrics : "null");
	if (SPI_execute_with_args("INSERT INTO fsmml.promotions (symbol, timeframe, agent, "
							  "challenger_id, champion_id, decision, reason, challenger_metrics, "
							  "champion_metrics) VALUES ($1, $2, $3, $4, $5, $6, $7, "
							  "nullif($8::jsonb, 'null'), nullif($9::jsonb, 'null'))",
							  9, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "logging the promotion decision failed");
}

int64
fsmml_registry_promote(const char *symbol, int64 version_id, const char *decision,
					   const char *reason, const char *challenger_metrics,
					   const char *champion_metrics)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	char	   *timeframe;
	char	   *agent;
	int64		previous;

	values[0] = CStringGetTextDatum(symbol);
	values[1] = Int64GetDatum(version_id);
	if (SPI_execute_with_args("SELECT timeframe, agent FROM trading.agentversions "
							  "WHERE symbol = $1 AND id = $2",
							  2, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the version failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("agent version " INT64_FORMAT " does not exist", version_id),
				 errhint("Versions are listed in trading.agentversions.")));
	timeframe = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	agent = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	fsmml_registry_lock_instance(agent, symbol, timeframe);
	/* read after the lock (a fresh snapshot): what a concurrent promotion left */
	previous = fsmml_registry_champion(agent, symbol, timeframe);
	if (previous == version_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version " INT64_FORMAT " is already the champion of %s", version_id,
						fsmml_instance_name(agent, symbol, timeframe)),
				 errhint("Promote another version of the instance.")));

	values[0] = CStringGetTextDatum(symbol);
	values[1] = Int64GetDatum(previous);
	if (previous != 0 &&
		SPI_execute_with_args("UPDATE trading.agentversions SET status = 'retired' "
							  "WHERE symbol = $1 AND id = $2",
							  2, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "retiring the champion failed");
	{
		Oid			t3[3] = {TEXTOID, INT8OID, TEXTOID};
		Datum		v3[3];

		v3[0] = CStringGetTextDatum(symbol);
		v3[1] = Int64GetDatum(version_id);
		v3[2] = CStringGetTextDatum(reason);
		if (SPI_execute_with_args("UPDATE trading.agentversions SET status = 'champion', "
								  "promoted_at = now(), promoted_by = session_user, promote_reason = $3 "
								  "WHERE symbol = $1 AND id = $2",
								  3, t3, v3, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "promoting the version failed");
	}
	fsmml_registry_log_decision(symbol, timeframe, agent, version_id, previous, decision, reason,
								challenger_metrics, champion_metrics);
	return previous;
}
