/*
 * worker.c — a dynamic background worker that runs one job of fsmml.jobs.
 *
 * It connects as the role that queued the job (never as a superuser on its
 * behalf), takes the job's session advisory lock (bgw.h), and claims the job
 * (queued -> running, its pid, started_at = the claim's time: the job starts
 * when a connected worker owns it) in a first transaction.  The work runs in a
 * second one: the role's rights are checked (fsmml_trainer), a conditional
 * retrain (retrain_when drift | auc) first measures whether it is needed,
 * then fsmml_train runs as that role through SPI, and the job is marked
 * succeeded with the version in the same transaction that registers the
 * version: a crash before the commit leaves neither, after it both, so one
 * job never produces two versions.  An ERROR (a cancel by fsmml_cancel_job is
 * a query cancel) is recorded in a third transaction; a FATAL (SIGTERM,
 * shutdown) or a crash leaves the job 'running' with its lock free, and the
 * launcher fails and retries it.  At exit the worker sets the launcher's
 * latch (after its lock is released), whichever launcher started it, and it
 * logs the job's wall time, CPU and threads.
 */
#include "postgres.h"

#include <math.h>
#include <sys/resource.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bgw.h"
#include "privilege.h"

#define MAJOR_PSI 0.25

typedef struct Job
{
	int64		id;
	char	   *agent;
	char	   *symbol;
	char	   *timeframe;
	char	   *params;
	char	   *retrain_when;
	double		auc_floor;
} Job;

static char *
getstr(int col)
{
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col);
}

/* fsmml's schema, quoted: the job's calls do not depend on the role's search_path. */
static const char *
ext_schema(void)
{
	if (SPI_execute("SELECT quote_ident(n.nspname) FROM pg_catalog.pg_extension e"
					" JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
					" WHERE e.extname = 'fsmml'", true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "fsmml job: extension fsmml not found");
	return getstr(1);
}

/* queued -> running; false when the job was cancelled (or taken) meanwhile. */
static bool
claim(Job *job, MemoryContext cxt)
{
	FsmmlUserScope scope;
	Oid			t = INT8OID;
	Datum		v = Int64GetDatum(job->id);
	bool		claimed;

	fsmml_bgw_begin_xact();
	fsmml_owner_enter(&scope);
	/* started_at: when the job is claimed, its worker connected and ready to run it */
	if (SPI_execute_with_args("UPDATE fsmml.jobs SET status = 'running', pid = pg_backend_pid(),"
							  " started_at = clock_timestamp()"
							  " WHERE id = $1 AND status = 'queued'"
							  " RETURNING agent, symbol, timeframe, params::text, retrain_when, auc_floor",
							  1, &t, &v, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "fsmml job: claim failed");
	claimed = SPI_processed == 1;
	if (claimed)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		char	   *floor = getstr(6);

		job->agent = getstr(1);
		job->symbol = getstr(2);
		job->timeframe = getstr(3);
		job->params = getstr(4);
		job->retrain_when = getstr(5);
		job->auc_floor = floor ? strtod(floor, NULL) : NAN;
		MemoryContextSwitchTo(old);
	}
	fsmml_owner_leave(&scope);
	fsmml_bgw_commit_xact();
	return claimed;
}

/* Final state of the job, as fsmml_owner, only while this worker still owns it. */
static void
finish(const Job *job, const char *status, int64 version_id, const char *decision,
	   const char *error)
{
	FsmmlUserScope scope;
	Oid			types[5] = {INT8OID, TEXTOID, INT8OID, TEXTOID, TEXTOID};
	Datum		values[5] = {Int64GetDatum(job->id), CStringGetTextDatum(status),
		Int64GetDatum(version_id), decision ? CStringGetTextDatum(decision) : 0,
	error ? CStringGetTextDatum(error) : 0};
	char		nulls[5] = {' ', ' ', version_id ? ' ' : 'n', decision ? ' ' : 'n', error ? ' ' : 'n'};

	fsmml_owner_enter(&scope);
	if (SPI_execute_with_args("UPDATE fsmml.jobs SET status = $2, version_id = $3, decision = $4,"
							  " error = $5, finished_at = clock_timestamp()"
							  " WHERE id = $1 AND status = 'running' AND pid = pg_backend_pid()",
							  5, types, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "fsmml job: recording the result failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("job " INT64_FORMAT " is no longer running in this worker", job->id),
				 errdetail("It was marked lost or cancelled meanwhile; its result is discarded.")));
	fsmml_owner_leave(&scope);
}

/* The champion's id, or 0. */
static int64
champion_of(const Job *job)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(job->agent), CStringGetTextDatum(job->symbol),
	CStringGetTextDatum(job->timeframe)};
	bool		isnull;

	SPI_execute_with_args("SELECT id FROM trading.agentversions WHERE agent = $1 AND symbol = $2"
						  " AND timeframe = $3 AND status = 'champion'",
						  3, types, values, NULL, true, 1);
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * A conditional retrain: NULL when needed (with *why set), else the reason to
 * skip.  Runs as the job's role (the bars are read with its rights).
 */
static char *
retrain_needed(const Job *job, char **why)
{
	int64		champion = champion_of(job);
	Oid			t = INT8OID;
	Datum		v = Int64GetDatum(champion);
	bool		isnull;

	*why = NULL;
	if (strcmp(job->retrain_when, "always") == 0)
		return NULL;
	if (champion == 0)
	{
		*why = "no champion yet";
		return NULL;
	}
	if (strcmp(job->retrain_when, "drift") == 0)
	{
		double		psi;
		char	   *feature;

		if (SPI_execute_with_args(psprintf("SELECT feature, psi FROM %s.fsmml_drift($1)"
										   " ORDER BY psi DESC LIMIT 1", ext_schema()),
								  1, &t, &v, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "fsmml job: drift query failed");
		if (SPI_processed == 0)
			return psprintf("no drift reference stored for version " INT64_FORMAT, champion);
		feature = getstr(1);
		psi = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		if (psi > MAJOR_PSI)
		{
			*why = psprintf("major drift: PSI %.3f on %s", psi, feature);
			return NULL;
		}
		return psprintf("no major drift: highest PSI %.3f (%s) <= %.2f", psi, feature, MAJOR_PSI);
	}
	/* auc: the champion's live AUC below the floor */
	if (SPI_execute_with_args("SELECT live_auc, live_rows FROM fsmml.model_health WHERE version_id = $1",
							  1, &t, &v, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "fsmml job: model_health query failed");
	if (SPI_processed == 0 || getstr(1) == NULL)
		return pstrdup("no live AUC yet (no labelled predictions of the champion)");
	{
		double		auc = strtod(getstr(1), NULL);

		if (auc < job->auc_floor)
		{
			*why = psprintf("live AUC %.4f below the floor %.4f", auc, job->auc_floor);
			return NULL;
		}
		return psprintf("live AUC %.4f >= floor %.4f", auc, job->auc_floor);
	}
}

/* params.warm_start: true (a boolean; anything else is refused when scheduling). */
static bool
warm_start_asked(const char *params)
{
	Jsonb	   *j = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(params)));
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = "warm_start";
	k.val.string.len = strlen("warm_start");
	v = findJsonbValueFromContainer(&j->root, JB_FOBJECT, &k);
	return v != NULL && v->type == jbvBool && v->val.boolean;
}

static void
run_job(const Job *job)
{
	Oid			trainer = get_role_oid("fsmml_trainer", true);
	char	   *skip;
	char	   *why;
	int64		version_id;
	char	   *status;
	char	   *decision;
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	bool		isnull;

	if (!OidIsValid(trainer) || !has_privs_of_role(GetUserId(), trainer))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" is not a member of fsmml_trainer", GetUserNameFromId(GetUserId(), false)),
				 errdetail("Jobs run with the rights of the role that scheduled them."),
				 errhint("GRANT fsmml_trainer TO %s, or remove its schedule with fsmml_unschedule.",
						 GetUserNameFromId(GetUserId(), false))));

	skip = retrain_needed(job, &why);
	if (skip)
	{
		finish(job, "skipped", 0, NULL, skip);
		return;
	}
	values[0] = CStringGetTextDatum(job->agent);
	values[1] = CStringGetTextDatum(job->symbol);
	values[2] = CStringGetTextDatum(job->timeframe);
	values[3] = CStringGetTextDatum(job->params);
	pgstat_report_activity(STATE_RUNNING, "fsmml job: fsmml_train");
	if (warm_start_asked(job->params))
	{
		Jsonb	   *params = DatumGetJsonbP(DirectFunctionCall2(jsonb_delete,
																DirectFunctionCall1(jsonb_in, CStringGetDatum(job->params)),
																CStringGetTextDatum("warm_start")));

		version_id = fsmml_bgw_warm_start(job->agent, job->symbol, job->timeframe, params, &status,
										  CurrentMemoryContext);
	}
	else
	{
		if (SPI_execute_with_args(psprintf("SELECT version_id, status FROM"
										   " %s.fsmml_train($1, $2, $3, $4::jsonb)", ext_schema()),
								  4, types, values, NULL, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "fsmml job: fsmml_train returned no row");
		version_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		status = getstr(2);
	}

	/* the promotion decision fsmml_train logged, with its reason */
	{
		Oid			t = INT8OID;
		Datum		v = Int64GetDatum(version_id);

		/* not read-only: the row was inserted by fsmml_train in this transaction */
		SPI_execute_with_args("SELECT decision || ': ' || reason FROM fsmml.promotions"
							  " WHERE challenger_id = $1 ORDER BY id DESC LIMIT 1",
							  1, &t, &v, NULL, false, 1);
		if (SPI_processed)
			decision = getstr(1);
		else if (strcmp(status, "champion") == 0)
			decision = "champion: the instance's first version";
		else
			decision = "challenger: not judged (auto_promote is off)";
	}
	if (why)
		decision = psprintf("%s [retrained: %s]", decision, why);
	finish(job, "succeeded", version_id, decision, NULL);
}

/* Threads of this process (XGBoost's OpenMP pool included); -1 where /proc is missing. */
static int
thread_count(void)
{
	FILE	   *f = fopen("/proc/self/status", "r");
	char		line[256];
	int			n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/*
 * One LOG line per job: its wall time from the claim, the worker's CPU (every
 * thread's, start-up included) and its threads, so a desk can see what a
 * retrain costs and that nthread is kept.
 */
static void
log_job_end(const Job *job, const char *status, TimestampTz claimed)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	elog(LOG, "fsmml job " INT64_FORMAT " %s: ran %.3f s, CPU user %.3f s system %.3f s, %d threads;"
		 " claimed %.1f ms after its worker started",
		 job->id, status, (GetCurrentTimestamp() - claimed) / 1e6,
		 ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
		 thread_count(), (claimed - MyStartTimestamp) / 1000.0);
}

/* At exit, after the job's lock is released: a launcher (this worker's or a restarted one) may start the next job. */
static void
wake_launcher_at_exit(int code, Datum arg)
{
	fsmml_bgw_wake_launcher();
}

void
fsmml_job_worker_main(Datum arg)
{
	Job			job = {0};
	Oid			dboid;
	Oid			roleoid;
	LOCKTAG		tag;
	MemoryContext cxt;
	TimestampTz claimed;

	job.id = DatumGetInt64(arg);
	memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	memcpy(&roleoid, MyBgworkerEntry->bgw_extra + sizeof(Oid), sizeof(Oid));

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, roleoid, 0);
	on_shmem_exit(wake_launcher_at_exit, (Datum) 0);
	pgstat_report_appname(psprintf("fsmml job " INT64_FORMAT, job.id));
	cxt = AllocSetContextCreate(TopMemoryContext, "fsmml job", ALLOCSET_DEFAULT_SIZES);

	/* Held until exit: the launcher sees a running job's worker alive by it. */
	fsmml_bgw_job_locktag(&tag, job.id);
	(void) LockAcquire(&tag, ExclusiveLock, true, false);

	if (!claim(&job, cxt))
		proc_exit(0);
	claimed = GetCurrentTimestamp();

	PG_TRY();
	{
		fsmml_bgw_begin_xact();
		run_job(&job);
		fsmml_bgw_commit_xact();
		log_job_end(&job, "finished", claimed);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		const char *status;
		char	   *msg;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		/* a cancel that arrives now must not abort the recording of the error */
		QueryCancelPending = false;
		status = edata->sqlerrcode == ERRCODE_QUERY_CANCELED ? "cancelled" : "failed";
		msg = edata->message;
		if (edata->detail)
			msg = psprintf("%s (%s)", msg, edata->detail);
		if (edata->hint)
			msg = psprintf("%s HINT: %s", msg, edata->hint);
		elog(LOG, "fsmml job " INT64_FORMAT " %s: %s", job.id, status, msg);

		fsmml_bgw_begin_xact();
		finish(&job, status, 0, NULL, msg);
		fsmml_bgw_commit_xact();
		log_job_end(&job, status, claimed);
	}
	PG_END_TRY();
	proc_exit(0);
}
