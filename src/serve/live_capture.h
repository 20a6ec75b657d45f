/*
 * live_capture.h — the rows live scoring will score, collected per
 * statement by the row triggers on trading.historicaldata, and the
 * per-backend set of live series (live_capture.c).
 */
#ifndef FSMML_LIVE_CAPTURE_H
#define FSMML_LIVE_CAPTURE_H

#include "postgres.h"

#include "executor/tuptable.h"
#include "features_kernel.h"

typedef struct InBar
{
	char	   *symbol;
	char	   *timeframe;
	FsBar		bar;
	bool		changed;		/* UPDATE: differs from the old row (or has none) */
} InBar;

/* What a captured row is: an inserted row, or an updated row's old or new version. */
typedef enum LiveRowKind
{
	LIVE_ROW_INSERTED,
	LIVE_ROW_OLD,
	LIVE_ROW_NEW
} LiveRowKind;

extern void fsmml_live_capture_init(void);

/*
 * A bar of a slot of trading.historicaldata (or a partition of it); false
 * when a key column is NULL (not a bar of any series).  Strings in the
 * current memory context.
 */
extern bool fsmml_live_bar_from_slot(TupleTableSlot *slot, InBar *out);

/*
 * The rows of one kind the row triggers captured for the statement whose
 * AFTER STATEMENT trigger is firing, copied into the current memory
 * context and removed from the list.
 */
extern InBar *fsmml_live_capture_take(LiveRowKind kind, int *n);
/* Whether any captured row waits for its statement trigger (a cheap test first). */
extern bool fsmml_live_capture_pending(void);

/* Whether the series is in fsmml.live_series (per-backend cache, committed state). */
extern bool fsmml_live_series_on(const char *symbol, int symlen, const char *timeframe, int tflen);

#endif							/* FSMML_LIVE_CAPTURE_H */
