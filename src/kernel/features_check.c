/*
 * features_check.c — the kernel's rules for a valid bar, and their messages.
 *
 * Pure C99, no PostgreSQL headers.  Order of the tests, first failure
 * reported: ORDER, SPACING, PRICE, RANGE, VOLUME.
 *
 * Bars need not sit on the epoch grid of their timeframe: desks stamp daily
 * bars at a local midnight (05:00 UTC for New York, 21:00/22:00 UTC for the
 * forex close), which moves by an hour with daylight saving, and hourly bars
 * on :15 or :30.  So a timestamp is judged only against the previous bar:
 * after it (else ORDER: duplicate or out of order) and at least half a step
 * later (else SPACING: two bars closer than that cannot both be bars of this
 * timeframe).  A step_us <= 0 makes every bar SPACING.
 */
#include "features_kernel.h"

#include <float.h>

/* Finite and > 0; NaN fails both comparisons. */
static int
price_ok(double x)
{
	return x > 0.0 && x <= DBL_MAX;
}

FsStatus
fs_check_bar(const FsBar *bar, int64_t prev_ts, int64_t step_us)
{
	if (bar->ts <= prev_ts)
		return FS_ERR_ORDER;
	if (step_us <= 0)
		return FS_ERR_SPACING;
	/* ts - prev_ts in unsigned arithmetic: exact because ts > prev_ts */
	if (prev_ts != INT64_MIN &&
		(uint64_t) bar->ts - (uint64_t) prev_ts < (uint64_t) (step_us - step_us / 2))
		return FS_ERR_SPACING;
	if (!(price_ok(bar->open) && price_ok(bar->high) &&
		  price_ok(bar->low) && price_ok(bar->close)))
		return FS_ERR_PRICE;
	if (!(bar->high >= bar->low &&
		  bar->open >= bar->low && bar->open <= bar->high &&
		  bar->close >= bar->low && bar->close <= bar->high))
		return FS_ERR_RANGE;
	/* -0.0 passes: it is a zero volume. */
	if (!(bar->volume >= 0.0 && bar->volume <= DBL_MAX))
		return FS_ERR_VOLUME;
	return FS_OK;
}

const char *
fs_status_message(FsStatus st)
{
	switch (st)
	{
		case FS_OK:
			return "ok";
		case FS_ERR_ORDER:
			return "bar timestamp is not after the previous bar (duplicate or out of order)";
		case FS_ERR_SPACING:
			return "bar timestamp is less than half a timeframe step after the previous bar";
		case FS_ERR_PRICE:
			return "bar price is NaN, infinite, zero or negative";
		case FS_ERR_RANGE:
			return "bar high is below low, or open/close is outside [low, high]";
		case FS_ERR_VOLUME:
			return "bar volume is NaN, infinite or negative";
	}
	return "unknown status";
}
