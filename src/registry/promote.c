/*
 * promote.c — champion changes asked for by an admin.
 *
 *   fsmml_promote(version_id, reason)                manual promotion
 *   fsmml_deploy(agent, symbol, tf, strategy)        best_score | most_recent | rollback
 *
 * Both take the instance lock (locks.h) before they read the champion, so
 * what they decide on is what they change, and a training registering a
 * version of the same instance meanwhile is waited for.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "dataset.h"
#include "fsmml.h"
#include "registry.h"
#include "version_info.h"
#include "xgb.h"

/* ---------------------------------------------------------------- promote */

PG_FUNCTION_INFO_V1(fsmml_promote);

/* fsmml_promote(version_id bigint, reason text) → previous champion id or NULL */
Datum
fsmml_promote(PG_FUNCTION_ARGS)
{
	int64		id;
	const char *reason;
	VersionInfo *v;
	int64		champion;
	int64		previous;
	RegistryCall call;

	fsmml_require_arg(fcinfo, 0, "version_id",
					  "Pass the id of a version from trading.agentversions.");
	id = PG_GETARG_INT64(0);
	reason = PG_ARGISNULL(1) ? "manual promotion" : text_to_cstring(PG_GETARG_TEXT_PP(1));

	fsmml_registry_call_begin(&call);
	v = fsmml_version_read(id, false, false);
	fsmml_registry_lock_instance(v->agent, v->symbol, v->timeframe);
	champion = fsmml_registry_champion(v->agent, v->symbol, v->timeframe);
	if (champion == id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version %s is already the champion of %s",
						v->version, fsmml_instance_name(v->agent, v->symbol, v->timeframe)),
				 errhint("Promote another version, or return to the previous champion with fsmml_deploy(agent, symbol, timeframe, 'rollback').")));
	v = fsmml_version_read(id, false, false);	/* metrics as of the lock */
	previous = fsmml_registry_promote(v->symbol, id, "manual", reason, v->metrics,
									  fsmml_version_metrics(v->symbol, champion));
	fsmml_registry_call_end(&call);
	if (previous == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(previous);
}

/* ---------------------------------------------------------------- deploy */

/* The version string of id, for messages. */
static char *
version_label(int64 id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(id);
	if (SPI_execute_with_args("SELECT version FROM trading.agentversions WHERE id = $1",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.agentversions failed");
	if (SPI_processed == 0)
		return psprintf("(id " INT64_FORMAT ")", id);
	return fsmml_spi_text(1);
}

/* Number of versions of an instance. */
static int64
count_versions(const char *agent, const char *symbol, const char *timeframe)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		isnull;

	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = CStringGetTextDatum(agent);
	if (SPI_execute_with_args("SELECT count(*) FROM trading.agentversions "
							  "WHERE symbol = $1 AND timeframe = $2 AND agent = $3",
							  3, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.agentversions failed");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The version a strategy picks; *detail gets a phrase for the reason.
 * best_score: best hold-out PnL, then hold-out AUC, then the newest; versions
 * without a hold-out backtest (imports) rank last.
 */
static int64
pick_version(const char *agent, const char *symbol, const char *timeframe,
			 const char *strategy, int64 champion, char **detail)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[4];
	bool		isnull;
	const char *sql;
	char	   *instance = fsmml_instance_name(agent, symbol, timeframe);
	int64		id = 0;

	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = CStringGetTextDatum(agent);
	values[3] = Int64GetDatum(champion);

	if (strcmp(strategy, "rollback") == 0)
	{
		if (champion == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s has no champion to roll back from", instance),
					 errhint("Promote a version with fsmml_promote(version_id) or fsmml_deploy(agent, symbol, timeframe, 'best_score').")));
		if (SPI_execute_with_args("SELECT champion_id FROM fsmml.promotions "
								  "WHERE symbol = $1 AND timeframe = $2 AND agent = $3 "
								  "AND challenger_id = $4 "
								  "AND decision IN ('promoted', 'manual', 'rollback') "
								  "ORDER BY id DESC LIMIT 1",
								  4, types, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "reading fsmml.promotions failed");
		if (SPI_processed == 0)
			isnull = true;
		else
			id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											 &isnull));
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s has no previous champion to roll back to", instance),
					 errdetail("Its champion %s did not replace another version.",
							   version_label(champion)),
					 errhint("Promote a chosen version with fsmml_promote(version_id).")));
		values[3] = Int64GetDatum(id);
		if (SPI_execute_with_args("SELECT id FROM trading.agentversions WHERE symbol = $1 "
								  "AND timeframe = $2 AND agent = $3 AND id = $4",
								  4, types, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "reading trading.agentversions failed");
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("the previous champion of %s (id " INT64_FORMAT ") no longer exists",
							instance, id),
					 errhint("Promote a chosen version with fsmml_promote(version_id).")));
		*detail = pstrdup("(the previous champion)");
		return id;
	}

	if (strcmp(strategy, "most_recent") == 0)
		sql = "SELECT id, NULL::float8, version FROM trading.agentversions "
			"WHERE symbol = $1 AND timeframe = $2 AND agent = $3 "
			"ORDER BY id DESC LIMIT 1";
	else
		sql = "SELECT id, CASE WHEN jsonb_typeof(metrics->'holdout'->'backtest'->'pnl') = 'number' "
			"THEN (metrics->'holdout'->'backtest'->>'pnl')::float8 END AS pnl, version "
			"FROM trading.agentversions "
			"WHERE symbol = $1 AND timeframe = $2 AND agent = $3 "
			"ORDER BY pnl DESC NULLS LAST, "
			"CASE WHEN jsonb_typeof(metrics->'holdout'->'auc') = 'number' "
			"THEN (metrics->'holdout'->>'auc')::float8 END DESC NULLS LAST, id DESC LIMIT 1";
	if (SPI_execute_with_args(sql, 3, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.agentversions failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s has no versions", instance),
				 errhint("Train one with fsmml_train(...).")));
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (strcmp(strategy, "most_recent") == 0)
		*detail = pstrdup("(the newest version)");
	else
	{
		char	   *pnl = fsmml_spi_text(2);

		if (pnl == NULL)
		{
			ereport(NOTICE,
					(errmsg("no version of %s has a hold-out backtest; chose the newest", instance)));
			*detail = pstrdup("(no version has a hold-out score: the newest)");
		}
		else
			*detail = psprintf("(best hold-out PnL %s)", pnl);
	}
	return id;
}

PG_FUNCTION_INFO_V1(fsmml_deploy);

/* fsmml_deploy(agent, symbol, timeframe, strategy) → the champion's id */
Datum
fsmml_deploy(PG_FUNCTION_ARGS)
{
	char	   *agent;
	char	   *symbol;
	char	   *timeframe;
	char	   *strategy;
	char	   *instance;
	char	   *detail = NULL;
	int64		champion;
	int64		chosen;
	VersionInfo *v;
	RegistryCall call;

	fsmml_require_arg(fcinfo, 0, "agent", "Pass an agent name from trading.agents, e.g. 'DirectionXGB'.");
	fsmml_require_arg(fcinfo, 1, "symbol", "Pass the symbol of the instance, e.g. 'BTCUSDT'.");
	fsmml_require_arg(fcinfo, 2, "timeframe", "Pass the timeframe of the instance, e.g. '1m'.");
	fsmml_require_arg(fcinfo, 3, "strategy",
					  "Pass 'best_score', 'most_recent' or 'rollback'.");
	agent = text_to_cstring(PG_GETARG_TEXT_PP(0));
	symbol = text_to_cstring(PG_GETARG_TEXT_PP(1));
	timeframe = text_to_cstring(PG_GETARG_TEXT_PP(2));
	strategy = text_to_cstring(PG_GETARG_TEXT_PP(3));

	if (strcmp(strategy, "best_score") != 0 && strcmp(strategy, "most_recent") != 0 &&
		strcmp(strategy, "rollback") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown deployment strategy \"%s\"", strategy),
				 errhint("Use 'best_score' (best hold-out PnL), 'most_recent' (the newest version) or 'rollback' (the previous champion).")));
	fsmml_timeframe_usec(timeframe);
	instance = fsmml_instance_name(agent, symbol, timeframe);

	fsmml_registry_call_begin(&call);
	fsmml_agent_kind(agent);
	fsmml_registry_lock_instance(agent, symbol, timeframe);
	if (count_versions(agent, symbol, timeframe) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s has no versions", instance),
				 errhint("Train one with fsmml_train(...).")));
	champion = fsmml_registry_champion(agent, symbol, timeframe);
	chosen = pick_version(agent, symbol, timeframe, strategy, champion, &detail);
	v = fsmml_version_read(chosen, false, false);
	if (chosen == champion)
		ereport(NOTICE,
				(errmsg("version %s is already the champion of %s; nothing changed",
						v->version, instance)));
	else
		fsmml_registry_promote(symbol, chosen,
							   strcmp(strategy, "rollback") == 0 ? "rollback" : "manual",
							   psprintf("fsmml_deploy %s: %s %s", strategy, v->version, detail),
							   v->metrics, fsmml_version_metrics(symbol, champion));
	fsmml_registry_call_end(&call);
	PG_RETURN_INT64(chosen);
}
