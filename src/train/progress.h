/*
 * progress.h — live progress of running trainings.
 *
 * The trainer reports what it is doing through these calls; with fsmml in
 * shared_preload_libraries other sessions see it in fsmml.training_progress
 * (which raises an ERROR otherwise), and in every case the training session gets one NOTICE per finished fold.
 *
 * Call order in the backend running a training:
 *
 *   fsmml_progress_begin(instance, folds, total_rounds);
 *   fsmml_progress_phase("loading", 0);
 *   for each fold k = 1..folds:
 *       fsmml_progress_phase("fold", k);
 *       each boosting round r = 1..: fsmml_progress_round(r, "auc", auc);
 *       fsmml_progress_fold_done(k, "auc", auc);
 *   fsmml_progress_phase("final", 0); ... fsmml_progress_phase("storing", 0);
 *   fsmml_progress_end();
 *
 * begin() ties the report to CurrentMemoryContext: when that context is
 * reset or deleted (ERROR, cancel, or normal cleanup) the report is dropped,
 * so the trainer should call it inside its per-operation context.  A backend
 * that exits drops its report too.  None of these calls ever raises an
 * ERROR, so they are safe anywhere in the trainer, and round() is cheap
 * enough for every boosting round (no lock, no syscall).
 */
#ifndef FSMML_PROGRESS_H
#define FSMML_PROGRESS_H

/* Called from _PG_init; does nothing unless shared_preload_libraries is loading us. */
extern void fsmml_progress_init(void);

/*
 * Starts reporting a training: instance names it (e.g.
 * 'DirectionXGB@BTCUSDT-1m'), folds and total_rounds size the ETA (total
 * work is taken as folds * total_rounds boosting rounds; total_rounds when
 * folds is 0).  A report still open in this backend is ended first.
 */
extern void fsmml_progress_begin(const char *instance, int folds, int total_rounds);

/*
 * Enters a phase ('loading', 'fold', 'final', 'evaluating', 'storing', ...);
 * fold is 1-based for per-fold phases and 0 otherwise.  The round counter
 * restarts at 0.
 */
extern void fsmml_progress_phase(const char *phase, int fold);

/* A boosting round finished; metric is its latest validation value (metric_name may be NULL). */
extern void fsmml_progress_round(int round, const char *metric_name, double metric);

/*
 * A fold finished: records its metric and emits, at most once per fold,
 *   NOTICE:  DirectionXGB@BTCUSDT-1m: fold 2/5 done, auc 0.5312, 3.1 s
 */
extern void fsmml_progress_fold_done(int fold, const char *metric_name, double metric);

/* The training finished; its row leaves the view. */
extern void fsmml_progress_end(void);

#endif							/* FSMML_PROGRESS_H */
