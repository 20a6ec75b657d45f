/*
 * schedule_sql.c — the scheduler's SQL API: fsmml_schedule, fsmml_unschedule,
 * fsmml_retrain_now, fsmml_cancel_job, fsmml_scheduler_status.
 *
 * The rows are written as fsmml_owner; the role recorded in run_as is the
 * caller (the current user), whose rights the job will run with.  Every
 * change wakes the launcher at commit.  The functions ERROR, with a hint,
 * where no launcher can run the job: fsmml not preloaded, or another
 * database than fsmml.database.
 */
#include "postgres.h"

#include <signal.h>

#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bgw.h"
#include "fsmml.h"
#include "privilege.h"
#include "registry.h"
#include "train_params.h"

PG_FUNCTION_INFO_V1(fsmml_schedule);
PG_FUNCTION_INFO_V1(fsmml_unschedule);
PG_FUNCTION_INFO_V1(fsmml_retrain_now);
PG_FUNCTION_INFO_V1(fsmml_cancel_job);
PG_FUNCTION_INFO_V1(fsmml_scheduler_status);

static void
require_scheduler(void)
{
	char	   *db = get_database_name(MyDatabaseId);

	if (!fsmml_bgw_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("fsmml's scheduler is not running"),
				 errhint("Add fsmml to shared_preload_libraries and restart the server.")));
	if (db == NULL || strcmp(db, fsmml_bgw_database) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("fsmml's scheduler runs jobs in database \"%s\", not \"%s\"",
						fsmml_bgw_database, db ? db : "?"),
				 errhint("Schedule from database \"%s\", or set fsmml.database and restart the server.",
						 fsmml_bgw_database)));
}

static char *
text_arg(FunctionCallInfo fcinfo, int i, const char *name)
{
	if (PG_ARGISNULL(i))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(i));
}

/*
 * Checks agent, timeframe and params as fsmml_train would (warm_start is the
 * job's own key); returns params as text.  Caller is SPI-connected.
 */
static char *
check_job(const char *agent, const char *symbol, const char *timeframe, Jsonb *params)
{
	MemoryContext cxt = CurrentMemoryContext;
	Jsonb	   *train_params;

	fsmml_timeframe_usec(timeframe);
	(void) fsmml_agent_kind(agent);
	if (strcmp(agent, "DirectionXGB") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("scheduling agent \"%s\" is not supported by fsmml %s", agent, FSMML_VERSION),
				 errhint("The scheduler retrains DirectionXGB.")));
	if (params == NULL)
		params = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	{
		JsonbValue	k;
		JsonbValue *ws;

		k.type = jbvString;
		k.val.string.val = "warm_start";
		k.val.string.len = strlen("warm_start");
		ws = findJsonbValueFromContainer(&params->root, JB_FOBJECT, &k);
		if (ws && ws->type != jbvBool)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params.warm_start must be a boolean")));
	}
	train_params = DatumGetJsonbP(DirectFunctionCall2(jsonb_delete, JsonbPGetDatum(params),
													  CStringGetTextDatum("warm_start")));
	(void) fsmml_train_params(agent, timeframe, train_params, cxt);
	return JsonbToCString(NULL, &params->root, VARSIZE(params));
}

Datum
fsmml_schedule(PG_FUNCTION_ARGS)
{
	char	   *agent = text_arg(fcinfo, 0, "agent");
	char	   *symbol = text_arg(fcinfo, 1, "symbol");
	char	   *timeframe = text_arg(fcinfo, 2, "timeframe");
	Interval   *every = PG_ARGISNULL(3) ? NULL : PG_GETARG_INTERVAL_P(3);
	Jsonb	   *params = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	char	   *at = PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5));
	char	   *when = PG_ARGISNULL(6) ? "always" : text_to_cstring(PG_GETARG_TEXT_PP(6));
	bool		has_floor = !PG_ARGISNULL(7);
	double		floor = has_floor ? PG_GETARG_FLOAT8(7) : 0;
	char	   *params_text;
	FsmmlUserScope scope;
	Oid			types[9] = {TEXTOID, TEXTOID, TEXTOID, INTERVALOID, TEXTOID, TEXTOID, TEXTOID,
	FLOAT8OID, OIDOID};
	Datum		values[9];
	char		nulls[9] = "         ";
	int64		id;
	bool		isnull;

	require_scheduler();
	if ((every == NULL) == (at == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("give exactly one of every and at"),
				 errhint("every => '1 hour' repeats; at => '02:00' runs daily at that UTC time.")));
	if (every && every->month <= 0 && every->day <= 0 && every->time < USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("every must be at least one second")));
	if (strcmp(when, "always") != 0 && strcmp(when, "drift") != 0 && strcmp(when, "auc") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid retrain_when \"%s\"", when),
				 errhint("Use 'always', 'drift' (PSI > 0.25 on a feature) or 'auc' (live AUC below auc_floor).")));
	if ((strcmp(when, "auc") == 0) != has_floor)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("auc_floor goes with retrain_when => 'auc' and only with it")));
	if (has_floor && !(floor >= 0 && floor <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("auc_floor must be between 0 and 1")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	params_text = check_job(agent, symbol, timeframe, params);
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = CStringGetTextDatum(agent);
	values[3] = every ? IntervalPGetDatum(every) : (Datum) 0;
	nulls[3] = every ? ' ' : 'n';
	values[4] = at ? CStringGetTextDatum(at) : (Datum) 0;
	nulls[4] = at ? ' ' : 'n';
	values[5] = CStringGetTextDatum(params_text);
	values[6] = CStringGetTextDatum(when);
	values[7] = Float8GetDatum(floor);
	nulls[7] = has_floor ? ' ' : 'n';
	values[8] = ObjectIdGetDatum(GetUserId());

	fsmml_owner_enter(&scope);
	/* a repeating schedule runs first at once; a daily one at its next time */
	if (SPI_execute_with_args("INSERT INTO fsmml.schedules (symbol, timeframe, agent, every, at,"
							  " params, retrain_when, auc_floor, run_as, next_run)"
							  " SELECT $1, $2, $3, $4, $5::time, $6::jsonb, $7, $8, $9::regrole,"
							  " CASE WHEN $4 IS NOT NULL THEN clock_timestamp() ELSE"
							  "  (date_trunc('day', clock_timestamp() AT TIME ZONE 'UTC') + $5::time)"
							  "  AT TIME ZONE 'UTC' + CASE WHEN (date_trunc('day', clock_timestamp()"
							  "  AT TIME ZONE 'UTC') + $5::time) AT TIME ZONE 'UTC' > clock_timestamp()"
							  "  THEN interval '0' ELSE interval '1 day' END END"
							  " RETURNING id",
							  9, types, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "inserting the schedule failed");
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (every)
	{
		/* the first run is queued here, committed with the schedule: the launcher starts it on waking */
		Oid			t = INT8OID;
		Datum		v = Int64GetDatum(id);

		if (SPI_execute_with_args("WITH s AS (UPDATE fsmml.schedules SET next_run = next_run + every"
								  "  WHERE id = $1 RETURNING *)"
								  " INSERT INTO fsmml.jobs (symbol, timeframe, agent, schedule_id, params,"
								  "  retrain_when, auc_floor, run_as, trigger)"
								  " SELECT symbol, timeframe, agent, id, params, retrain_when, auc_floor,"
								  "  run_as, 'schedule' FROM s",
								  1, &t, &v, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "queueing the schedule's first job failed");
	}
	fsmml_owner_leave(&scope);
	SPI_finish();
	fsmml_bgw_wake_at_commit();
	PG_RETURN_INT64(id);
}

/* ERROR unless the caller has the rights of role (its own row) or is an fsmml_admin. */
static void
check_owner(Oid role, const char *what, int64 id)
{
	Oid			admin = get_role_oid("fsmml_admin", true);

	if (has_privs_of_role(GetUserId(), role) ||
		(OidIsValid(admin) && has_privs_of_role(GetUserId(), admin)))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for %s " INT64_FORMAT, what, id),
			 errdetail("It belongs to role \"%s\".", GetUserNameFromId(role, true) ?
					   GetUserNameFromId(role, true) : "?"),
			 errhint("Only its role (or a member of it) and fsmml_admin may change it.")));
}

Datum
fsmml_unschedule(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	FsmmlUserScope scope;
	Oid			t = INT8OID;
	Datum		v = Int64GetDatum(id);
	bool		isnull;
	bool		found;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	fsmml_owner_enter(&scope);
	SPI_execute_with_args("SELECT run_as::oid FROM fsmml.schedules WHERE id = $1 FOR UPDATE",
						  1, &t, &v, NULL, false, 0);
	found = SPI_processed == 1;
	if (found)
	{
		Oid			role = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, 1, &isnull));

		fsmml_owner_leave(&scope);
		check_owner(role, "schedule", id);
		fsmml_owner_enter(&scope);
		/* its queued jobs go with it; a running one finishes */
		SPI_execute_with_args("UPDATE fsmml.jobs SET status = 'cancelled', finished_at = clock_timestamp(),"
							  " error = 'schedule removed' WHERE schedule_id = $1 AND status = 'queued'",
							  1, &t, &v, NULL, false, 0);
		SPI_execute_with_args("DELETE FROM fsmml.schedules WHERE id = $1", 1, &t, &v, NULL, false, 0);
	}
	fsmml_owner_leave(&scope);
	SPI_finish();
	if (found)
		fsmml_bgw_wake_at_commit();
	PG_RETURN_BOOL(found);
}

Datum
fsmml_retrain_now(PG_FUNCTION_ARGS)
{
	char	   *agent = text_arg(fcinfo, 0, "agent");
	char	   *symbol = text_arg(fcinfo, 1, "symbol");
	char	   *timeframe = text_arg(fcinfo, 2, "timeframe");
	Jsonb	   *params = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	FsmmlUserScope scope;
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, OIDOID};
	Datum		values[5];
	int64		id;
	bool		isnull;

	require_scheduler();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = CStringGetTextDatum(agent);
	values[3] = CStringGetTextDatum(check_job(agent, symbol, timeframe, params));
	values[4] = ObjectIdGetDatum(GetUserId());
	fsmml_owner_enter(&scope);
	if (SPI_execute_with_args("INSERT INTO fsmml.jobs (symbol, timeframe, agent, params, run_as, trigger)"
							  " VALUES ($1, $2, $3, $4::jsonb, $5::regrole, 'manual') RETURNING id",
							  5, types, values, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "queueing the job failed");
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	fsmml_owner_leave(&scope);
	SPI_finish();
	fsmml_bgw_wake_at_commit();
	PG_RETURN_INT64(id);
}

/*
 * A queued job is cancelled here; a running one gets a query cancel (SIGINT)
 * and records 'cancelled' itself when the cancel reaches it (training checks
 * for interrupts every boosting round).
 */
Datum
fsmml_cancel_job(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	FsmmlUserScope scope;
	Oid			t = INT8OID;
	Datum		v = Int64GetDatum(id);
	bool		isnull;
	bool		done = false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	fsmml_owner_enter(&scope);
	SPI_execute_with_args("SELECT run_as::oid, status, pid FROM fsmml.jobs WHERE id = $1 FOR UPDATE",
						  1, &t, &v, NULL, false, 0);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	td = SPI_tuptable->tupdesc;
		Oid			role = DatumGetObjectId(SPI_getbinval(tup, td, 1, &isnull));
		char	   *status = SPI_getvalue(tup, td, 2);
		Datum		pidd = SPI_getbinval(tup, td, 3, &isnull);
		int			pid = isnull ? 0 : DatumGetInt32(pidd);

		fsmml_owner_leave(&scope);
		check_owner(role, "job", id);
		fsmml_owner_enter(&scope);
		if (strcmp(status, "queued") == 0)
		{
			SPI_execute_with_args("UPDATE fsmml.jobs SET status = 'cancelled', finished_at = clock_timestamp(),"
								  " error = 'cancelled before it started' WHERE id = $1",
								  1, &t, &v, NULL, false, 0);
			done = true;
		}
		else if (strcmp(status, "running") == 0 && pid != 0)
		{
			PGPROC	   *proc = BackendPidGetProc(pid);

			/* only the job's own worker: same role, this database */
			if (proc != NULL && proc->roleId == role && proc->databaseId == MyDatabaseId)
				done = kill(pid, SIGINT) == 0;
		}
	}
	fsmml_owner_leave(&scope);
	SPI_finish();
	if (done)
		fsmml_bgw_wake_at_commit();
	PG_RETURN_BOOL(done);
}

Datum
fsmml_scheduler_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false};
	int			pid = fsmml_bgw_launcher_pid();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (!fsmml_bgw_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("fsmml's scheduler is not running"),
				 errhint("Add fsmml to shared_preload_libraries and restart the server.")));
	values[0] = CStringGetTextDatum(fsmml_bgw_database);
	values[1] = Int32GetDatum(pid);
	nulls[1] = pid == 0;
	values[2] = Int32GetDatum(fsmml_bgw_max_workers);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	{
		FsmmlUserScope scope;
		bool		isnull;

		fsmml_owner_enter(&scope);
		SPI_execute("SELECT count(*)::int4 FROM fsmml.jobs WHERE status = 'running'", true, 0);
		values[3] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		fsmml_owner_leave(&scope);
	}
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
