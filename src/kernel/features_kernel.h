/*
 * features_kernel.h — the streaming feature kernel.
 *
 * Pure C, no PostgreSQL headers: one bar in, one row of features out, so the
 * same code serves batch builds, incremental builds (the state is saved as a
 * flat blob and resumed), on-the-fly queries and per-bar scoring, and can be
 * tested outside the server.  NaN in an output slot means SQL NULL (warm-up or
 * undefined, e.g. a zero range); never a half-initialised number.
 */
#ifndef FSMML_FEATURES_KERNEL_H
#define FSMML_FEATURES_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/* Higher timeframes snapshotted into every base row. */
#define FS_NHTF 5
/* Features per higher timeframe: rsi_14, ema20_slope, ret_1, atr_14. */
#define FS_HTF_FEATS 4
#define FS_NBASE_FEATURES 38
#define FS_NFEATURES (FS_NBASE_FEATURES + FS_NHTF * FS_HTF_FEATS)

/* Longest look-back of any base feature, in bars (EMA50 / MACD signal). */
#define FS_MAX_LOOKBACK 50

#define FS_USEC_PER_MIN INT64_C(60000000)

typedef struct FsBar
{
	int64_t		ts;				/* bar open time, microseconds since the Unix epoch (UTC) */
	double		open;
	double		high;
	double		low;
	double		close;
	double		volume;
} FsBar;

typedef struct FsFeatureInfo
{
	const char *name;			/* column name in trading.features */
	const char *group;			/* returns, trend, oscillator, volatility, volume, candle, state, mtf */
	const char *definition;		/* one line, for fsmml.feature_catalog */
	int			lookback;		/* index of the first value on a gap-free series (MTF: of 1m bars) */
} FsFeatureInfo;

extern const FsFeatureInfo fs_feature_catalog[FS_NFEATURES];

/* Result of validating / stepping one bar. */
typedef enum FsStatus
{
	FS_OK = 0,
	FS_ERR_ORDER,				/* timestamp not after the previous bar (duplicate or out of order) */
	FS_ERR_SPACING,				/* less than half a step after the previous bar */
	FS_ERR_PRICE,				/* an open/high/low/close that is NaN, infinite, zero or negative */
	FS_ERR_RANGE,				/* high < low, or open/close outside [low, high] */
	FS_ERR_VOLUME				/* volume NaN, infinite or negative */
} FsStatus;

extern const char *fs_status_message(FsStatus st);

/*
 * The whole state of the kernel: plain data, no pointers, so it can be copied
 * with memcpy and stored as bytea.  Its layout is private to
 * features_kernel.c; callers allocate fs_state_size() bytes.
 */
typedef struct FsState FsState;

extern size_t fs_state_size(void);

/* Magic + layout version written into the state, checked by fs_state_valid. */
extern int	fs_state_valid(const FsState *st, size_t len);

/* step_us: the base timeframe in microseconds (1m, 5m, 15m, 1h, 4h or 1d). */
extern void fs_state_init(FsState *st, int64_t step_us);

/* Timestamp of the last bar stepped, or INT64_MIN when none. */
extern int64_t fs_state_last_ts(const FsState *st);

/*
 * Bars stepped so far, and how many of them followed a gap: a bar more than
 * 1.5 steps after the previous one (a daily bar moved by an hour with
 * daylight saving is not a gap).
 */
extern int64_t fs_state_nbars(const FsState *st);
extern int64_t fs_state_ngaps(const FsState *st);

/*
 * Checks one bar on its own: prev_ts is the previous bar's timestamp
 * (INT64_MIN for none), step_us the timeframe.  Timestamps need not be on
 * the epoch grid: only a bar not after the previous one (ORDER) or less than
 * half a step after it (SPACING) is refused (features_check.c).  fs_check is
 * this against the state's last bar.
 */
extern FsStatus fs_check_bar(const FsBar *bar, int64_t prev_ts, int64_t step_us);

/* Checks a bar against the state without changing it. */
extern FsStatus fs_check(const FsState *st, const FsBar *bar);

/*
 * Steps one bar: checks it (returning the error and leaving the state
 * untouched when it is bad), then updates the state and writes
 * FS_NFEATURES values to out (may be NULL to only advance the state).
 */
extern FsStatus fs_step(FsState *st, const FsBar *bar, double *out);

/*
 * Steps n bars, out row-major (n x FS_NFEATURES), stopping at the first bad
 * bar; *nstepped tells how many were consumed.
 */
extern FsStatus fs_run(FsState *st, const FsBar *bars, size_t n, double *out,
					   size_t *nstepped);

/*
 * Origin of the higher-timeframe buckets: the first bar's offset from the
 * epoch grid of the base step, in [0, step_us) (0 before the first bar).
 * HTF buckets are [origin + k * len, origin + (k + 1) * len), like date_bin
 * with that origin; fsmml_resample uses the same rule.
 */
extern int64_t fs_state_origin(const FsState *st);
extern int64_t fs_bucket_origin(int64_t first_ts, int64_t step_us);

/* Start of the bucket of length len_us (> 0) holding ts, for that origin. */
extern int64_t fs_bucket_start(int64_t ts, int64_t len_us, int64_t origin);

/* Index of a feature by name, or -1. */
extern int	fs_feature_index(const char *name);

#endif							/* FSMML_FEATURES_KERNEL_H */
