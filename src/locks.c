/*
 * locks.c — fsmml's advisory locks (keys and kinds in locks.h, README
 * "Concurrency").
 *
 * Locks go straight to the lock manager in the two-int4 advisory form
 * (field4 = 2, as pg_advisory_xact_lock(int4, int4) sets it), held to the
 * end of the transaction.  A conflict is first tried without waiting, so we
 * know whether another transaction held the lock: then, in READ COMMITTED,
 * what it committed is seen through a fresh snapshot pushed for the rest of
 * the caller's SPI connection (read-only SPI queries use the active
 * snapshot, which the statement took before the wait); in REPEATABLE READ
 * or SERIALIZABLE the transaction snapshot cannot see it, so the caller
 * fails at once with a serialization failure instead of acting on stale
 * rows.  The pushed snapshot is popped by a reset callback of the memory
 * context current at the lock (the SPI procedure context, deleted by
 * SPI_finish); on an ERROR the transaction's snapshot cleanup pops it first
 * and the callback finds it gone.
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "fsmml.h"
#include "locks.h"

static const char *const kind_names[] = {
	[FSMML_LOCK_SERIES_BUILD] = "feature build of series",
	[FSMML_LOCK_INSTANCE] = "registry of instance",
	[FSMML_LOCK_VERSION_PREDS] = "predictions of agent version",
	[FSMML_LOCK_SERIES_SIGNALS] = "signals of series",
	[FSMML_LOCK_CALIBRATION] = "calibration of",
};

StaticAssertDecl(lengthof(kind_names) == FSMML_LOCK_CALIBRATION + 1,
				 "a name for every lock kind");

typedef enum Acquired
{
	ACQUIRED_FREE,				/* nobody held it */
	ACQUIRED_AFTER_WAIT,		/* another transaction held it */
	ACQUIRED_ALREADY			/* this transaction holds it already */
} Acquired;

typedef struct FreshSnapshot
{
	MemoryContextCallback cb;
	Snapshot	snap;
} FreshSnapshot;

static Acquired
acquire(FsmmlLockKind kind, const char *name)
{
	LOCKTAG		tag;
	uint32		key2 = hash_bytes((const unsigned char *) name, strlen(name));
	LockAcquireResult r;

	/* as pg_advisory_xact_lock: workers of a parallel query share no locks */
	if (IsInParallelMode())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("cannot lock the %s %s during a parallel operation",
						kind_names[kind], name)));
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (FSMML_LOCK_CLASS + kind), key2, 2);
	r = LockAcquire(&tag, ExclusiveLock, false, true);
	if (r == LOCKACQUIRE_ALREADY_HELD || r == LOCKACQUIRE_ALREADY_CLEAR)
		return ACQUIRED_ALREADY;
	if (r != LOCKACQUIRE_NOT_AVAIL)
		return ACQUIRED_FREE;
	ereport(DEBUG1,
			(errmsg("waiting for the %s %s", kind_names[kind], name)));
	/* sleeps in ProcSleep: a cancel or lock_timeout ends the wait with an ERROR */
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	return ACQUIRED_AFTER_WAIT;
}

static void
pop_fresh_snapshot(void *arg)
{
	FreshSnapshot *f = arg;

	if (ActiveSnapshotSet() && GetActiveSnapshot() == f->snap)
		PopActiveSnapshot();
}

/* After a wait, a transaction snapshot cannot see what the other committed. */
static void
fail_if_stale(FsmmlLockKind kind, const char *name, Acquired how)
{
	if (how == ACQUIRED_AFTER_WAIT && IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access to the %s %s", kind_names[kind], name),
				 errdetail("Another transaction held it; this transaction's snapshot cannot see what it did."),
				 errhint("Retry the transaction, or run it in READ COMMITTED.")));
}

/* Makes the caller's further reads see what was committed before the lock. */
static void
see_committed(FsmmlLockKind kind, const char *name, Acquired how)
{
	FreshSnapshot *f;

	if (how == ACQUIRED_ALREADY)
		return;
	if (IsolationUsesXactSnapshot())
	{
		fail_if_stale(kind, name, how);
		return;
	}
	f = MemoryContextAllocZero(CurrentMemoryContext, sizeof(FreshSnapshot));
	PushActiveSnapshot(GetTransactionSnapshot());
	f->snap = GetActiveSnapshot();
	f->cb.func = pop_fresh_snapshot;
	f->cb.arg = f;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &f->cb);
}

void
fsmml_lock_series_build(const char *symbol, const char *timeframe)
{
	char	   *name = psprintf("%s-%s", symbol, timeframe);

	see_committed(FSMML_LOCK_SERIES_BUILD, name, acquire(FSMML_LOCK_SERIES_BUILD, name));
}

void
fsmml_lock_instance(const char *agent, const char *symbol, const char *timeframe)
{
	char	   *name = psprintf("%s@%s-%s", agent, symbol, timeframe);

	see_committed(FSMML_LOCK_INSTANCE, name, acquire(FSMML_LOCK_INSTANCE, name));
}

void
fsmml_lock_version_preds(int64 version_id)
{
	char	   *name = psprintf(INT64_FORMAT, version_id);

	/* the merge reads with fresh snapshots already: no snapshot here */
	(void) acquire(FSMML_LOCK_VERSION_PREDS, name);
}

/*
 * fsmml.lock_version_predictions(version_id): agentversions_keep_predicted
 * takes it before it looks for a version's predictions, so a DELETE waits
 * for the transactions still writing them (which hold it) and then sees
 * their rows; in REPEATABLE READ it could not, and fails instead.
 */
PG_FUNCTION_INFO_V1(fsmml_lock_version_predictions);

Datum
fsmml_lock_version_predictions(PG_FUNCTION_ARGS)
{
	char	   *name = psprintf(INT64_FORMAT, PG_GETARG_INT64(0));

	fail_if_stale(FSMML_LOCK_VERSION_PREDS, name, acquire(FSMML_LOCK_VERSION_PREDS, name));
	PG_RETURN_VOID();
}

void
fsmml_lock_calibration(const char *agent, const char *symbol, const char *timeframe,
					   const char *method)
{
	char	   *name = psprintf("%s@%s-%s %s", agent, symbol, timeframe, method);

	/* the UPDATEs that follow take their own snapshots: nothing to push */
	fail_if_stale(FSMML_LOCK_CALIBRATION, name, acquire(FSMML_LOCK_CALIBRATION, name));
}

void
fsmml_lock_series_signals(const char *symbol, const char *timeframe)
{
	char	   *name = psprintf("%s-%s", symbol, timeframe);

	/* the merge reads with fresh snapshots already: no snapshot here */
	(void) acquire(FSMML_LOCK_SERIES_SIGNALS, name);
}
