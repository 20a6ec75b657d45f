/*
 * locks.h — fsmml's advisory locks: which concurrent calls wait for which.
 *
 * Every lock is a transaction-level advisory lock in the two-int4 form, the
 * one pg_advisory_xact_lock(int4, int4) takes, so other applications can
 * see and avoid them:
 *
 *   key1 (pg_locks.classid) = FSMML_LOCK_CLASS + kind
 *   key2 (pg_locks.objid)   = hashtext(name)              (pg_locks.objsubid = 2)
 *
 *   kind                  name                        held by
 *   1 series build        'BTCUSDT-1m'                fsmml_build_features
 *   2 instance registry   'DirectionXGB@BTCUSDT-1m'   registering a trained or imported
 *                                                     version, fsmml_promote, fsmml_deploy
 *   3 version predictions '42' (agent version id)     fsmml_score, per champion
 *   4 (a job: a session lock held by its worker, key2 = the job id; bgw.h)
 *   5 series signals      'BTCUSDT-1m'                fsmml_score: the series' rows of
 *                                                     agentsignals, state_history, transitions
 *   6 calibration         'ExecRules@BTCUSDT-1m tpe'  fsmml_optimize activating a calibration
 *                         (agent@series method)
 *   7 partition           'agentpreds_y2024m01'       fsmml_create_pred_partitions (SQL, its
 *                                                     own pg_advisory_xact_lock call)
 *
 * FSMML_LOCK_CLASS is 0x46534D00 ("FSM\0", 1179864320); key1 values
 * 1179864320 .. 1179864335 are reserved for fsmml.  Waits are ordinary lock
 * waits: cancellable, subject to lock_timeout, seen by the deadlock detector
 * and shown as wait_event 'advisory' in pg_stat_activity.
 */
#ifndef FSMML_LOCKS_H
#define FSMML_LOCKS_H

#define FSMML_LOCK_CLASS 0x46534D00

typedef enum FsmmlLockKind
{
	FSMML_LOCK_SERIES_BUILD = 1,
	FSMML_LOCK_INSTANCE = 2,
	FSMML_LOCK_VERSION_PREDS = 3,
	FSMML_LOCK_SERIES_SIGNALS = 5,	/* 4: a job (session lock, bgw.h) */
	FSMML_LOCK_CALIBRATION = 6
} FsmmlLockKind;

/*
 * One fsmml_build_features of a series at a time.  After the lock is granted
 * the caller's later reads (read-only SPI included) see what was committed
 * before, up to the end of the caller's SPI connection; in REPEATABLE READ
 * or SERIALIZABLE a wait on a concurrent build is a serialization failure.
 * Caller is SPI-connected, CurrentMemoryContext its SPI procedure context.
 */
extern void fsmml_lock_series_build(const char *symbol, const char *timeframe);

/* Version numbering and promotion of one instance; same visibility rule. */
extern void fsmml_lock_instance(const char *agent, const char *symbol, const char *timeframe);

/* Writers of one version's rows in trading.agentpreds (fsmml_score). */
extern void fsmml_lock_version_preds(int64 version_id);

/*
 * Activating a calibration of one agent, series and method (deactivate the
 * active one, activate the new): the later of two waits, then its UPDATEs
 * (not read-only SPI: fresh snapshots) see the earlier's active row.  In
 * REPEATABLE READ or SERIALIZABLE a wait is a serialization failure.
 */
extern void fsmml_lock_calibration(const char *agent, const char *symbol, const char *timeframe,
								   const char *method);
/* Writers of a series' agentsignals, state_history and transitions rows (fsmml_score). */
extern void fsmml_lock_series_signals(const char *symbol, const char *timeframe);

#endif							/* FSMML_LOCKS_H */
