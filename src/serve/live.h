/*
 * live.h — live scoring: a bar inserted into trading.historicaldata scored
 * in the inserting transaction (README, "Live scoring").
 *
 *   live_trigger.c  the triggers, fsmml_enable/disable_scoring, the GUCs,
 *                   one subtransaction per series, fsmml.scoring_errors
 *   live_state.c    the kernel state of each series: per-backend cache,
 *                   fsmml.feature_state, trading.features rows
 *   model_cache.c   champions of each series and a version-keyed LRU of
 *                   loaded models, invalidated after commit of any change
 *                   to trading.agentversions
 *   live_score.c    champions over a few feature rows, their writes, NOTIFY
 */
#ifndef FSMML_LIVE_H
#define FSMML_LIVE_H

#include "postgres.h"

#include "agent.h"
#include "features_kernel.h"
#include "datatype/timestamp.h"

/* GUCs (live_trigger.c) */
extern bool fsmml_score_on_insert;
extern int	fsmml_live_window;		/* minutes; 0 = no limit */
extern int	fsmml_model_max_age;	/* seconds; 0 = never stale */
extern int	fsmml_model_cache_size;	/* loaded versions per backend */

/* ---- live_listeners.c */

#define FSMML_NOTIFY_CHANNEL "fsmml_signals"
extern void fsmml_live_listeners_init(void);
/* False only when preloaded and no backend ever ran LISTEN fsmml_signals. */
extern bool fsmml_live_anyone_listening(void);

/* ---- live_state.c */

/* Bars between two writes of a live series' state to fsmml.feature_state. */
extern int	fsmml_live_state_interval;
extern void fsmml_live_state_init(void);

/*
 * The series' kernel state after its newest feature row (*last_ts), or NULL
 * when the series has no saved state or it cannot be advanced there (the
 * caller rebuilds).  The caller holds the series-build lock.  prev: the
 * features of its last bar (NaN when unknown), for the state machine's
 * transition into the first new bar.
 */
typedef struct LiveSeries LiveSeries;
extern LiveSeries *fsmml_live_series_lock(const char *symbol, const char *timeframe,
										  int64 *last_ts);
extern const double *fsmml_live_series_prev(LiveSeries *s);
/*
 * Steps bars (after last_ts) into out (n x FS_NFEATURES), upserts
 * trading.features (unless the caller writes the rows: !write), saves the
 * state every fsmml.live_state_interval bars.
 */
extern void fsmml_live_series_advance(LiveSeries *s, const char *symbol, const char *timeframe,
									  const FsBar *bars, int n, double *out, bool write);
/*
 * The upsert of one trading.features row: $1 symbol, $2 timeframe, $3
 * timestamp, $4.. the kernel features (live_score.c takes it up to its
 * ON CONFLICT for a new bar).  fsmml_live_feature_args: those features as
 * SPI arguments (NaN as NULL).
 */
extern const char *fsmml_live_feature_row_sql(void);
extern void fsmml_live_feature_args(const double *f, Datum *values, char *nulls);
/* Kernel features of one bar from trading.features (false when no row). */
extern bool fsmml_live_read_features(const char *symbol, const char *timeframe, int64 ts,
									 double *out);

/* ---- model_cache.c */

typedef struct LiveChampion
{
	FsAgentModel *m;			/* owned by the model cache */
	const char *agent;			/* the version's agent (DirectionXGB, DirectionH5, ...) */
	int			slot;			/* index in fsmml_agents */
	bool		direction;		/* an XGBoost direction champion */
	bool		stale;			/* older than fsmml.model_max_age */
	bool	   *warmed;			/* predicted once: column maps cached in the model */
	MemoryContext cxt;			/* the model's own */
} LiveChampion;

/*
 * Agents cache their column map in the model at the first predict, in the
 * current context: that first call runs in the model's context.
 */
extern void fsmml_live_predict(LiveChampion *c, const FsAgentBatch *b, int64 n);

typedef struct LiveChampions
{
	int			n;
	LiveChampion *c;			/* id order */
} LiveChampions;

/* The series' champions, loaded; locked FOR KEY SHARE when lock.  ERROR on a bad model. */
extern LiveChampions *fsmml_live_champions(const char *symbol, const char *timeframe, bool lock);
extern void fsmml_model_cache_init(void);
/* Trigger function on trading.agentversions: invalidates every backend's cache at commit. */
extern Datum fsmml_versions_changed(PG_FUNCTION_ARGS);

/* ---- live_checks.c */

/* The next statement's CHECK constraints from the backend's planned copies. */
extern void fsmml_live_checks_arm(void);
extern void fsmml_live_checks_disarm(void);
extern void fsmml_live_checks_init(void);

/* ---- live_score.c */

/*
 * How fsmml_live_score_rows writes: not at all (fsmml_predict), as upserts
 * that change nothing already there, or, for one bar new to every table
 * (its features row not yet written), as plain INSERTs of its features and
 * scores: no speculative insertion, no conflict arbitration.  A row that
 * exists after all raises unique_violation; the caller re-scores the bar
 * with LIVE_WRITE_UPSERT.
 */
typedef enum LiveWriteMode
{
	LIVE_WRITE_NONE,
	LIVE_WRITE_UPSERT,
	LIVE_WRITE_NEW
} LiveWriteMode;

/*
 * Scores bars[1..n] of a series whose features are feats (row-major,
 * FS_NFEATURES); row 0 is the bar before (its state gives the first
 * transition; it is not written).  Writes agentpreds, agentsignals,
 * state_history, transitions; notifies fsmml_signals per signal (notify).
 * Returns the number of signals written.
 */
extern int	fsmml_live_score_rows(const char *symbol, const char *timeframe,
								  LiveChampions *champs, const FsBar *bars,
								  const double *feats, int n, LiveWriteMode write, bool notify,
								  FsAgentRow **rows_out);
/* The signal payload of a scored row, as the ensemble champion k writes it. */
extern Jsonb *fsmml_live_signal_payload(LiveChampions *ch, int k, const FsAgentRow *r);
/* Notifies the stored signals of bars ts[0..n) (after a batch re-score). */
extern void fsmml_live_notify_stored(const char *symbol, const char *timeframe,
									 const int64 *ts, int n);

/* ---- live_predict.c */

/*
 * fsmml_predict from the series' kernel state when the latest bar is
 * featured: false when it cannot (no state, features behind, at not the
 * latest bar), and the caller computes from the bars instead.
 */
extern bool fsmml_live_predict_latest(const char *agent, const char *kind, const char *symbol,
									  const char *timeframe, bool has_at, TimestampTz at,
									  Datum *result);

#endif							/* FSMML_LIVE_H */
