/*
 * launcher.c — the scheduler's launcher: a background worker connected to
 * fsmml.database that turns due schedules into jobs and starts each queued
 * job in a dynamic background worker (worker.c).
 *
 * One pass per wake-up, every pass in a fresh memory context:
 *   1. reap finished workers; a worker that exited before claiming its job
 *      fails that job (e.g. its role cannot log in any more); then, in the
 *      pass's first transaction, due schedules become jobs (3.) and queued
 *      jobs start (4.) at once; lost jobs (2.) then, in a second one (and at
 *      a launcher's first pass before anything starts)
 *   2. lost jobs: a 'running' job whose advisory lock is free has no worker
 *      (crash, restart, terminate): failed with the reason, retried with
 *      back-off up to fsmml.job_max_attempts (a new job row, retry_of)
 *   3. due schedules become queued jobs (none while one of theirs is open)
 *   4. queued jobs start, at most fsmml.max_workers at once (the running
 *      jobs of a predecessor launcher's workers, still alive after it was
 *      terminated, count too) and never two of one instance; prune history
 *      older than fsmml.job_retention
 * then sleeps on its latch until the next due time (at most a minute).  The
 * latch is set at commit by whoever queued or changed work (scheduler.c), by
 * the postmaster when a worker it started exits (bgw_notify_pid) and by any
 * job worker at its exit (worker.c: a predecessor's workers wake it too).
 *
 * The launcher runs no user code: it connects as the bootstrap superuser only
 * to read catalogues and start workers; its writes to fsmml's tables run as
 * fsmml_owner.  Jobs run as the role that queued them (worker.c).
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "bgw.h"
#include "fsmml.h"
#include "privilege.h"

#define MAX_INFLIGHT 64
#define MAX_SLEEP_MS 60000L
#define INSTANCE_LEN 160

typedef struct InFlight
{
	int64		job_id;
	char		instance[INSTANCE_LEN];
	BackgroundWorkerHandle *handle;
} InFlight;

static InFlight inflight[MAX_INFLIGHT];
static int	ninflight = 0;

static void
spi_exec(const char *sql, int nargs, Oid *types, Datum *values, int expect)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc != expect)
		elog(ERROR, "fsmml launcher: SPI_execute failed (%d): %s", rc, sql);
}

static bool
extension_ready(void)
{
	Datum		v = CStringGetTextDatum(FSMML_VERSION);
	Oid			t = TEXTOID;

	spi_exec("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'fsmml' AND extversion = $1",
			 1, &t, &v, SPI_OK_SELECT);
	return SPI_processed > 0;
}

/*
 * A job whose worker is gone: failed, and queued again as a new attempt after
 * fsmml.job_retry_delay * 2^(attempt-1) (at most an hour) while attempts
 * remain.  Caller is SPI-connected, in owner mode.
 */
void
fsmml_bgw_fail_lost_job(int64 job_id, const char *reason)
{
	Oid			types[4] = {INT8OID, TEXTOID, INT4OID, INT4OID};
	Datum		values[4] = {Int64GetDatum(job_id), CStringGetTextDatum(reason),
	Int32GetDatum(fsmml_bgw_max_attempts), Int32GetDatum(fsmml_bgw_retry_delay)};

	spi_exec("WITH lost AS ("
			 "  UPDATE fsmml.jobs SET status = 'failed', finished_at = clock_timestamp(),"
			 "         error = $2 || CASE WHEN attempt < $3 THEN '; retried' ELSE"
			 "                 format('; not retried (%s of %s attempts)', attempt, $3) END"
			 "  WHERE id = $1 AND status IN ('queued', 'running') RETURNING *)"
			 " INSERT INTO fsmml.jobs (symbol, timeframe, agent, schedule_id, params, retrain_when,"
			 "                         auc_floor, run_as, trigger, attempt, retry_of, not_before)"
			 " SELECT symbol, timeframe, agent, schedule_id, params, retrain_when, auc_floor, run_as,"
			 "        'retry', attempt + 1, coalesce(retry_of, id), clock_timestamp()"
			 "        + least(make_interval(secs => $4) * power(2, attempt - 1), interval '1 hour')"
			 " FROM lost WHERE attempt < $3",
			 4, types, values, SPI_OK_INSERT);
	if (SPI_processed > 0)
		elog(LOG, "fsmml: job " INT64_FORMAT " lost (%s): retrying", job_id, reason);
	else
		elog(LOG, "fsmml: job " INT64_FORMAT " lost (%s)", job_id, reason);
}

/* 1. Workers that exited: forget them; a job they never claimed fails. */
static void
reap_workers(void)
{
	for (int i = 0; i < ninflight;)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(inflight[i].handle, &pid) == BGWH_STOPPED)
		{
			Oid			t = INT8OID;
			Datum		v = Int64GetDatum(inflight[i].job_id);

			spi_exec("UPDATE fsmml.jobs SET status = 'failed', finished_at = clock_timestamp(),"
					 " error = 'the job''s worker exited before starting it (see the server log:"
					 " can the role still log in?)' WHERE id = $1 AND status = 'queued'",
					 1, &t, &v, SPI_OK_UPDATE);
			pfree(inflight[i].handle);
			inflight[i] = inflight[--ninflight];
		}
		else
			i++;
	}
}

static bool
is_inflight(int64 job_id)
{
	for (int i = 0; i < ninflight; i++)
		if (inflight[i].job_id == job_id)
			return true;
	return false;
}

/* The ids of the jobs in 'running'; *n of them. */
static int64 *
running_jobs(int *n)
{
	int64	   *ids;

	spi_exec("SELECT id FROM fsmml.jobs WHERE status = 'running' ORDER BY id", 0, NULL, NULL,
			 SPI_OK_SELECT);
	*n = SPI_processed;
	ids = palloc(sizeof(int64) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	return ids;
}

/* A job's worker is alive while it holds the job's lock (bgw.h). */
static bool
worker_alive(int64 job_id)
{
	LOCKTAG		tag;

	fsmml_bgw_job_locktag(&tag, job_id);
	if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, ExclusiveLock, true);
	return false;
}

/* 2. 'running' jobs nobody holds the lock of; returns how many were failed. */
static int
recover_lost_jobs(void)
{
	int			n;
	int64	   *ids = running_jobs(&n);
	int			lost = 0;

	for (int i = 0; i < n; i++)
	{
		/* alive: a worker of this launcher, or one an earlier launcher started */
		if (is_inflight(ids[i]) || worker_alive(ids[i]))
			continue;
		fsmml_bgw_fail_lost_job(ids[i], "the worker was lost while running"
								" (server crash or restart, or the worker was terminated)");
		lost++;
	}
	return lost;
}

/*
 * 'running' jobs with a live worker this launcher did not start: a restarted
 * launcher's predecessor started them.  They count toward fsmml.max_workers
 * like the launcher's own.
 */
static int
count_inherited_workers(void)
{
	int			n;
	int64	   *ids = running_jobs(&n);
	int			alive = 0;

	for (int i = 0; i < n; i++)
		if (!is_inflight(ids[i]) && worker_alive(ids[i]))
			alive++;
	return alive;
}

/* 3. Due schedules: next_run moves past now, a job is queued unless one is open. */
static uint64
enqueue_due_schedules(void)
{
	spi_exec("WITH due AS ("
			 "  UPDATE fsmml.schedules s SET next_run = CASE WHEN every IS NOT NULL THEN"
			 "      next_run + every * (floor(extract(epoch FROM clock_timestamp() - next_run)"
			 "                                / extract(epoch FROM every)) + 1)"
			 "    ELSE ((date_trunc('day', clock_timestamp() AT TIME ZONE 'UTC') + at)"
			 "          AT TIME ZONE 'UTC') + CASE WHEN (date_trunc('day', clock_timestamp()"
			 "          AT TIME ZONE 'UTC') + at) AT TIME ZONE 'UTC' > clock_timestamp()"
			 "          THEN interval '0' ELSE interval '1 day' END END"
			 "  WHERE next_run <= clock_timestamp() RETURNING s.*)"
			 " INSERT INTO fsmml.jobs (symbol, timeframe, agent, schedule_id, params, retrain_when,"
			 "                         auc_floor, run_as, trigger)"
			 " SELECT symbol, timeframe, agent, id, params, retrain_when, auc_floor, run_as, 'schedule'"
			 " FROM due WHERE NOT EXISTS (SELECT 1 FROM fsmml.jobs j WHERE j.schedule_id = due.id"
			 "                            AND j.status IN ('queued', 'running'))",
			 0, NULL, NULL, SPI_OK_INSERT);
	return SPI_processed;
}

static void
prune_history(void)
{
	Oid			t = INT4OID;
	Datum		v = Int32GetDatum(fsmml_bgw_job_retention);

	/* an index range scan on finished_at: cheap enough for every pass */
	spi_exec("DELETE FROM fsmml.jobs WHERE status NOT IN ('queued', 'running')"
			 " AND finished_at < clock_timestamp() - make_interval(secs => $1)",
			 1, &t, &v, SPI_OK_DELETE);
}

static bool
start_worker(int64 job_id, Oid roleoid, const char *instance)
{
	BackgroundWorker w;
	BackgroundWorkerHandle *handle;
	MemoryContext old;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "fsmml");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "fsmml_job_worker_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "fsmml job " INT64_FORMAT, job_id);
	snprintf(w.bgw_type, BGW_MAXLEN, "fsmml job");
	w.bgw_main_arg = Int64GetDatum(job_id);
	memcpy(w.bgw_extra, &MyDatabaseId, sizeof(Oid));
	memcpy(w.bgw_extra + sizeof(Oid), &roleoid, sizeof(Oid));
	w.bgw_notify_pid = MyProcPid;

	old = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&w, &handle))
	{
		MemoryContextSwitchTo(old);
		return false;
	}
	MemoryContextSwitchTo(old);
	inflight[ninflight].job_id = job_id;
	strlcpy(inflight[ninflight].instance, instance, INSTANCE_LEN);
	inflight[ninflight].handle = handle;
	ninflight++;
	return true;
}

static bool
instance_busy(const char *instance)
{
	for (int i = 0; i < ninflight; i++)
		if (strcmp(inflight[i].instance, instance) == 0)
			return true;
	return false;
}

/*
 * 4. Queued jobs, oldest first, one per instance with none running.  Returns
 * the milliseconds until the next due job or schedule (0: start more now).
 */
static long
start_due_jobs(bool *no_slot)
{
	Oid			t = INT4OID;
	Datum		v = Int32GetDatum(MAX_INFLIGHT);
	uint64		n;
	SPITupleTable *tt;
	long		sleep_ms = MAX_SLEEP_MS;
	bool		isnull;
	int			inherited;

	*no_slot = false;
	inherited = count_inherited_workers();
	spi_exec("SELECT j.id, j.agent || '@' || j.symbol || '-' || j.timeframe, j.run_as::oid,"
			 "       r.rolcanlogin, r.rolname"
			 " FROM fsmml.jobs j LEFT JOIN pg_catalog.pg_roles r ON r.oid = j.run_as::oid"
			 " WHERE j.status = 'queued' AND j.not_before <= clock_timestamp()"
			 "   AND NOT EXISTS (SELECT 1 FROM fsmml.jobs o WHERE o.status = 'running'"
			 "                   AND (o.agent, o.symbol, o.timeframe) = (j.agent, j.symbol, j.timeframe))"
			 " ORDER BY j.not_before, j.id LIMIT $1",
			 1, &t, &v, SPI_OK_SELECT);
	n = SPI_processed;
	tt = SPI_tuptable;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = tt->vals[i];
		int64		id = DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 1, &isnull));
		char	   *instance = SPI_getvalue(tup, tt->tupdesc, 2);
		Oid			role = DatumGetObjectId(SPI_getbinval(tup, tt->tupdesc, 3, &isnull));
		Datum		canlogin = SPI_getbinval(tup, tt->tupdesc, 4, &isnull);

		if (is_inflight(id) || instance_busy(instance))
			continue;
		if (isnull || !DatumGetBool(canlogin))
		{
			Oid			types[2] = {INT8OID, TEXTOID};
			Datum		vals[2] = {Int64GetDatum(id), CStringGetTextDatum(isnull ?
						"the role that queued the job no longer exists" :
						psprintf("role \"%s\" cannot log in: jobs run as the role that queued them,"
								 " which needs LOGIN", SPI_getvalue(tup, tt->tupdesc, 5)))};

			/* SPI_tuptable is replaced by this statement: the rows above were read already */
			spi_exec("UPDATE fsmml.jobs SET status = 'failed', finished_at = clock_timestamp(),"
					 " error = $2 WHERE id = $1 AND status = 'queued'", 2, types, vals, SPI_OK_UPDATE);
			continue;
		}
		if (ninflight >= MAX_INFLIGHT || ninflight + inherited >= fsmml_bgw_max_workers)
		{
			*no_slot = true;
			break;
		}
		if (!start_worker(id, role, instance))
		{
			/* every max_worker_processes slot taken: try again shortly */
			ereport(LOG, (errmsg("fsmml: no background worker slot for job " INT64_FORMAT, id),
						  errhint("Raise max_worker_processes.")));
			return 1000;
		}
	}

	spi_exec("SELECT extract(epoch FROM least("
			 "  (SELECT min(next_run) FROM fsmml.schedules),"
			 "  (SELECT min(not_before) FROM fsmml.jobs WHERE status = 'queued'"
			 "     AND not_before > clock_timestamp())) - clock_timestamp()) * 1000",
			 0, NULL, NULL, SPI_OK_SELECT);
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			double		ms = DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));

			sleep_ms = (long) Max(Min(ms + 1, (double) MAX_SLEEP_MS), 0);
		}
	}
	return sleep_ms;
}


/*
 * One pass; returns how long to sleep.  Due schedules become jobs and queued
 * jobs start in the first transaction, before the housekeeping, so a wake-up
 * at commit (fsmml_retrain_now, a new schedule's first run) reaches a started
 * worker in one pass.
 */
static long
launcher_pass(void)
{
	static bool first_pass = true;
	long		sleep_ms = MAX_SLEEP_MS;
	FsmmlUserScope scope;
	bool		no_slot = false;
	bool		ready;
	uint64		retried = 0;

	fsmml_bgw_begin_xact();
	pgstat_report_activity(STATE_RUNNING, "fsmml launcher pass");
	ready = extension_ready();
	if (ready)
	{
		fsmml_owner_enter(&scope);
		reap_workers();
		/* after a crash, jobs left 'running' are failed before new ones start beside them */
		if (first_pass)
			(void) recover_lost_jobs();
		first_pass = false;
		(void) enqueue_due_schedules();
		sleep_ms = start_due_jobs(&no_slot);
		fsmml_owner_leave(&scope);
	}
	fsmml_bgw_commit_xact();

	if (ready)
	{
		fsmml_bgw_begin_xact();
		fsmml_owner_enter(&scope);
		retried = recover_lost_jobs();
		prune_history();
		fsmml_owner_leave(&scope);
		fsmml_bgw_commit_xact();
		/* retries just queued: another pass computes when they are due */
		if (retried > 0 && !no_slot)
			sleep_ms = 0;
		/* all slots busy: a finishing worker sets the latch */
		if (no_slot)
			sleep_ms = MAX_SLEEP_MS;
	}
	pgstat_report_activity(STATE_IDLE, NULL);
	pgstat_report_stat(false);
	return sleep_ms;
}

void
fsmml_launcher_main(Datum arg)
{
	MemoryContext passcxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(fsmml_bgw_database, NULL, 0);
	pgstat_report_appname("fsmml launcher");
	fsmml_bgw_set_launcher(true);
	elog(LOG, "fsmml launcher started in database \"%s\"", fsmml_bgw_database);

	passcxt = AllocSetContextCreate(TopMemoryContext, "fsmml launcher pass", ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		volatile long sleep_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		/* reset before the pass: a wake-up during the pass starts another one */
		ResetLatch(MyLatch);
		MemoryContextReset(passcxt);
		MemoryContextSwitchTo(passcxt);

		PG_TRY();
		{
			sleep_ms = launcher_pass();
		}
		PG_CATCH();
		{
			/* an error in a pass never stops the scheduler: log it, retry in a second */
			MemoryContextSwitchTo(passcxt);
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
			sleep_ms = 1000;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(TopMemoryContext);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
	}
}
