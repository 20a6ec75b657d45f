/*
 * live_listeners.c — whether any session listens on fsmml_signals, so live
 * scoring skips a NOTIFY nobody would receive.
 *
 * A transaction that NOTIFYs holds PostgreSQL's notify lock (one per
 * cluster) from before its commit record until it ends, so NOTIFYing
 * writers commit one at a time, WAL flush included: with no listener that
 * serialisation buys nothing.  Under shared_preload_libraries every
 * backend runs this ProcessUtility hook, which counts a backend in shared
 * memory the first time it runs LISTEN fsmml_signals (before the LISTEN
 * itself, and until the backend exits: a rolled-back LISTEN or an UNLISTEN
 * only over-counts, so a listener is never missed).  Loaded on demand, the
 * library cannot see every backend's LISTEN: live scoring always notifies.
 *
 * Locking: the counter is a pg_atomic_uint32; nothing else is shared.
 * A session that LISTENs while a bar is being scored may miss that one bar
 * (as with any LISTEN, read the table after it to catch up).
 */
#include "postgres.h"

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
listener_exit(int code, Datum arg)
{
	if (counted && lshared != NULL)
		pg_atomic_fetch_sub_u32(&lshared->listeners, 1);
	counted = false;
}

static void
listeners_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				  ProcessUtilityContext context, ParamListInfo params,
				  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;

	if (!counted && lshared != NULL && IsA(stmt, ListenStmt) &&
		strcmp(((ListenStmt *) stmt)->conditionname, FSMML_NOTIFY_CHANNEL) == 0)
	{
		before_shmem_exit(listener_exit, (Datum) 0);
		pg_atomic_fetch_add_u32(&lshared->listeners, 1);
		counted = true;
	}
	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
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
