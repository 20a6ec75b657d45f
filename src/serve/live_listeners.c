/*
 * live_listeners.c — whether any session listens on fsmml_signals, so live
 * scoring skips a NOTIFY nobody would receive.
 *
 * A transaction that NOTIFYs holds PostgreSQL's notify lock (one per
 * cluster) from before its commit record until it ends, so NOTIFYing
 * writers commit one at a time, WAL flush included: with no listener that
 * serialisation buys nothing.  Under shared_preload_libraries every
 * backend runs this ProcessUtility hook, which counts a backend in shared
 * memory when it runs LISTEN fsmml_signals (before the LISTEN itself, so a
 * listener is never missed) and uncounts it when an UNLISTEN of the
 * channel, UNLISTEN * or DISCARD ALL commits, or the backend exits.  What
 * can only over-count stays counted: a LISTEN rolled back, an UNLISTEN in
 * a subtransaction that was rolled back (the LISTEN may still stand).
 * Loaded on demand, the library cannot see every backend's LISTEN: live
 * scoring always notifies and fsmml_signal_listeners() says so.
 *
 * Locking: the counter is a pg_atomic_uint32; nothing else is shared.
 * A session that LISTENs while a bar is being scored may miss that one bar
 * (as with any LISTEN, read the table after it to catch up).
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/lwlock.h"
#include "tcop/utility.h"

#include "live.h"

typedef struct ListenShared
{
	pg_atomic_uint32 listeners;	/* backends that ran LISTEN fsmml_signals */
} ListenShared;

static ListenShared *lshared = NULL;
static bool counted = false;	/* this backend is in lshared->listeners */
static bool unlisten_pending = false;	/* this transaction unlistens the channel */

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_utility_hook = NULL;

static void
listeners_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(ListenShared));
}

static void
listeners_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	lshared = ShmemInitStruct("fsmml live listeners", sizeof(ListenShared), &found);
	if (!found)
		pg_atomic_init_u32(&lshared->listeners, 0);
	LWLockRelease(AddinShmemInitLock);
}

static void
uncount(void)
{
	if (counted && lshared != NULL)
		pg_atomic_fetch_sub_u32(&lshared->listeners, 1);
	counted = false;
}

static void
listener_exit(int code, Datum arg)
{
	uncount();
}

/* An UNLISTEN takes effect at commit, as PostgreSQL's own does. */
static void
listeners_xact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && unlisten_pending)
		uncount();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		unlisten_pending = false;
}

/* An UNLISTEN rolled back with its subtransaction: keep counting (never under-count). */
static void
listeners_subxact(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
				  void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		unlisten_pending = false;
}

static bool
unlistens_channel(Node *stmt)
{
	if (IsA(stmt, UnlistenStmt))
	{
		const char *name = ((UnlistenStmt *) stmt)->conditionname;

		return name == NULL || strcmp(name, FSMML_NOTIFY_CHANNEL) == 0;
	}
	return IsA(stmt, DiscardStmt) && ((DiscardStmt *) stmt)->target == DISCARD_ALL;
}

static void
listeners_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				  ProcessUtilityContext context, ParamListInfo params,
				  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	static bool exit_registered = false;
	Node	   *stmt = pstmt->utilityStmt;
	bool		unlisten = false;

	if (lshared != NULL && IsA(stmt, ListenStmt) &&
		strcmp(((ListenStmt *) stmt)->conditionname, FSMML_NOTIFY_CHANNEL) == 0)
	{
		if (!exit_registered)
		{
			before_shmem_exit(listener_exit, (Datum) 0);
			RegisterXactCallback(listeners_xact, NULL);
			RegisterSubXactCallback(listeners_subxact, NULL);
			exit_registered = true;
		}
		if (!counted)
			pg_atomic_fetch_add_u32(&lshared->listeners, 1);
		counted = true;
		unlisten_pending = false;	/* LISTEN after UNLISTEN in one transaction: listening */
	}
	else
		unlisten = counted && unlistens_channel(stmt);
	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	if (unlisten)
		unlisten_pending = true;	/* only once the statement succeeded */
}

void
fsmml_live_listeners_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = listeners_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = listeners_shmem_startup;
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = listeners_utility;
}

bool
fsmml_live_anyone_listening(void)
{
	return lshared == NULL || pg_atomic_read_u32(&lshared->listeners) > 0;
}

PG_FUNCTION_INFO_V1(fsmml_signal_listeners);

/*
 * fsmml_signal_listeners() -> integer: backends counted as listening on
 * fsmml_signals (an upper bound: see the header).  Without the library
 * preloaded there is no count: ERROR, as pg_stat_statements does.
 */
Datum
fsmml_signal_listeners(PG_FUNCTION_ARGS)
{
	if (lshared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("fsmml_signal_listeners needs fsmml in shared_preload_libraries"),
				 errdetail("Listeners are counted in shared memory, which fsmml allocates only when preloaded; without it live scoring notifies whether or not anyone listens."),
				 errhint("Add fsmml to shared_preload_libraries in postgresql.conf and restart the server.")));
	PG_RETURN_INT32((int32) pg_atomic_read_u32(&lshared->listeners));
}
