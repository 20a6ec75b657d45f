/*
 * scheduler.c — the scheduler's GUCs, its shared memory and the launcher's
 * registration; the wake-up at commit.
 *
 * Locking protocol: FsmmlBgwShared is written by the launcher only (at start
 * and in an on_shmem_exit callback) and read by any backend, both under its
 * spinlock.  A backend that changed fsmml.schedules or fsmml.jobs sets the
 * launcher's latch from an XACT_EVENT_COMMIT callback: that callback runs
 * after the commit is visible to other transactions, so the launcher's next
 * pass sees the change.  A latch of a launcher that has just exited is
 * harmless to set (its PGPROC's latch at worst wakes its next owner once).
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"

#include "bgw.h"
#include "locks.h"

typedef struct FsmmlBgwShared
{
	slock_t		mutex;
	int			launcher_pid;	/* 0 = none */
	Latch	   *launcher_latch;
	Oid			dboid;
} FsmmlBgwShared;

char	   *fsmml_bgw_database = NULL;
int			fsmml_bgw_max_workers = 2;
int			fsmml_bgw_job_retention = 7 * 24 * 3600;
int			fsmml_bgw_max_attempts = 3;
int			fsmml_bgw_retry_delay = 10;
int			fsmml_drift_window = 1440;

static FsmmlBgwShared *bgw_shared = NULL;
static bool wake_pending = false;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
bgw_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(FsmmlBgwShared)));
}

static void
bgw_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	bgw_shared = ShmemInitStruct("fsmml scheduler", sizeof(FsmmlBgwShared), &found);
	if (!found)
	{
		memset(bgw_shared, 0, sizeof(FsmmlBgwShared));
		SpinLockInit(&bgw_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
bgw_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		if (wake_pending)
			fsmml_bgw_wake_launcher();
		wake_pending = false;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
			 event == XACT_EVENT_PREPARE)
		wake_pending = false;
}

void
fsmml_bgw_init(void)
{
	BackgroundWorker worker;

	/* A PGC_POSTMASTER variable can only be defined at preload (later is FATAL). */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("fsmml.database",
								   "Database in which fsmml's scheduler runs jobs.",
								   NULL, &fsmml_bgw_database, "postgres",
								   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("fsmml.max_workers",
							"Jobs run at once by fsmml's scheduler.",
							"Each is a background worker: keep it below max_worker_processes.",
							&fsmml_bgw_max_workers, 2, 0, 64,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("fsmml.job_retention",
							"How long finished jobs stay in fsmml.jobs.",
							NULL, &fsmml_bgw_job_retention, 7 * 24 * 3600, 60, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("fsmml.job_max_attempts",
							"Attempts of a job whose worker was lost (crash, restart, terminate).",
							NULL, &fsmml_bgw_max_attempts, 3, 1, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("fsmml.job_retry_delay",
							"Delay before the first retry of a lost job; doubled per attempt.",
							NULL, &fsmml_bgw_retry_delay, 10, 0, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("fsmml.drift_window",
							"Bars over which feature drift (PSI) is measured against training.",
							NULL, &fsmml_drift_window, 1440, 50, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);

	RegisterXactCallback(bgw_xact_callback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = bgw_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = bgw_shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "fsmml");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "fsmml_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "fsmml launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "fsmml launcher");
	RegisterBackgroundWorker(&worker);
}

bool
fsmml_bgw_available(void)
{
	return bgw_shared != NULL;
}

static void
launcher_shmem_exit(int code, Datum arg)
{
	fsmml_bgw_set_launcher(false);
}

void
fsmml_bgw_set_launcher(bool running)
{
	SpinLockAcquire(&bgw_shared->mutex);
	bgw_shared->launcher_pid = running ? MyProcPid : 0;
	bgw_shared->launcher_latch = running ? MyLatch : NULL;
	bgw_shared->dboid = running ? MyDatabaseId : InvalidOid;
	SpinLockRelease(&bgw_shared->mutex);
	if (running)
		on_shmem_exit(launcher_shmem_exit, (Datum) 0);
}

int
fsmml_bgw_launcher_pid(void)
{
	int			pid;

	if (!bgw_shared)
		return 0;
	SpinLockAcquire(&bgw_shared->mutex);
	pid = bgw_shared->launcher_pid;
	SpinLockRelease(&bgw_shared->mutex);
	return pid;
}

/* Sets the launcher's latch now (a job worker at exit); no-op without a launcher. */
void
fsmml_bgw_wake_launcher(void)
{
	Latch	   *latch = NULL;

	if (!bgw_shared)
		return;
	SpinLockAcquire(&bgw_shared->mutex);
	if (bgw_shared->launcher_pid != 0)
		latch = bgw_shared->launcher_latch;
	SpinLockRelease(&bgw_shared->mutex);
	if (latch)
		SetLatch(latch);
}

void
fsmml_bgw_wake_at_commit(void)
{
	wake_pending = true;
}

void
fsmml_bgw_job_locktag(LOCKTAG *tag, int64 job_id)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (FSMML_LOCK_CLASS + FSMML_LOCK_JOB),
						 (uint32) job_id, 2);
}
