/*
 * features_catalog.c — the kernel's feature catalogue (names, groups,
 * definitions, look-backs) and name lookup.
 *
 * Pure C99, no PostgreSQL headers.  The order of fs_feature_catalog is the
 * order of the kernel's output slots and of trading.features' columns; the
 * look-back of a row is the bar index of the feature's first value on a
 * gap-free series (multi-timeframe rows in bars of a 1m base starting at a
 * bucket boundary), checked by test/kernel/reference.py and sql/catalog.sql.
 */
#include "features_kernel.h"

#include <string.h>

/*
 * Lookback of an MTF feature, in bars of a 1m base: the index of its first
 * value on a gap-free 1m series starting at a bucket boundary.  The value
 * needs HTF bar L finished, i.e. L + 1 HTF bars of m minutes, and becomes
 * visible at the last 1m bar of HTF bar L: index (L + 1) * m - 1.  (0.1.0
 * said L * m, one HTF bar short.)
 */
#define LB_MTF(L, m) (((L) + 1) * (m) - 1)

const FsFeatureInfo fs_feature_catalog[FS_NFEATURES] = {
	{"ret_1", "returns", "close / close[-1] - 1", 1},
	{"ret_5", "returns", "close / close[-5] - 1", 5},
	{"ret_15", "returns", "close / close[-15] - 1", 15},
	{"logret_1", "returns", "ln(close / close[-1])", 1},
	{"vol_ret_20", "volatility", "sample stdev (ddof=1) of the last 20 ret_1 values", 20},
	{"ema_dist_5", "trend", "close / EMA5(close) - 1", 4},
	{"ema_dist_9", "trend", "close / EMA9(close) - 1", 8},
	{"ema_dist_20", "trend", "close / EMA20(close) - 1", 19},
	{"ema_dist_50", "trend", "close / EMA50(close) - 1", 49},
	{"ema_x_5_20", "trend", "EMA5 / EMA20 - 1", 19},
	{"ema_x_9_50", "trend", "EMA9 / EMA50 - 1", 49},
	{"rsi_7", "oscillator", "Wilder RSI(7) of close, 0..100 (0 when flat)", 7},
	{"rsi_14", "oscillator", "Wilder RSI(14) of close, 0..100 (0 when flat)", 14},
	{"macd", "oscillator", "MACD line (EMA12 - EMA26) / close", 25},
	{"macd_signal", "oscillator", "EMA9 of the MACD line (EMA12 - EMA26), divided by close", 33},
	{"macd_hist", "oscillator", "(MACD line - signal) / close", 33},
	{"roc_10", "returns", "close / close[-10] - 1", 10},
	{"mom_10", "returns", "(close - close[-10]) / close", 10},
	{"accel_10", "returns", "mom_10 - mom_10[-10]", 20},
	{"atr_7", "volatility", "Wilder ATR(7) / close", 7},
	{"atr_14", "volatility", "Wilder ATR(14) / close", 14},
	{"parkinson_20", "volatility", "sqrt(mean over 20 bars of ln(high/low)^2 / (4 ln 2))", 19},
	{"bb_pctb_20", "volatility", "(close - lower) / (upper - lower), Bollinger(20, 2 population sd); NULL if sd = 0", 19},
	{"bb_width_20", "volatility", "(upper - lower) / middle, Bollinger(20, 2 population sd)", 19},
	{"range_pct", "volatility", "(high - low) / close", 0},
	{"vol_z_20", "volume", "(volume - SMA20(volume)) / sample sd of volume over 20; NULL if sd = 0", 19},
	{"vol_ratio_20", "volume", "volume / SMA20(volume); NULL if the SMA is 0", 19},
	{"vol_trend_10", "volume", "SMA10(volume) / SMA10(volume)[-10] - 1: slope of the volume MA; NULL if the older SMA is 0", 19},
	{"pv_corr_10", "volume", "Pearson correlation of close and volume over 10 bars; NULL if a variance is 0", 9},
	{"body_ratio", "candle", "(close - open) / (high - low); NULL if high = low", 0},
	{"upper_shadow", "candle", "(high - max(open, close)) / (high - low); NULL if high = low", 0},
	{"lower_shadow", "candle", "(min(open, close) - low) / (high - low); NULL if high = low", 0},
	{"effort", "state", "volume / SMA20(volume) (volume spent); NULL if the SMA is 0", 19},
	{"result", "state", "|close - open| / ATR14 (price moved); NULL if ATR14 = 0", 14},
	{"compression", "state", "(max - min of EMA5, EMA9, EMA20) / ATR14; NULL if ATR14 = 0", 19},
	{"slope", "state", "(EMA20 - EMA20[-5]) / ATR14; NULL if ATR14 = 0", 24},
	{"speed", "state", "|EMA5 - EMA20| / ATR14; NULL if ATR14 = 0", 19},
	{"feat_score", "state", "100 * tanh(slope) * result / (result + effort): trend direction and strength weighted by price moved per volume spent, -100..100", 24},
#define MTF_ROWS(tag, len, m) \
	{tag "_rsi_14", "mtf", "Wilder RSI14 of " len " closes, last finished " len " bar; lookback in bars of 1m", LB_MTF(14, m)}, \
	{tag "_ema20_slope", "mtf", "EMA20 / EMA20[-3] - 1 over " len " closes, last finished " len " bar; lookback in bars of 1m", LB_MTF(22, m)}, \
	{tag "_ret_1", "mtf", len " close / previous " len " close - 1, last finished " len " bar; lookback in bars of 1m", LB_MTF(1, m)}, \
	{tag "_atr_14", "mtf", "Wilder ATR14 of " len " bars / " len " close, last finished " len " bar; lookback in bars of 1m", LB_MTF(14, m)}
	MTF_ROWS("m5", "5m", 5),
	MTF_ROWS("m15", "15m", 15),
	MTF_ROWS("h1", "1h", 60),
	MTF_ROWS("h4", "4h", 240),
	MTF_ROWS("d1", "1d", 1440),
#undef MTF_ROWS
};

int
fs_feature_index(const char *name)
{
	int			k;

	if (name == NULL)
		return -1;
	for (k = 0; k < FS_NFEATURES; k++)
		if (strcmp(fs_feature_catalog[k].name, name) == 0)
			return k;
	return -1;
}
