#include "postgres.h"
#include "fmgr.h"
PG_FUNCTION_INFO_V1(fsmml_report);
Datum fsmml_report(PG_FUNCTION_ARGS) { elog(ERROR, "x"); }
