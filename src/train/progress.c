/*
 * progress.c — live progress of running trainings (fsmml.training_progress).
 *
 * With fsmml in shared_preload_libraries, shared memory holds one slot per
 * backend (MaxBackends slots, indexed by MyBackendId as pgstat does for
 * pg_stat_activity).  One slot per backend is exactly enough, because a
 * backend runs one training at a time: no slot is ever claimed by two
 * processes, so claiming needs no lock and cannot fail for want of slots,
 * and the cost is a few hundred bytes per backend.
 *
 * Only the owning backend writes its slot.  It does so inside a critical
 * section bracketed by a change counter (pgstat's st_changecount protocol):
 * the counter is odd while a write is in progress, and readers copy the slot
 * until they see the same even value before and after the copy.  Writers
 * never wait, so reporting every boosting round costs a few stores.
 *
 * Without preloading there is no shared memory: the view raises an ERROR
 * with a hint (pg_stat_statements does the same), and the NOTICE per
 * finished fold, which is emitted in both cases, is the only report.
 *
 * A slot is released by fsmml_progress_end(), by a reset callback on the
 * memory context current at fsmml_progress_begin() (ERROR, cancel), and by an
 * on_shmem_exit callback (backend exit).
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "fsmml.h"
#include "progress.h"

#define PROGRESS_INSTANCE_LEN	128
#define PROGRESS_NAME_LEN		32
#define PROGRESS_COLS			12

typedef struct ProgressSlot
{
	/* odd while the owner writes; see progress_read_slot() */
	int			changecount;
	int			pid;			/* 0 = slot free */
	char		instance[PROGRESS_INSTANCE_LEN];
	char		phase[PROGRESS_NAME_LEN];
	char		metric_name[PROGRESS_NAME_LEN];	/* "" = no metric yet */
	double		metric;
	int			fold;			/* 0 = phase not tied to a fold */
	int			folds;
	int			round;			/* within the current phase */
	int			total_rounds;
	int64		rounds_done;	/* across the whole training */
	int64		total_work;		/* rounds expected across the whole training */
	TimestampTz started_at;
	TimestampTz work_started_at;	/* start of the first phase with rounds; 0 = none yet */
} ProgressSlot;

typedef struct ProgressShared
{
	int			nslots;
	ProgressSlot slots[FLEXIBLE_ARRAY_MEMBER];
} ProgressShared;

/* This backend's training, kept locally so NOTICE-only mode needs no shared memory. */
typedef struct ProgressLocal
{
	bool		active;
	uint64		generation;		/* tells a stale reset callback from the current one */
	volatile ProgressSlot *slot;	/* NULL: NOTICE only */
	char		instance[PROGRESS_INSTANCE_LEN];
	char		phase[PROGRESS_NAME_LEN];
	char		metric_name[PROGRESS_NAME_LEN];
	int			folds;
	int			total_rounds;
	int			fold;
	int			round;
	int			last_fold_noticed;
	int64		rounds_base;	/* rounds of the phases already left */
	int64		total_work;
	TimestampTz started_at;
	TimestampTz phase_started_at;
	TimestampTz fold_started_at;
	TimestampTz work_started_at;
} ProgressLocal;

typedef struct ProgressResetCallback
{
	MemoryContextCallback cb;
	uint64		generation;
} ProgressResetCallback;

static ProgressShared *progress_shared = NULL;
static ProgressLocal progress;
static bool progress_exit_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PG_FUNCTION_INFO_V1(fsmml_training_progress);
PG_FUNCTION_INFO_V1(fsmml_progress_simulate);

static Size
progress_shmem_size(void)
{
	return add_size(offsetof(ProgressShared, slots),
					mul_size(MaxBackends, sizeof(ProgressSlot)));
}

static void
progress_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(progress_shmem_size());
}

static void
progress_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	progress_shared = ShmemInitStruct("fsmml training progress",
									  progress_shmem_size(), &found);
	if (!found)
	{
		memset(progress_shared, 0, progress_shmem_size());
		progress_shared->nslots = MaxBackends;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
fsmml_progress_init(void)
{
	/* Loaded on demand: no shared memory, the NOTICEs are the report. */
	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = progress_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = progress_shmem_startup;
}

/*
 * A write must not be interrupted by an ERROR: a counter left odd would make
 * readers spin forever.  The critical section turns any such slip into a
 * PANIC, which reinitializes shared memory.
 */
static inline void
slot_begin_write(volatile ProgressSlot *s)
{
	START_CRIT_SECTION();
	s->changecount++;
	pg_write_barrier();
}

static inline void
slot_end_write(volatile ProgressSlot *s)
{
	pg_write_barrier();
	s->changecount++;
	Assert((s->changecount & 1) == 0);
	END_CRIT_SECTION();
}

/* Copies src into dst[size] without splitting a multibyte character. */
static void
clip_copy(char *dst, const char *src, int size)
{
	int			len;

	if (src == NULL)
		src = "";
	len = strlen(src);
	if (len >= size)
		len = pg_mbcliplen(src, len, size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Writes every field of the local state into this backend's slot. */
static void
progress_publish(void)
{
	volatile ProgressSlot *s = progress.slot;

	if (s == NULL)
		return;
	slot_begin_write(s);
	s->pid = MyProcPid;
	memcpy((char *) s->instance, progress.instance, PROGRESS_INSTANCE_LEN);
	memcpy((char *) s->phase, progress.phase, PROGRESS_NAME_LEN);
	memcpy((char *) s->metric_name, progress.metric_name, PROGRESS_NAME_LEN);
	s->fold = progress.fold;
	s->folds = progress.folds;
	s->round = progress.round;
	s->total_rounds = progress.total_rounds;
	s->rounds_done = progress.rounds_base + progress.round;
	s->total_work = progress.total_work;
	s->started_at = progress.started_at;
	s->work_started_at = progress.work_started_at;
	slot_end_write(s);
}

/* Ends the local report and frees the slot; safe in abort and exit paths. */
static void
progress_release(void)
{
	volatile ProgressSlot *s = progress.slot;

	progress.active = false;
	progress.slot = NULL;
	if (s == NULL)
		return;
	slot_begin_write(s);
	s->pid = 0;
	slot_end_write(s);
}

static void
progress_reset_callback(void *arg)
{
	ProgressResetCallback *rc = (ProgressResetCallback *) arg;

	/* A context of an earlier, already ended training must not end this one. */
	if (progress.active && rc->generation == progress.generation)
		progress_release();
}

static void
progress_shmem_exit(int code, Datum arg)
{
	if (progress.active)
		progress_release();
}

void
fsmml_progress_begin(const char *instance, int folds, int total_rounds)
{
	ProgressResetCallback *rc;
	TimestampTz now = GetCurrentTimestamp();

	if (progress.active)
		progress_release();

	progress.generation++;
	progress.slot = NULL;
	clip_copy(progress.instance, instance, PROGRESS_INSTANCE_LEN);
	strlcpy(progress.phase, "starting", PROGRESS_NAME_LEN);
	progress.metric_name[0] = '\0';
	progress.folds = Max(folds, 0);
	progress.total_rounds = Max(total_rounds, 0);
	progress.fold = 0;
	progress.round = 0;
	progress.last_fold_noticed = 0;
	progress.rounds_base = 0;
	/* Without CV folds the final model is the whole work. */
	progress.total_work = (int64) Max(progress.folds, 1) * progress.total_rounds;
	progress.started_at = now;
	progress.phase_started_at = now;
	progress.fold_started_at = now;
	progress.work_started_at = 0;
	progress.active = true;

	/*
	 * The reset callback ends the report when the trainer's context goes
	 * away, which an ERROR or a cancel always does.  Without it a slot could
	 * outlive a failed training, so if even this allocation fails we stay
	 * NOTICE-only rather than raise an error from a progress report.
	 */
	rc = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(*rc),
									MCXT_ALLOC_NO_OOM);
	if (rc == NULL)
		return;
	rc->generation = progress.generation;
	rc->cb.func = progress_reset_callback;
	rc->cb.arg = rc;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &rc->cb);

	if (progress_shared == NULL ||
		MyBackendId < 1 || MyBackendId > progress_shared->nslots)
		return;

	if (!progress_exit_registered)
	{
		on_shmem_exit(progress_shmem_exit, (Datum) 0);
		progress_exit_registered = true;
	}
	progress.slot = &progress_shared->slots[MyBackendId - 1];
	progress_publish();
}

void
fsmml_progress_phase(const char *phase, int fold)
{
	TimestampTz now;

	if (!progress.active)
		return;
	now = GetCurrentTimestamp();
	progress.rounds_base += progress.round;
	progress.round = 0;
	if (fold > 0 && fold != progress.fold)
		progress.fold_started_at = now;
	progress.fold = Max(fold, 0);
	progress.phase_started_at = now;
	clip_copy(progress.phase, phase, PROGRESS_NAME_LEN);
	progress_publish();
}

/* Keeps the local copy of metric_name, clipping only when it changes. */
static inline void
progress_set_metric_name(const char *metric_name)
{
	if (strncmp(progress.metric_name, metric_name, PROGRESS_NAME_LEN) != 0)
		clip_copy(progress.metric_name, metric_name, PROGRESS_NAME_LEN);
}

void
fsmml_progress_round(int round, const char *metric_name, double metric)
{
	volatile ProgressSlot *s;

	if (!progress.active)
		return;
	progress.round = Max(round, 0);
	/* The rate counts from the start of the first phase that runs rounds, not from loading. */
	if (progress.work_started_at == 0)
		progress.work_started_at = progress.phase_started_at;
	if (metric_name != NULL)
		progress_set_metric_name(metric_name);

	s = progress.slot;
	if (s == NULL)
		return;
	slot_begin_write(s);
	s->round = progress.round;
	s->rounds_done = progress.rounds_base + progress.round;
	s->work_started_at = progress.work_started_at;
	if (metric_name != NULL)
	{
		memcpy((char *) s->metric_name, progress.metric_name, PROGRESS_NAME_LEN);
		s->metric = metric;
	}
	slot_end_write(s);
}

void
fsmml_progress_fold_done(int fold, const char *metric_name, double metric)
{
	TimestampTz now;
	TimestampTz since;
	double		secs;
	volatile ProgressSlot *s;

	if (!progress.active)
		return;
	now = GetCurrentTimestamp();

	s = progress.slot;
	if (s != NULL && metric_name != NULL)
	{
		progress_set_metric_name(metric_name);
		slot_begin_write(s);
		memcpy((char *) s->metric_name, progress.metric_name, PROGRESS_NAME_LEN);
		s->metric = metric;
		slot_end_write(s);
	}

	/* Folds finish in order, so this gives at most one NOTICE per fold. */
	if (fold <= progress.last_fold_noticed)
		return;
	progress.last_fold_noticed = fold;

	since = (fold == progress.fold) ? progress.fold_started_at : progress.started_at;
	secs = (double) (now - since) / USECS_PER_SEC;
	if (metric_name != NULL && metric_name[0] != '\0')
		ereport(NOTICE,
				(errmsg("%s: fold %d/%d done, %s %.4f, %.1f s",
						progress.instance, fold, progress.folds,
						metric_name, metric, secs)));
	else
		ereport(NOTICE,
				(errmsg("%s: fold %d/%d done, %.1f s",
						progress.instance, fold, progress.folds, secs)));
}

void
fsmml_progress_end(void)
{
	if (progress.active)
		progress_release();
}

/*
 * Copies a slot consistently: retry until the change counter is even and
 * unchanged across the copy.  Returns false for a free slot.
 */
static bool
progress_read_slot(volatile ProgressSlot *s, ProgressSlot *copy)
{
	for (;;)
	{
		int			before;
		int			after;

		before = s->changecount;
		pg_read_barrier();
		memcpy(copy, unvolatize(ProgressSlot *, s), sizeof(ProgressSlot));
		pg_read_barrier();
		after = s->changecount;
		if (before == after && (before & 1) == 0)
			break;
		/* the owner is mid-write; it never waits, so this is short */
		CHECK_FOR_INTERRUPTS();
	}
	copy->instance[PROGRESS_INSTANCE_LEN - 1] = '\0';
	copy->phase[PROGRESS_NAME_LEN - 1] = '\0';
	copy->metric_name[PROGRESS_NAME_LEN - 1] = '\0';
	return copy->pid != 0;
}

static Datum
usec_interval(int64 usec)
{
	Interval   *iv = (Interval *) palloc0(sizeof(Interval));

	iv->time = usec;
	return IntervalPGetDatum(iv);
}

/*
 * fsmml_training_progress() — one row per running training.
 * fsmml.training_progress wraps it.  Without shared memory (fsmml not in
 * shared_preload_libraries) it raises an ERROR, as pg_stat_statements does:
 * an empty answer would read as "nothing is training".
 */
Datum
fsmml_training_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz now;
	int			i;

	if (progress_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("fsmml.training_progress needs fsmml in shared_preload_libraries"),
				 errdetail("Trainings report to shared memory, which fsmml allocates only when preloaded; each training still reports its folds as NOTICEs."),
				 errhint("Add fsmml to shared_preload_libraries in postgresql.conf and restart the server.")));
	InitMaterializedSRF(fcinfo, 0);

	now = GetCurrentTimestamp();
	for (i = 0; i < progress_shared->nslots; i++)
	{
		ProgressSlot c;
		Datum		values[PROGRESS_COLS];
		bool		nulls[PROGRESS_COLS];

		if (!progress_read_slot(&progress_shared->slots[i], &c))
			continue;

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int32GetDatum(c.pid);
		values[1] = CStringGetTextDatum(c.instance);
		values[2] = CStringGetTextDatum(c.phase);
		values[3] = Int32GetDatum(c.fold);
		nulls[3] = (c.fold <= 0);
		values[4] = Int32GetDatum(c.folds);
		values[5] = Int32GetDatum(c.round);
		values[6] = Int32GetDatum(c.total_rounds);
		values[7] = TimestampTzGetDatum(c.started_at);
		values[8] = usec_interval(Max(now - c.started_at, 0));

		/* ETA from the rate of rounds so far; unknown before the first round or past the estimate. */
		if (c.work_started_at != 0 && now > c.work_started_at &&
			c.rounds_done > 0 && c.rounds_done < c.total_work)
		{
			double		per_round = (double) (now - c.work_started_at) / c.rounds_done;
			int64		eta = (int64) (per_round * (c.total_work - c.rounds_done));

			values[9] = usec_interval(eta - eta % 1000);	/* ms: it is an estimate */
		}
		else
			nulls[9] = true;

		if (c.metric_name[0] != '\0')
		{
			values[10] = CStringGetTextDatum(c.metric_name);
			values[11] = Float8GetDatum(c.metric);
		}
		else
			nulls[10] = nulls[11] = true;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * fsmml_progress_simulate(instance, folds, rounds, round_ms) — diagnostic:
 * walks the progress API through a fake training (loading, then per fold
 * round_ms per round, then storing) so fsmml.training_progress and the fold
 * NOTICEs can be checked without training a model.  It only sleeps; the
 * sleep wakes on cancel.
 */
Datum
fsmml_progress_simulate(PG_FUNCTION_ARGS)
{
	char	   *instance = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			folds = PG_GETARG_INT32(1);
	int			rounds = PG_GETARG_INT32(2);
	int			round_ms = PG_GETARG_INT32(3);
	MemoryContext cxt;
	MemoryContext oldcxt;
	int			fold;

	if (folds < 1 || folds > 100)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("folds must be between 1 and 100")));
	if (rounds < 1 || rounds > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rounds must be between 1 and 100000")));
	if (round_ms < 0 || round_ms > 60000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("round_ms must be between 0 and 60000")));

	/* Like the trainer: a per-operation context, whose loss on ERROR ends the report. */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml progress simulate",
								ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);

	fsmml_progress_begin(instance, folds, rounds);
	fsmml_progress_phase("loading", 0);
	for (fold = 1; fold <= folds; fold++)
	{
		double		auc = 0.5;
		int			r;

		fsmml_progress_phase("fold", fold);
		for (r = 1; r <= rounds; r++)
		{
			if (round_ms > 0)
			{
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 round_ms, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
			}
			CHECK_FOR_INTERRUPTS();
			auc = 0.5 + 0.05 * (1.0 - exp(-4.0 * r / rounds)) + 0.002 * fold;
			fsmml_progress_round(r, "auc", auc);
		}
		fsmml_progress_fold_done(fold, "auc", auc);
	}
	fsmml_progress_phase("storing", 0);
	fsmml_progress_end();

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
	PG_RETURN_VOID();
}
