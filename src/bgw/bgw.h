/*
 * bgw.h — fsmml's scheduler: a launcher background worker that starts one
 * dynamic background worker per due job (fsmml.jobs), and what the SQL
 * functions, the launcher and the job workers share.
 *
 * Shared state is one small struct in shared memory (scheduler.c): the
 * launcher's latch and pid and the database it serves, under a spinlock.
 * Backends that change schedules or queue jobs set that latch at commit
 * (a transaction callback), so the launcher never polls.
 *
 * A job worker holds a session-level advisory lock on its job for its whole
 * life (key1 = FSMML_LOCK_CLASS + 4, key2 = the job id's low 32 bits); the
 * launcher tells a lost job (worker gone after a crash, a restart or a
 * terminate) from a running one by trying that lock.
 */
#ifndef FSMML_BGW_H
#define FSMML_BGW_H

#include "postgres.h"
#include "utils/jsonb.h"

#define FSMML_LOCK_JOB 4

/* GUCs (scheduler.c) */
extern char *fsmml_bgw_database;
extern int	fsmml_bgw_max_workers;
extern int	fsmml_bgw_job_retention;	/* seconds */
extern int	fsmml_bgw_max_attempts;
extern int	fsmml_bgw_retry_delay;	/* seconds, doubled per attempt */
extern int	fsmml_drift_window;		/* bars */

extern void fsmml_bgw_init(void);

/* True under shared_preload_libraries (the scheduler's shared memory exists). */
extern bool fsmml_bgw_available(void);

/* Launcher registration and wake-up (scheduler.c). */
extern void fsmml_bgw_set_launcher(bool running);
extern int	fsmml_bgw_launcher_pid(void);
extern void fsmml_bgw_wake_at_commit(void);
extern void fsmml_bgw_wake_launcher(void);

/* The job's advisory lock tag; session-level in the worker, tried by the launcher. */
struct LOCKTAG;
extern void fsmml_bgw_job_locktag(struct LOCKTAG *tag, int64 job_id);

/* A worker's own short transaction with SPI and a snapshot (bgw_xact.c). */
extern void fsmml_bgw_begin_xact(void);
extern void fsmml_bgw_commit_xact(void);

/* Entry points of the background workers (launcher.c, worker.c). */
extern PGDLLEXPORT void fsmml_launcher_main(Datum arg);
extern PGDLLEXPORT void fsmml_job_worker_main(Datum arg);

/* Retry of a lost job with back-off, or none after fsmml.job_max_attempts (launcher.c). */
extern void fsmml_bgw_fail_lost_job(int64 job_id, const char *reason);

/* Training hook: PSI reference (bin edges, shares) of a new version's training rows (drift_ref.c). */
struct FsmmlDataset;
extern void fsmml_drift_store_reference(const char *symbol, int64 version_id,
										const struct FsmmlDataset *ds, int64 dev_end);

/* A retrain continuing from the champion's trees (warm_start.c); returns the new version. */
extern int64 fsmml_bgw_warm_start(const char *agent, const char *symbol, const char *timeframe,
								  Jsonb *params, char **status, MemoryContext cxt);

#endif							/* FSMML_BGW_H */
