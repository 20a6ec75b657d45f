/*
 * calibration.c — the active trading.calibrations row of a series.
 *
 * The newest active row (any method) is the calibration.  Its thresholds
 * object may carry the ExecRules keys (long_threshold, short_threshold) and
 * the state machine's (effort_p20, effort_p80, result_p20, result_p80,
 * layer_sep, bias_slope); a row that has some keys of a group must have all
 * of that group, else it is an error naming the missing key.
 */
#include "postgres.h"

#include <math.h>

#include "executor/spi.h"
#include "utils/builtins.h"

#include "agent.h"
#include "xgb.h"

cJSON *
fsmml_active_calibration(const char *symbol, const char *timeframe, int64 *id, MemoryContext cxt)
{
	bool		isnull;

	fsmml_spi_series("SELECT id, thresholds::text FROM trading.calibrations "
					 "WHERE symbol = $1 AND timeframe = $2 AND is_active "
					 "ORDER BY created_at DESC, id DESC LIMIT 1",
					 symbol, timeframe, NULL, true, 1, SPI_OK_SELECT, "reading the calibration");
	if (SPI_processed == 0)
		return NULL;
	*id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return fsxgb_json_parse_owned(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), cxt);
}

bool
fsmml_calibration_exec(cJSON *cal, int64 id, double *long_t, double *short_t)
{
	double		l = fsmml_json_get_num(cal, "long_threshold");
	double		s = fsmml_json_get_num(cal, "short_threshold");
	bool		hasl = cal && cJSON_GetObjectItemCaseSensitive(cal, "long_threshold");
	bool		hass = cal && cJSON_GetObjectItemCaseSensitive(cal, "short_threshold");

	if (!hasl && !hass)
		return false;
	if (!hasl || !hass || isnan(l) || isnan(s))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("active calibration " INT64_FORMAT " lacks a number for key \"%s\"", id,
						(!hasl || isnan(l)) ? "long_threshold" : "short_threshold"),
				 errhint("Its thresholds need both long_threshold and short_threshold, e.g. {\"long_threshold\": 0.55, \"short_threshold\": 0.45}; fix the row or set is_active = false.")));
	if (!(l > 0 && l < 1 && s > 0 && s < 1 && l > s))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("active calibration " INT64_FORMAT " has long_threshold %g <= short_threshold %g or one outside (0, 1)",
						id, l, s),
				 errhint("Use thresholds in (0, 1) with long_threshold > short_threshold.")));
	*long_t = l;
	*short_t = s;
	return true;
}
