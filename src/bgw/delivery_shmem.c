/*
 * delivery_shmem.c — the delivery worker's GUCs, its registration under
 * shared_preload_libraries, its shared memory and the wake-up at commit.
 *
 * Locking protocol: DeliveryShared (the worker's pid and latch) is written by
 * the worker at start and exit and read by backends, both under its spinlock.
 * The outbox trigger calls fsmml_delivery_wake(), which asks for a wake-up at
 * commit; an XACT_EVENT_COMMIT callback then sets the worker's latch, after
 * the rows are visible.  A rolled-back signal wakes nobody and sends nothing.
 * A latch of a worker that has just exited is harmless to set.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"

#include "delivery.h"

PG_FUNCTION_INFO_V1(fsmml_delivery_wake);

typedef struct DeliveryShared
{
	slock_t		mutex;
	int			pid;
	Latch	   *latch;
} DeliveryShared;

int			fsmml_endpoint_disable_after = 24 * 3600;
int			fsmml_delivery_max_attempts = 10;
int			fsmml_delivery_retry_delay = 1000;
int			fsmml_delivery_retention = 7 * 24 * 3600;
int			fsmml_delivery_max_in_flight = 256;

static DeliveryShared *dshared = NULL;
static bool wake_pending = false;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* ---------------------------------------------------------------- shared memory, wake-up */

static void
delivery_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(DeliveryShared)));
}

static void
delivery_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	dshared = ShmemInitStruct("fsmml delivery", sizeof(DeliveryShared), &found);
	if (!found)
	{
		memset(dshared, 0, sizeof(DeliveryShared));
		SpinLockInit(&dshared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
delivery_xact_callback(XactEvent event, void *arg)
{
	Latch	   *latch = NULL;

	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		if (wake_pending && dshared)
		{
			SpinLockAcquire(&dshared->mutex);
			if (dshared->pid != 0)
				latch = dshared->latch;
			SpinLockRelease(&dshared->mutex);
			if (latch)
				SetLatch(latch);
		}
		wake_pending = false;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
			 event == XACT_EVENT_PREPARE)
		wake_pending = false;
}

/* Called by the outbox trigger: the worker's latch is set when this transaction commits. */
Datum
fsmml_delivery_wake(PG_FUNCTION_ARGS)
{
	wake_pending = true;
	PG_RETURN_VOID();
}

static void
delivery_shmem_exit(int code, Datum arg)
{
	SpinLockAcquire(&dshared->mutex);
	dshared->pid = 0;
	dshared->latch = NULL;
	SpinLockRelease(&dshared->mutex);
}

void
fsmml_delivery_init(void)
{
	BackgroundWorker worker;

	fsmml_endpoints_guc_init();
	DefineCustomIntVariable("fsmml.endpoint_disable_after",
							"An endpoint failing for longer than this is disabled.",
							NULL, &fsmml_endpoint_disable_after, 24 * 3600, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("fsmml.delivery_max_attempts",
							"Attempts to deliver one outbox row before it is marked failed.",
							NULL, &fsmml_delivery_max_attempts, 10, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("fsmml.delivery_retry_delay",
							"Back-off before the first retry of a delivery; doubled per attempt, jittered.",
							NULL, &fsmml_delivery_retry_delay, 1000, 1, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("fsmml.delivery_retention",
							"How long delivered outbox rows are kept.",
							NULL, &fsmml_delivery_retention, 7 * 24 * 3600, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("fsmml.delivery_max_in_flight",
							"HTTP requests the delivery worker has in flight at once.",
							NULL, &fsmml_delivery_max_in_flight, 256, 1, 4096,
							PGC_SIGHUP, 0, NULL, NULL, NULL);

	RegisterXactCallback(delivery_xact_callback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = delivery_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = delivery_shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "fsmml");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "fsmml_delivery_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "fsmml delivery");
	snprintf(worker.bgw_type, BGW_MAXLEN, "fsmml delivery");
	RegisterBackgroundWorker(&worker);
}

/* The worker, at start: its latch is the one backends set. */
void
fsmml_delivery_attach(void)
{
	if (dshared == NULL)
		elog(FATAL, "fsmml delivery: shared memory missing (fsmml must be in shared_preload_libraries)");
	SpinLockAcquire(&dshared->mutex);
	dshared->pid = MyProcPid;
	dshared->latch = MyLatch;
	SpinLockRelease(&dshared->mutex);
	on_shmem_exit(delivery_shmem_exit, (Datum) 0);
}
