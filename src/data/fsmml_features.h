/*
 * fsmml_features.h — (not features.h: that name is glibc's) the feature SQL API's shared pieces (used by training and scoring).
 */
#ifndef FSMML_FEATURES_API_H
#define FSMML_FEATURES_API_H

#include "postgres.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"

#include "bars.h"
#include "features_kernel.h"

extern FsState *fsmml_state_new(int64 step_us);
extern void fsmml_state_run(FsState *st, const FsmmlBars *b, int64 from, int64 to,
							double *out, const char *symbol, const char *timeframe);
extern void fsmml_feature_attnums(TupleDesc tupdesc, AttrNumber *attnums);
/* Rows of trading.features formed by hand, user columns NULL (features_sql.c). */
typedef struct RowFormer RowFormer;
extern RowFormer *fsmml_row_former_new(TupleDesc tupdesc, const AttrNumber *attnums,
									   const char *symbol, const char *timeframe);
extern HeapTuple fsmml_row_former_form(RowFormer *rf, TimestampTz ts, const double *f,
									   bool *owned);

extern int64 fsmml_build_features_internal(const char *symbol, const char *timeframe,
										   TimestampTz since, bool has_since);

#endif							/* FSMML_FEATURES_API_H */
