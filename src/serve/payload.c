/*
 * payload.c — the prediction payload {"prob_up": p} as jsonb.  Probabilities
 * are XGBoost's float32 values, written in the shortest decimal form that
 * reads back as the same float32 (e.g. 0.5703125), independent of
 * extra_float_digits; the jsonb bytes are laid out directly.
 */
#include "postgres.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "bars.h"
#include "bulk_insert.h"
#include "dataset.h"
#include "fsmml.h"
#include "registry.h"
#include "xgb.h"
#include "serve.h"

/* ---------------------------------------------------------------- payload numbers */

/* The shortest decimal that reads back as p, e.g. "0.5703125"; "null" for NaN/Inf. */
int
fsmml_float_json(float p, char *buf)
{
	if (!isfinite(p))
	{
		strcpy(buf, "null");
		return 4;
	}
	return float_to_shortest_decimal_buf(p, buf);
}

/*
 * The numeric of a shortest decimal such as "0.5703125" or "1.2e-05",
 * without numeric_in's general parser: digits / 10^scale.  The result is
 * the one numeric_in gives (same weight, digits and display scale).
 */
static Numeric
decimal_numeric(const char *s)
{
	const char *p = s;
	int64		mant = 0;
	int			ndig = 0;
	int			frac = 0;
	int			exp10 = 0;
	bool		neg = false;
	bool		in_frac = false;
	int			scale;

	if (*p == '-')
	{
		neg = true;
		p++;
	}
	for (; *p; p++)
	{
		if (*p >= '0' && *p <= '9')
		{
			if (++ndig > 18)
				break;
			mant = mant * 10 + (*p - '0');
			if (in_frac)
				frac++;
		}
		else if (*p == '.' && !in_frac)
			in_frac = true;
		else
			break;
	}
	if (*p == 'e' || *p == 'E')
	{
		char	   *end;
		long		e = strtol(p + 1, &end, 10);

		if (*end == '\0' && e > -1000 && e < 1000)
		{
			exp10 = (int) e;
			p = end;
		}
	}
	scale = frac - exp10;
	if (*p != '\0' || ndig > 18 || scale < 0 || scale > 1000)
		return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
	return int64_div_fast_to_numeric(neg ? -mant : mant, scale);
}

/* {"prob_up": p} through the generic jsonb builder. */
static Jsonb *
prob_payload_generic(float p)
{
	JsonbValue	obj;
	JsonbPair	pair;

	pair.key.type = jbvString;
	pair.key.val.string.val = "prob_up";
	pair.key.val.string.len = 7;
	pair.order = 0;
	if (isfinite(p))
	{
		char		buf[32];

		float_to_shortest_decimal_buf(p, buf);
		pair.value.type = jbvNumeric;
		pair.value.val.numeric = decimal_numeric(buf);
	}
	else
		pair.value.type = jbvNull;
	obj.type = jbvObject;
	obj.val.object.nPairs = 1;
	obj.val.object.pairs = &pair;
	return JsonbValueToJsonb(&obj);
}

/*
 * {"prob_up": p} laid out directly (fsmml_score builds one per bar): the
 * object header, the key's and the value's JEntry, "prob_up", one byte of
 * padding to int alignment, the numeric.  These are the bytes
 * JsonbValueToJsonb writes, which is checked once per backend; should a
 * server ever lay one-key objects out differently, the generic builder is
 * used instead.
 */
#define PAYLOAD_HEAD (VARHDRSZ + sizeof(uint32) + 2 * sizeof(JEntry) + 8)

static Jsonb *
prob_payload_direct(float p)
{
	char		buf[32];
	Numeric		num;
	Size		numlen;
	Jsonb	   *j;
	char	   *d;
	uint32		header = 1 | JB_FOBJECT;
	JEntry		key = JENTRY_ISSTRING | JENTRY_HAS_OFF | 7;
	JEntry		val;

	float_to_shortest_decimal_buf(p, buf);
	num = decimal_numeric(buf);
	numlen = VARSIZE(num);
	val = JENTRY_ISNUMERIC | (uint32) (1 + numlen);
	j = palloc(PAYLOAD_HEAD + numlen);
	SET_VARSIZE(j, PAYLOAD_HEAD + numlen);
	d = VARDATA(j);
	memcpy(d, &header, sizeof(uint32));
	memcpy(d + 4, &key, sizeof(JEntry));
	memcpy(d + 8, &val, sizeof(JEntry));
	memcpy(d + 12, "prob_up\0", 8);
	memcpy(d + 20, num, numlen);
	pfree(num);
	return j;
}

Jsonb *
fsmml_prob_payload(float p)
{
	static int	direct_ok = -1; /* unknown, no, yes */

	if (!isfinite(p))
		return prob_payload_generic(p);
	if (direct_ok < 0)
	{
		Jsonb	   *a = prob_payload_generic(0.5703125f);
		Jsonb	   *b = prob_payload_direct(0.5703125f);

		direct_ok = VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
		pfree(a);
		pfree(b);
	}
	return direct_ok ? prob_payload_direct(p) : prob_payload_generic(p);
}
