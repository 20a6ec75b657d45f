/*
 * features_kernel.c — the streaming feature kernel (see features_kernel.h).
 *
 * Pure C99 + libm, no PostgreSQL headers.  One bar in, FS_NFEATURES doubles
 * out.  Everything the kernel remembers lives in struct FsState, a flat block
 * of plain data: fixed-size ring buffers instead of pointers, so a state can
 * be memcpy'd, stored as bytea and resumed, and continuing from the copy gives
 * bit-for-bit the same outputs as one uninterrupted pass (the computation is a
 * deterministic function of the state and the bar, nothing else).  The output
 * for bar t is computed from bars <= t only: there is no way to look ahead.
 *
 * Conventions (TA-Lib / R TTR), all bar-indexed: with gaps (missing bars) the
 * indicators simply run over the bars present, like TA-Lib on a column.
 *   EMA(n)    k = 2/(n+1); seed = SMA of the first n values (first value at
 *             index n-1); then ema = ((x - ema) * k) + ema, written as TA-Lib.
 *   RSI(n)    Wilder; diffs from the second bar; average gain/loss seeded
 *             with the mean of the first n diffs (first RSI at index n), then
 *             avg = (avg * (n-1) + x) / n; RSI = 100 * (gain / (gain + loss)).
 *   ATR(n)    TR = max(H-L, |H-C[-1]|, |L-C[-1]|) from the second bar; first
 *             ATR = mean of the first n TRs (index n), then Wilder smoothing.
 *   MACD      EMA12 - EMA26 (standalone SMA-seeded EMAs of close, first at
 *             25); signal = EMA9 of the macd series (first at 33).
 *   Bollinger middle = SMA20, sigma = population stdev, bands = middle ± 2σ.
 *
 * Decisions the specification left open:
 *   - RSI when average gain + average loss == 0 (a flat window) is 0, as
 *     TA-Lib; but the test is an exact == 0, not TA-Lib's |x| < 1e-8, which
 *     would give 0 for any coin whose price moves are below ~1e-8.
 *   - Every division by zero gives NaN (SQL NULL): result/compression/slope/
 *     speed when ATR14 == 0, vol_trend_10 when the older SMA10 is 0, effort
 *     when the SMA20 of volume is 0, feat_score when result + effort == 0.
 *     bb_width_20 is 0 (not NaN) for a flat window; only %b is undefined.
 *   - Rolling means and deviations (windows of 10 and 20 bars) are
 *     recomputed from the ring buffer every bar, never kept as running sums.
 *     They use one pass over values shifted by the oldest value of the
 *     window, x0: d = x - x0, S = Σd, Q = Σd², mean = x0 + S/n and
 *     ss = Σ(x - mean)² = Q - S²/n (co-moments alike).  Why this keeps the
 *     precision that a plain Σx² - (Σx)²/n loses on prices near 42000:
 *     x0 belongs to the window, so |d| <= R (the window's range) and
 *     Q <= n R², while ss >= R²/2 (the two extremes are each at least R/2
 *     from the mean).  Q / ss <= 2n = 40, so the subtraction loses at most
 *     about 5 bits: the rounding error of ss is below ~6 n² eps ss ≈ 3e-13 ss.
 *     It also gives the exact zero the "NaN if sd == 0" rules need: a flat
 *     window has every d == 0, so ss == 0 exactly, and any other window has
 *     ss > 0 (the error bound is far below ss).  One pass instead of the
 *     textbook two halves the work of the hottest loops.
 *   - Shared divisors are inverted once and multiplied (1/close, 1/ATR14,
 *     1/range, 1/n): at most 1 ulp from a true division.
 *   - pv_corr_10 is clamped to [-1, 1] against rounding.
 *   - Bar checks: features_check.c; the catalogue: features_catalog.c.
 *   - fs_step writes nothing to out when the bar is rejected.
 *   - Higher timeframes keep only high, low and close of the bar being built:
 *     no HTF feature uses its open or volume.
 *   - HTF buckets follow the series' own origin: the first bar's offset
 *     from the epoch grid of the base step (0 for a series on the grid, 15
 *     min for hourly bars on :15).  Bars off that grid (a daily stamp moved
 *     by daylight saving) fall into the bucket holding their open time.
 *   - Timestamps are handled in unsigned (modular) arithmetic where a sum or
 *     difference could overflow, so any int64 ts is well defined.
 *   - The state is native-endian raw memory: a state saved on a machine of
 *     the other byte order fails fs_state_valid (its magic reads swapped).
 */
#include "features_kernel.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define FS_MAGIC			UINT32_C(0x4B534D46)	/* "FMSK" little-endian */
/* 2: origin_us added (0.2.0); a version 1 blob is refused and rebuilt */
#define FS_LAYOUT_VERSION	2

/*
 * Ring buffers: one slot per bar, all sharing one head.  Each ring holds
 * 2 * FS_RING doubles and every value is written twice (at head and at
 * head + FS_RING), so the last w values are always contiguous and in
 * chronological order: ring[head + FS_RING - w + 1 .. head + FS_RING].
 * FS_RING must exceed the longest window (20) and the longest lag (15).
 */
#define FS_RING		32

/* ln 2; M_LN2 is POSIX, not C99 */
#define FS_LN2		0.69314718055994530942

enum
{
	R_CLOSE,					/* close */
	R_VOL,						/* volume */
	R_RET,						/* ret_1 */
	R_PARK,						/* ln(high/low)^2 */
	R_MOM,						/* mom_10 (for accel_10) */
	R_EMA20,					/* EMA20 (for slope) */
	R_VSMA10,					/* SMA10 of volume (for vol_trend_10) */
	FS_NRING
};

/* Output slots of the base features (the catalogue order). */
enum
{
	F_RET_1, F_RET_5, F_RET_15, F_LOGRET_1, F_VOL_RET_20,
	F_EMA_DIST_5, F_EMA_DIST_9, F_EMA_DIST_20, F_EMA_DIST_50,
	F_EMA_X_5_20, F_EMA_X_9_50, F_RSI_7, F_RSI_14,
	F_MACD, F_MACD_SIGNAL, F_MACD_HIST, F_ROC_10, F_MOM_10, F_ACCEL_10,
	F_ATR_7, F_ATR_14, F_PARKINSON_20, F_BB_PCTB_20, F_BB_WIDTH_20,
	F_RANGE_PCT, F_VOL_Z_20, F_VOL_RATIO_20, F_VOL_TREND_10, F_PV_CORR_10,
	F_BODY_RATIO, F_UPPER_SHADOW, F_LOWER_SHADOW,
	F_EFFORT, F_RESULT, F_COMPRESSION, F_SLOPE, F_SPEED, F_FEAT_SCORE,
	F_NBASE
};

/* C99 has no static assertion: a negative array size fails the build. */
typedef char fs_nbase_matches_header[(F_NBASE == FS_NBASE_FEATURES) ? 1 : -1];

/* Wilder RSI averages: a = average gain, b = average loss. */
typedef struct FsWilder
{
	double		a;
	double		b;
} FsWilder;

/* One higher timeframe. */
typedef struct FsHtf
{
	int64_t		len_us;			/* HTF bar length; 0 = not computed (<= base step) */
	uint64_t	start;			/* bucket start of the bar being built (mod 2^64) */
	int64_t		nbars;			/* HTF bars finalized */
	int32_t		building;		/* a bar is being built */
	int32_t		pad;
	double		high;			/* the bar being built */
	double		low;
	double		close;
	double		prev_close;		/* close of the last finalized HTF bar */
	FsWilder	rsi;			/* RSI14 avg gain / avg loss */
	double		atr;			/* ATR14 (TR sum during warm-up) */
	double		ema;			/* EMA20 (SMA accumulator during warm-up) */
	double		ema_hist[4];	/* EMA20 of the last 4 HTF bars, [3] newest */
	double		snap[FS_HTF_FEATS];	/* values every base bar outputs */
} FsHtf;

struct FsState
{
	uint32_t	magic;			/* FS_MAGIC */
	uint32_t	version;		/* FS_LAYOUT_VERSION */
	int64_t		step_us;		/* base timeframe */
	int64_t		last_ts;		/* INT64_MIN before the first bar */
	int64_t		nbars;			/* bars stepped */
	int64_t		ngaps;			/* bars that followed missing bars */
	int64_t		origin_us;		/* HTF bucket origin, [0, step_us); set by the first bar */
	int32_t		head;			/* ring slot of the newest bar */
	int32_t		pad;
	double		ema5;			/* EMAs of close (SMA accumulators in warm-up) */
	double		ema9;
	double		ema20;
	double		ema50;
	double		ema12;
	double		ema26;
	double		macd_sig;		/* EMA9 of macd */
	FsWilder	rsi7;
	FsWilder	rsi14;
	double		atr7;			/* ATRs (TR sums during warm-up) */
	double		atr14;
	double		ring[FS_NRING][2 * FS_RING];
	FsHtf		htf[FS_NHTF];
};

/* HTF lengths in minutes, in output order. */
static const int fs_htf_minutes[FS_NHTF] = {5, 15, 60, 240, 1440};

size_t
fs_state_size(void)
{
	return sizeof(FsState);
}

/* HTF bar length fs_state_init sets for timeframe j: 0 when not computed. */
static int64_t
htf_len_for(int j, int64_t step_us)
{
	int64_t		len = (int64_t) fs_htf_minutes[j] * FS_USEC_PER_MIN;

	/* Only timeframes strictly longer than the base are computed. */
	return (step_us > 0 && len > step_us) ? len : 0;
}

/*
 * Besides magic, version and length, checks the fields that index memory or
 * divide (ring head, step, HTF lengths), so that a damaged blob is refused
 * rather than read out of bounds.
 */
int
fs_state_valid(const FsState *st, size_t len)
{
	int			j;

	if (st == NULL || len != sizeof(FsState) ||
		st->magic != FS_MAGIC || st->version != FS_LAYOUT_VERSION ||
		st->step_us <= 0 || st->head < 0 || st->head >= FS_RING ||
		st->nbars < 0 || st->ngaps < 0 || st->ngaps > st->nbars ||
		st->origin_us < 0 || st->origin_us >= st->step_us)
		return 0;
	for (j = 0; j < FS_NHTF; j++)
		if (st->htf[j].len_us != htf_len_for(j, st->step_us) ||
			(st->htf[j].building != 0 && st->htf[j].building != 1) ||
			st->htf[j].nbars < 0)
			return 0;
	return 1;
}

void
fs_state_init(FsState *st, int64_t step_us)
{
	int			j;
	int			f;

	/* Zero everything, padding included, so equal histories give equal bytes. */
	memset(st, 0, sizeof(FsState));
	st->magic = FS_MAGIC;
	st->version = FS_LAYOUT_VERSION;
	st->step_us = step_us;
	st->last_ts = INT64_MIN;
	st->head = FS_RING - 1;		/* the first bar goes to slot 0 */
	for (j = 0; j < FS_NHTF; j++)
	{
		st->htf[j].len_us = htf_len_for(j, step_us);
		for (f = 0; f < FS_HTF_FEATS; f++)
			st->htf[j].snap[f] = NAN;
	}
}

int64_t
fs_state_last_ts(const FsState *st)
{
	return st->last_ts;
}

int64_t
fs_state_origin(const FsState *st)
{
	return st->origin_us;
}

int64_t
fs_bucket_origin(int64_t first_ts, int64_t step_us)
{
	int64_t		r = first_ts % step_us;

	return r < 0 ? r + step_us : r;
}

int64_t
fs_bucket_start(int64_t ts, int64_t len_us, int64_t origin)
{
	/* (ts - origin) mod len, non-negative, without overflowing ts - origin */
	int64_t		r = ts % len_us;
	int64_t		o = origin % len_us;

	if (r < 0)
		r += len_us;
	if (o < 0)
		o += len_us;
	r -= o;
	if (r < 0)
		r += len_us;
	return (int64_t) ((uint64_t) ts - (uint64_t) r);
}

int64_t
fs_state_nbars(const FsState *st)
{
	return st->nbars;
}

int64_t
fs_state_ngaps(const FsState *st)
{
	return st->ngaps;
}

FsStatus
fs_check(const FsState *st, const FsBar *bar)
{
	return fs_check_bar(bar, st->last_ts, st->step_us);
}

/*
 * EMA(period) push: cnt = values pushed before x.  During warm-up *ema
 * accumulates the sum of the first values; the value at cnt = period-1 is
 * their SMA; then TA-Lib's ((x - prev) * k) + prev.
 */
static inline double
ema_push(double *ema, int64_t cnt, int period, double k, double x)
{
	if (cnt >= period)
	{
		*ema = ((x - *ema) * k) + *ema;
		return *ema;
	}
	*ema += x;
	if (cnt < period - 1)
		return NAN;
	*ema /= period;
	return *ema;
}

/*
 * Wilder average push: cnt = values pushed before x.  Seed = mean of the
 * first `period` values (ready at cnt = period-1), then
 * avg = (avg * (period-1) + x) / period, in TA-Lib's order of operations.
 */
static inline int
wilder_push(double *avg, int64_t cnt, int period, double x)
{
	if (cnt >= period)
	{
		*avg = (*avg * (double) (period - 1) + x) / (double) period;
		return 1;
	}
	*avg += x;
	if (cnt < period - 1)
		return 0;
	*avg /= period;
	return 1;
}

/*
 * RSI push of one close-to-close diff: gain = max(d, 0), loss = max(-d, 0),
 * each Wilder-averaged; RSI = 100 * (gain / (gain + loss)), 0 when both are
 * 0 (TA-Lib's choice).
 */
static inline double
rsi_push(FsWilder *w, int64_t cnt, int period, double diff)
{
	double		g = diff > 0.0 ? diff : 0.0;
	double		l = diff < 0.0 ? -diff : 0.0;
	double		s;
	int			ready;

	ready = wilder_push(&w->a, cnt, period, g);
	wilder_push(&w->b, cnt, period, l);
	if (!ready)
		return NAN;
	s = w->a + w->b;
	return s == 0.0 ? 0.0 : 100.0 * (w->a / s);
}

/* True range against the previous close. */
static inline double
true_range(double h, double l, double pc)
{
	double		tr = h - l;
	double		a = fabs(h - pc);
	double		b = fabs(l - pc);

	if (a > tr)
		tr = a;
	if (b > tr)
		tr = b;
	return tr;
}

/*
 * A sum of squared deviations from the shifted one-pass formula; it is
 * provably > 0 for a window that is not flat (see the top of the file), the
 * clamp only guards against the impossible.
 */
static inline double
ss_clamp(double ss)
{
	return ss > 0.0 ? ss : 0.0;
}

/* Divide, NaN when the divisor is 0 (or either side is NaN). */
static inline double
div_or_nan(double a, double b)
{
	return b != 0.0 ? a / b : NAN;
}

/* Writes x to slot head of ring r (both copies). */
#define RING_PUT(st, r, x) \
	((st)->ring[r][(st)->head] = (st)->ring[r][(st)->head + FS_RING] = (x))
/* Pointer to the value `lag` bars ago (lag < FS_RING); window of w ends at lag 0. */
#define RING_AT(st, r, lag) (&(st)->ring[r][(st)->head + FS_RING - (lag)])
#define RING_WIN(st, r, w) RING_AT(st, r, (w) - 1)

/*
 * A finished HTF bar: update that timeframe's indicators (counted in HTF
 * bars) and its snapshot.  k = index of this HTF bar.
 */
static void
htf_finalize(FsHtf *h)
{
	int64_t		k = h->nbars;
	double		c = h->close;
	double		e;

	if (k >= 1)
	{
		double		pc = h->prev_close;
		double		rsi = rsi_push(&h->rsi, k - 1, 14, c - pc);

		h->snap[0] = rsi;
		h->snap[2] = c / pc - 1.0;
		if (wilder_push(&h->atr, k - 1, 14, true_range(h->high, h->low, pc)))
			h->snap[3] = h->atr / c;
	}
	e = ema_push(&h->ema, k, 20, 2.0 / 21.0, c);
	h->ema_hist[0] = h->ema_hist[1];
	h->ema_hist[1] = h->ema_hist[2];
	h->ema_hist[2] = h->ema_hist[3];
	h->ema_hist[3] = e;
	/* EMA20_t / EMA20_{t-3} - 1: first at HTF index 19 + 3 */
	if (k >= 22)
		h->snap[1] = e / h->ema_hist[0] - 1.0;
	h->prev_close = c;
	h->nbars = k + 1;
	h->building = 0;
}

/*
 * Adds one base bar to an active HTF.  An HTF bar is finalized (becomes
 * visible) at the first base bar whose close time ts + step reaches the
 * bucket end, or, when its last base bars are missing, just before the first
 * bar of a later bucket.  Buckets start at origin + k * len.
 */
static inline void
htf_add(FsHtf *h, const FsBar *bar, int64_t step, int64_t origin)
{
	uint64_t	len = (uint64_t) h->len_us;
	uint64_t	off = (uint64_t) bar->ts - h->start;	/* exact: ts >= start */

	if (!h->building || off >= len)
	{
		if (h->building)
			htf_finalize(h);
		h->start = (uint64_t) fs_bucket_start(bar->ts, h->len_us, origin);
		off = (uint64_t) bar->ts - h->start;
		h->building = 1;
		h->high = bar->high;
		h->low = bar->low;
	}
	else
	{
		if (bar->high > h->high)
			h->high = bar->high;
		if (bar->low < h->low)
			h->low = bar->low;
	}
	h->close = bar->close;
	/* ts + step >= start + len, without overflow (len > step) */
	if (off >= len - (uint64_t) step)
		htf_finalize(h);
}

FsStatus
fs_step(FsState *st, const FsBar *bar, double *out)
{
	FsStatus	status;
	double		scratch[FS_NFEATURES];
	double	   *f;				/* written in place: out, or scratch */
	int64_t		i;				/* index of this bar */
	double		c = bar->close;
	double		inv_c = 1.0 / c;	/* one division for every "/ close" */
	double		pc = 0.0;		/* previous close */
	double		rng;
	double		e5,
				e9,
				e20,
				e50,
				e12,
				e26;
	double		a7 = NAN,
				a14 = NAN;
	double		inv_a14;
	double		ret1 = NAN;
	double		mom = NAN;
	int			j;

	status = fs_check(st, bar);
	if (status != FS_OK)
		return status;

	f = out != NULL ? out : scratch;
	i = st->nbars;
	/* A gap: more than 1.5 steps since the last bar (unsigned: ts > last_ts) */
	if (i > 0 && (uint64_t) bar->ts - (uint64_t) st->last_ts >
		(uint64_t) st->step_us + (uint64_t) (st->step_us / 2))
		st->ngaps++;
	if (i == 0)
		st->origin_us = fs_bucket_origin(bar->ts, st->step_us);
	if (i > 0)
		pc = *RING_AT(st, R_CLOSE, 0);

	st->head = (st->head + 1) & (FS_RING - 1);
	RING_PUT(st, R_CLOSE, c);
	RING_PUT(st, R_VOL, bar->volume);
	{
		/* Parkinson term ln(H/L)^2 */
		double		lhl = log(bar->high / bar->low);

		RING_PUT(st, R_PARK, lhl * lhl);
	}

	/* returns: close / close[-k] - 1, ln(close / close[-1]) */
	if (i >= 1)
	{
		ret1 = c / pc - 1.0;
		f[F_RET_1] = ret1;
		f[F_LOGRET_1] = log(c / pc);
	}
	else
		f[F_RET_1] = f[F_LOGRET_1] = NAN;
	RING_PUT(st, R_RET, ret1);
	f[F_RET_5] = i >= 5 ? c / *RING_AT(st, R_CLOSE, 5) - 1.0 : NAN;
	f[F_RET_15] = i >= 15 ? c / *RING_AT(st, R_CLOSE, 15) - 1.0 : NAN;

	/* EMAs of close, k = 2 / (n + 1); NaN during warm-up propagates below */
	e5 = ema_push(&st->ema5, i, 5, 2.0 / 6.0, c);
	e9 = ema_push(&st->ema9, i, 9, 2.0 / 10.0, c);
	e20 = ema_push(&st->ema20, i, 20, 2.0 / 21.0, c);
	e50 = ema_push(&st->ema50, i, 50, 2.0 / 51.0, c);
	e12 = ema_push(&st->ema12, i, 12, 2.0 / 13.0, c);
	e26 = ema_push(&st->ema26, i, 26, 2.0 / 27.0, c);
	RING_PUT(st, R_EMA20, e20);
	f[F_EMA_DIST_5] = c / e5 - 1.0;
	f[F_EMA_DIST_9] = c / e9 - 1.0;
	f[F_EMA_DIST_20] = c / e20 - 1.0;
	f[F_EMA_DIST_50] = c / e50 - 1.0;
	f[F_EMA_X_5_20] = e5 / e20 - 1.0;
	f[F_EMA_X_9_50] = e9 / e50 - 1.0;

	/* RSI and ATR: diffs and true ranges from the second bar */
	if (i >= 1)
	{
		double		tr = true_range(bar->high, bar->low, pc);

		f[F_RSI_7] = rsi_push(&st->rsi7, i - 1, 7, c - pc);
		f[F_RSI_14] = rsi_push(&st->rsi14, i - 1, 14, c - pc);
		if (wilder_push(&st->atr7, i - 1, 7, tr))
			a7 = st->atr7;
		if (wilder_push(&st->atr14, i - 1, 14, tr))
			a14 = st->atr14;
	}
	else
		f[F_RSI_7] = f[F_RSI_14] = NAN;
	f[F_ATR_7] = a7 * inv_c;
	f[F_ATR_14] = a14 * inv_c;

	/* MACD(12, 26, 9): macd = EMA12 - EMA26 from index 25, signal = EMA9 of it */
	if (i >= 25)
	{
		double		macd = e12 - e26;
		double		sig = ema_push(&st->macd_sig, i - 25, 9, 2.0 / 10.0, macd);

		f[F_MACD] = macd * inv_c;
		f[F_MACD_SIGNAL] = sig * inv_c;
		f[F_MACD_HIST] = (macd - sig) * inv_c;
	}
	else
		f[F_MACD] = f[F_MACD_SIGNAL] = f[F_MACD_HIST] = NAN;

	/* roc_10 = close / close[-10] - 1; mom_10 = (close - close[-10]) / close */
	if (i >= 10)
	{
		double		c10 = *RING_AT(st, R_CLOSE, 10);

		f[F_ROC_10] = c / c10 - 1.0;
		mom = (c - c10) * inv_c;
	}
	else
		f[F_ROC_10] = NAN;
	f[F_MOM_10] = mom;
	RING_PUT(st, R_MOM, mom);
	/* accel_10 = mom_10 - mom_10[-10] */
	f[F_ACCEL_10] = i >= 20 ? mom - *RING_AT(st, R_MOM, 10) : NAN;

	/*
	 * 20-bar windows of ret_1, close, volume and ln(H/L)^2, in one shifted
	 * pass (see the top of the file).  ret_1 exists from index 1, so its
	 * window is complete only from index 20: at index 19 its sums include bar
	 * 0's NaN and are dropped.
	 */
	if (i >= 19)
	{
		const double *rx = RING_WIN(st, R_RET, 20);
		const double *cx = RING_WIN(st, R_CLOSE, 20);
		const double *vx = RING_WIN(st, R_VOL, 20);
		const double *px = RING_WIN(st, R_PARK, 20);
		double		r0 = rx[0],
					c0 = cx[0],
					v0 = vx[0];
		double		sr = 0.0,
					sc = 0.0,
					sv = 0.0,
					sp = px[0];
		double		qr = 0.0,
					qc = 0.0,
					qv = 0.0;
		double		mean,
					sd,
					dm,
					vsma,
					vsd;
		int			w;

#pragma GCC unroll 20
		for (w = 1; w < 20; w++)
		{
			double		dr = rx[w] - r0;
			double		dc = cx[w] - c0;
			double		dv = vx[w] - v0;

			sr += dr;
			sc += dc;
			sv += dv;
			qr += dr * dr;
			qc += dc * dc;
			qv += dv * dv;
			sp += px[w];
		}
		/* ss = Σd² - (Σd)²/n, as Σd² - Σd * mean(d) */
		qr = ss_clamp(qr - sr * (sr * (1.0 / 20.0)));
		qc = ss_clamp(qc - sc * (sc * (1.0 / 20.0)));
		qv = ss_clamp(qv - sv * (sv * (1.0 / 20.0)));

		/* vol_ret_20: sample sd (ddof = 1) of ret_1 */
		f[F_VOL_RET_20] = i >= 20 ? sqrt(qr * (1.0 / 19.0)) : NAN;

		/* parkinson_20 = sqrt(Σ ln(H/L)^2 / 20 / (4 ln 2)) */
		f[F_PARKINSON_20] = sqrt(sp * (1.0 / (20.0 * 4.0 * FS_LN2)));

		/*
		 * Bollinger(20, 2): middle = SMA20, bands = middle ± 2 population sd.
		 * %b = (close - lower) / (upper - lower) = (close - middle + 2 sd) /
		 * (4 sd), with close - middle = (close - x0) - Σd/20 taken from the
		 * shifted sums: building the bands near 42000 first and subtracting
		 * would throw away the digits of a narrow band.
		 */
		mean = c0 + sc * (1.0 / 20.0);
		sd = sqrt(qc * (1.0 / 20.0));
		dm = (c - c0) - sc * (1.0 / 20.0);
		f[F_BB_PCTB_20] = sd != 0.0 ? (dm + 2.0 * sd) / (4.0 * sd) : NAN;
		/* width = (upper - lower) / middle = 4 sd / middle */
		f[F_BB_WIDTH_20] = (4.0 * sd) / mean;

		/* volume: z = (v - SMA20) / sample sd; ratio = v / SMA20 */
		vsma = v0 + sv * (1.0 / 20.0);
		vsd = sqrt(qv * (1.0 / 19.0));
		f[F_VOL_Z_20] = vsd != 0.0 ? (bar->volume - vsma) / vsd : NAN;
		f[F_VOL_RATIO_20] = div_or_nan(bar->volume, vsma);
	}
	else
		f[F_VOL_RET_20] = f[F_PARKINSON_20] = f[F_BB_PCTB_20] =
			f[F_BB_WIDTH_20] = f[F_VOL_Z_20] = f[F_VOL_RATIO_20] = NAN;

	/* range_pct = (high - low) / close */
	rng = bar->high - bar->low;
	f[F_RANGE_PCT] = rng * inv_c;

	/* 10-bar windows of close and volume: SMA10(volume), correlation */
	if (i >= 9)
	{
		const double *cx = RING_WIN(st, R_CLOSE, 10);
		const double *vx = RING_WIN(st, R_VOL, 10);
		double		c0 = cx[0],
					v0 = vx[0];
		double		sc = 0.0,
					sv = 0.0,
					qcc = 0.0,
					qvv = 0.0,
					qcv = 0.0;
		double		vsma10;
		int			w;

#pragma GCC unroll 10
		for (w = 1; w < 10; w++)
		{
			double		dc = cx[w] - c0;
			double		dv = vx[w] - v0;

			sc += dc;
			sv += dv;
			qcc += dc * dc;
			qvv += dv * dv;
			qcv += dc * dv;
		}
		/* co-moments: Σdc², Σdv², Σdc·dv minus the mean corrections */
		qcc = ss_clamp(qcc - sc * (sc * (1.0 / 10.0)));
		qvv = ss_clamp(qvv - sv * (sv * (1.0 / 10.0)));
		qcv = qcv - sc * (sv * (1.0 / 10.0));
		/* pv_corr_10 = cov / sqrt(var_c var_v), clamped against rounding */
		if (qcc != 0.0 && qvv != 0.0)
		{
			double		r = qcv / sqrt(qcc * qvv);

			f[F_PV_CORR_10] = r > 1.0 ? 1.0 : (r < -1.0 ? -1.0 : r);
		}
		else
			f[F_PV_CORR_10] = NAN;
		vsma10 = v0 + sv * (1.0 / 10.0);
		RING_PUT(st, R_VSMA10, vsma10);
		/* vol_trend_10 = SMA10 / SMA10[-10] - 1, first at 9 + 10 */
		f[F_VOL_TREND_10] = i >= 19 ?
			div_or_nan(vsma10, *RING_AT(st, R_VSMA10, 10)) - 1.0 : NAN;
	}
	else
	{
		RING_PUT(st, R_VSMA10, NAN);
		f[F_VOL_TREND_10] = f[F_PV_CORR_10] = NAN;
	}

	/* candle shape, as fractions of the range; undefined for a zero range */
	if (rng > 0.0)
	{
		double		inv_rng = 1.0 / rng;
		double		hi_oc = bar->open > c ? bar->open : c;
		double		lo_oc = bar->open < c ? bar->open : c;

		f[F_BODY_RATIO] = (c - bar->open) * inv_rng;
		f[F_UPPER_SHADOW] = (bar->high - hi_oc) * inv_rng;
		f[F_LOWER_SHADOW] = (lo_oc - bar->low) * inv_rng;
	}
	else
		f[F_BODY_RATIO] = f[F_UPPER_SHADOW] = f[F_LOWER_SHADOW] = NAN;

	/*
	 * State: effort (volume / SMA20(volume)), result (|close - open| /
	 * ATR14) and the EMA geometry in ATR14 units.  1/ATR14 is NaN in warm-up
	 * and when ATR14 == 0, and the NaN propagates.
	 */
	inv_a14 = a14 != 0.0 ? 1.0 / a14 : NAN;
	f[F_EFFORT] = f[F_VOL_RATIO_20];
	f[F_RESULT] = fabs(c - bar->open) * inv_a14;
	if (i >= 19)
	{
		double		emax = e5,
					emin = e5;

		if (e9 > emax)
			emax = e9;
		if (e20 > emax)
			emax = e20;
		if (e9 < emin)
			emin = e9;
		if (e20 < emin)
			emin = e20;
		f[F_COMPRESSION] = (emax - emin) * inv_a14;
		f[F_SPEED] = fabs(e5 - e20) * inv_a14;
	}
	else
		f[F_COMPRESSION] = f[F_SPEED] = NAN;
	if (i >= 24)
	{
		double		slope = (e20 - *RING_AT(st, R_EMA20, 5)) * inv_a14;
		double		result = f[F_RESULT];
		double		re = result + f[F_EFFORT];

		f[F_SLOPE] = slope;
		/* tanh(slope): direction and strength; result / (result + effort): efficiency */
		f[F_FEAT_SCORE] = re != 0.0 ? 100.0 * tanh(slope) * result / re : NAN;
	}
	else
		f[F_SLOPE] = f[F_FEAT_SCORE] = NAN;

	/* higher timeframes: update, then output the visible snapshots */
	for (j = 0; j < FS_NHTF; j++)
	{
		FsHtf	   *h = &st->htf[j];
		double	   *o = f + FS_NBASE_FEATURES + j * FS_HTF_FEATS;

		if (h->len_us != 0)
			htf_add(h, bar, st->step_us, st->origin_us);
		o[0] = h->snap[0];
		o[1] = h->snap[1];
		o[2] = h->snap[2];
		o[3] = h->snap[3];
	}

	st->last_ts = bar->ts;
	st->nbars = i + 1;
	return FS_OK;
}

FsStatus
fs_run(FsState *st, const FsBar *bars, size_t n, double *out, size_t *nstepped)
{
	size_t		k;
	FsStatus	status = FS_OK;

	for (k = 0; k < n; k++)
	{
		status = fs_step(st, &bars[k], out != NULL ? out + k * FS_NFEATURES : NULL);
		if (status != FS_OK)
			break;
	}
	if (nstepped != NULL)
		*nstepped = k;
	return status;
}
