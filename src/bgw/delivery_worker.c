/*
 * delivery_worker.c — the outbox delivery worker: a static background worker
 * (registered under shared_preload_libraries by delivery_shmem.c, connected
 * to fsmml.database) that sends fsmml.outbox rows over HTTP and records the
 * results.
 *
 * It is woken at commit by the outbox trigger (delivery_shmem.c).
 *
 * One pass, in one transaction, whenever the latch was set, a back-off
 * expired, a lane ran out of rows or enough transfers ended (RECORD_BATCH,
 * or BATCH_WAIT_US after the first): record finished transfers (2xx:
 * delivered; else queued again after fsmml.delivery_retry_delay *
 * 2^(attempts-1), jittered +-25 %, at most an hour, or Retry-After /
 * Telegram's retry_after; failed after fsmml.delivery_max_attempts; a
 * redirect or a URL no longer allowed fails at once), store llm verdicts,
 * then claim due rows (FOR UPDATE SKIP LOCKED, queued -> sending), up to
 * DELIVERY_CLAIM_AHEAD per endpoint ahead of their sends and none behind a
 * row waiting for its back-off.  The claimed rows wait in their endpoint's
 * lane (delivery_lanes.c), which starts them in signal order as
 * max_in_flight allows, between passes and outside any transaction: with
 * max_in_flight 1 (the default) an endpoint receives its signals strictly
 * in order, and one pass serves hundreds of them.  An attempt is counted
 * when its result is recorded, with its send time.  Endpoints failing for
 * longer than fsmml.endpoint_disable_after are disabled (checked after
 * failures and every minute); delivered rows older than
 * fsmml.delivery_retention are pruned every minute.  Idle, the worker
 * sleeps on its latch until the next back-off expires.
 *
 * Its transactions commit with synchronous_commit off: a crash can lose a
 * "delivered" mark, and the row is then sent again with the same webhook-id
 * (receivers de-duplicate on it); rows left 'sending' by a crash are queued
 * again when the worker starts (an attempt cut off by the crash is not
 * counted).  An ERROR ends the worker; the postmaster restarts it a second later.
 */
#include "postgres.h"

#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/pmsignal.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "bgw.h"
#include "delivery.h"
#include "privilege.h"

#define IDLE_SLEEP_MS 60000L
#define HOUSEKEEPING_MS 60000L
#define BUSY_POLL_MS 1
#define BATCH_WAIT_US 50000
#define RECORD_BATCH 256		/* results that make a pass at once */
#define MAX_HELD 4096			/* claimed rows not yet recorded, all endpoints */

PGDLLEXPORT void fsmml_delivery_main(Datum arg);

/* ---------------------------------------------------------------- the pass */

/* Results gathered between passes, recorded in the next one. */
typedef struct Results
{
	int			n;
	Datum	   *id;
	Datum	   *ok;
	Datum	   *permanent;
	Datum	   *http;
	bool	   *http_null;
	Datum	   *err;
	bool	   *err_null;
	Datum	   *retry_after;
	Datum	   *sent_at;
	/* rows claimed but released unsent (a failure before them in their lane) */
	int			nrel;
	Datum	   *rel_id;
	/* llm verdicts */
	int			nr;
	Datum	   *r_id;
	Datum	   *r_verdict;
	Datum	   *r_model;
	bool	   *r_model_null;
	Datum	   *r_url;
	Datum	   *r_latency;
} Results;

static void
results_init(Results *res, int cap)
{
	memset(res, 0, sizeof(Results));
	res->id = palloc(sizeof(Datum) * cap);
	res->ok = palloc(sizeof(Datum) * cap);
	res->permanent = palloc(sizeof(Datum) * cap);
	res->http = palloc(sizeof(Datum) * cap);
	res->http_null = palloc(sizeof(bool) * cap);
	res->err = palloc(sizeof(Datum) * cap);
	res->err_null = palloc(sizeof(bool) * cap);
	res->retry_after = palloc(sizeof(Datum) * cap);
	res->sent_at = palloc(sizeof(Datum) * cap);
	res->rel_id = palloc(sizeof(Datum) * cap);
	res->r_id = palloc(sizeof(Datum) * cap);
	res->r_verdict = palloc(sizeof(Datum) * cap);
	res->r_model = palloc(sizeof(Datum) * cap);
	res->r_model_null = palloc(sizeof(bool) * cap);
	res->r_url = palloc(sizeof(Datum) * cap);
	res->r_latency = palloc(sizeof(Datum) * cap);
}

static Datum
array_of(Datum *d, bool *nulls, int n, Oid type)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int16		len;
	bool		byval;
	char		align;

	get_typlenbyvalalign(type, &len, &byval, &align);
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, type, len, byval, align));
}

static void
spi_exec(const char *sql, int nargs, Oid *types, Datum *values, int expect)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc != expect)
		elog(ERROR, "fsmml delivery: SPI_execute failed (%d): %s", rc, sql);
}

/*
 * The statements of every pass, prepared once.  The claim and the record,
 * whose planning cost more than their runs, keep one generic plan (made
 * again every minute, and by the plan cache after DDL: primary-key probes
 * per row whatever the batch); the others are planned with their values.
 */
enum
{
	PLAN_RECORD,
	PLAN_REVIEWS,
	PLAN_CLAIM,
	PLAN_NEXT_DUE,
	NPLANS
};
static SPIPlanPtr plans[NPLANS];

static void
spi_plan_exec(int which, const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
			  int expect)
{
	int			rc;

	if (plans[which] == NULL)
	{
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, types, (which == PLAN_CLAIM || which == PLAN_RECORD) ?
											 CURSOR_OPT_GENERIC_PLAN : CURSOR_OPT_CUSTOM_PLAN);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "fsmml delivery: SPI_prepare failed: %s", sql);
		plans[which] = p;
	}
	rc = SPI_execute_plan(plans[which], values, nulls, false, 0);
	if (rc != expect)
		elog(ERROR, "fsmml delivery: SPI_execute_plan failed (%d): %s", rc, sql);
}

static void disable_failing(void);

/* Records res; true when a transfer failed (a back-off may now be due later). */
static bool
record_results(Results *res)
{
	bool		any_failed = false;

	for (int i = 0; i < res->n; i++)
		any_failed |= !DatumGetBool(res->ok[i]);
	if (res->n > 0)
	{
		Oid			types[9] = {INT8ARRAYOID, BOOLARRAYOID, BOOLARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
		FLOAT8ARRAYOID, INT4OID, INT4OID, TIMESTAMPTZARRAYOID};
		Datum		values[9] = {
			array_of(res->id, NULL, res->n, INT8OID),
			array_of(res->ok, NULL, res->n, BOOLOID),
			array_of(res->permanent, NULL, res->n, BOOLOID),
			array_of(res->http, res->http_null, res->n, INT4OID),
			array_of(res->err, res->err_null, res->n, TEXTOID),
			array_of(res->retry_after, NULL, res->n, FLOAT8OID),
			Int32GetDatum(fsmml_delivery_max_attempts),
			Int32GetDatum(fsmml_delivery_retry_delay),
		array_of(res->sent_at, NULL, res->n, TIMESTAMPTZOID)};

		/* the attempt is counted here, with its send time: rows are claimed ahead of their sends */

		spi_plan_exec(PLAN_RECORD, "WITH r AS (SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $9)"
				 "           AS r(id, ok, permanent, http, err, retry_after, sent_at)),"
				 " upd AS ("
				 "  UPDATE fsmml.outbox o SET"
				 "    status = CASE WHEN r.ok THEN 'delivered'"
				 "                  WHEN r.permanent OR o.attempts + 1 >= $7 THEN 'failed' ELSE 'queued' END,"
				 "    attempts = o.attempts + 1,"
				 "    first_sent_at = coalesce(o.first_sent_at, r.sent_at),"
				 "    last_attempt_at = r.sent_at,"
				 "    delivered_at = CASE WHEN r.ok THEN clock_timestamp() END,"
				 "    last_http_status = r.http,"
				 "    last_error = CASE WHEN r.ok THEN o.last_error ELSE r.err END,"
				 "    next_attempt_at = CASE WHEN r.ok OR r.permanent THEN o.next_attempt_at"
				 "      WHEN r.retry_after >= 0 THEN clock_timestamp() + make_interval(secs => r.retry_after)"
				 "      ELSE clock_timestamp() + make_interval(secs => least($8 / 1000.0"
				 "           * power(2, o.attempts), 3600) * (0.75 + 0.5 * random())) END"
				 "  FROM r WHERE o.id = r.id AND o.status = 'sending'"
				 "  RETURNING o.endpoint_id, r.ok)"
				 " UPDATE fsmml.endpoints e SET failing_since = CASE WHEN x.ok THEN NULL"
				 "     ELSE coalesce(e.failing_since, clock_timestamp()) END"
				 " FROM (SELECT endpoint_id, bool_or(ok) AS ok FROM upd GROUP BY endpoint_id) x"
				 " WHERE e.id = x.endpoint_id"
				 "   AND (x.ok AND e.failing_since IS NOT NULL OR NOT x.ok AND e.failing_since IS NULL)",
				 9, types, values, NULL, SPI_OK_UPDATE);
	}
	if (res->nrel > 0)
	{
		Oid			t = INT8ARRAYOID;
		Datum		v = array_of(res->rel_id, NULL, res->nrel, INT8OID);

		spi_exec("UPDATE fsmml.outbox SET status = 'queued' WHERE id = ANY ($1) AND status = 'sending'",
				 1, &t, &v, SPI_OK_UPDATE);
	}
	if (res->nr > 0)
	{
		Oid			types[5] = {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID};
		Datum		values[5] = {
			array_of(res->r_id, NULL, res->nr, INT8OID),
			array_of(res->r_verdict, NULL, res->nr, TEXTOID),
			array_of(res->r_model, res->r_model_null, res->nr, TEXTOID),
			array_of(res->r_url, NULL, res->nr, TEXTOID),
		array_of(res->r_latency, NULL, res->nr, FLOAT8OID)};

		spi_plan_exec(PLAN_REVIEWS, "INSERT INTO fsmml.signal_reviews (outbox_id, endpoint_id, symbol, timeframe, signal_ts,"
				 "                                  verdict, model, answered_by, latency_ms)"
				 " SELECT o.id, o.endpoint_id, o.symbol, o.timeframe, o.signal_ts, r.v, r.m, r.u, r.l"
				 " FROM unnest($1, $2, $3, $4, $5) AS r(id, v, m, u, l) JOIN fsmml.outbox o ON o.id = r.id"
				 " ON CONFLICT (outbox_id) DO NOTHING",
				 5, types, values, NULL, SPI_OK_INSERT);
	}
	if (any_failed)
		disable_failing();
	res->n = res->nr = res->nrel = 0;
	return any_failed;
}

/*
 * Claims due rows, at most limit, and up to DELIVERY_CLAIM_AHEAD (or its
 * max_in_flight) undelivered rows of an endpoint ahead: their requests,
 * built in the http context, join their endpoints' lanes in signal order.
 */
static int
claim(DeliveryHttp *h, DeliveryLanes *lanes, int limit)
{
	Oid			t[2] = {INT4OID, INT4OID};
	Datum		v[2] = {Int32GetDatum(limit), Int32GetDatum(DELIVERY_CLAIM_AHEAD)};
	SPITupleTable *tt;
	int			n;

	spi_plan_exec(PLAN_CLAIM, "WITH heads AS ("
			 "  SELECT w.id FROM fsmml.endpoints e CROSS JOIN LATERAL ("
			 "    SELECT o.id, o.status, bool_and(o.status = 'sending' OR o.next_attempt_at <= clock_timestamp())"
			 "             OVER (ORDER BY o.signal_ts, o.id) AS ok"
			 "    FROM (SELECT * FROM fsmml.outbox o WHERE o.endpoint_id = e.id"
			 "          AND o.status IN ('queued', 'sending') ORDER BY o.signal_ts, o.id"
			 "          LIMIT greatest(e.max_in_flight, $2)) o) w"
			 "  WHERE e.enabled AND w.status = 'queued' AND w.ok LIMIT $1),"
			 /* = ANY (ARRAY(...)): a primary-key probe per row, whatever the outbox's size at planning */
			 " claimed AS (SELECT o.id FROM fsmml.outbox o WHERE o.id = ANY (ARRAY(SELECT id FROM heads))"
			 "             FOR UPDATE SKIP LOCKED),"
			 " upd AS (UPDATE fsmml.outbox o SET status = 'sending'"
			 "   FROM fsmml.endpoints e LEFT JOIN fsmml.endpoint_secrets s ON s.endpoint_id = e.id"
			 "   WHERE o.id = ANY (ARRAY(SELECT id FROM claimed)) AND e.id = o.endpoint_id"
			 "   RETURNING o.id, o.endpoint_id, e.kind, e.url, e.fallback_urls, e.timeout_ms, s.secret,"
			 "             o.webhook_id, o.body, o.signal_ts, e.max_in_flight)"
			 " SELECT * FROM upd ORDER BY endpoint_id, signal_ts, id",
			 2, t, v, NULL, SPI_OK_SELECT);
	n = SPI_processed;
	tt = SPI_tuptable;
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = tt->vals[i];
		TupleDesc	td = tt->tupdesc;
		bool		isnull;
		DeliveryRequest *r = delivery_http_new(h);
		MemoryContext old = MemoryContextSwitchTo(r->cxt);
		char	   *kind = SPI_getvalue(tup, td, 3);
		Datum		fb = SPI_getbinval(tup, td, 5, &isnull);
		Datum	   *fbs = NULL;
		int			nfb = 0;
		char	  **urls;
		int			nurls = 0;
		char	   *why = NULL;

		r->outbox_id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
		r->endpoint_id = DatumGetInt64(SPI_getbinval(tup, td, 2, &isnull));
		r->signal_ts = DatumGetTimestampTz(SPI_getbinval(tup, td, 10, &isnull));
		r->kind = strcmp(kind, "webhook") == 0 ? DELIVERY_WEBHOOK :
			strcmp(kind, "telegram") == 0 ? DELIVERY_TELEGRAM : DELIVERY_LLM;
		if (!isnull)
			deconstruct_array(DatumGetArrayTypeP(fb), TEXTOID, -1, false, TYPALIGN_INT, &fbs, NULL, &nfb);
		urls = palloc(sizeof(char *) * (nfb + 1));
		/* the allow-list again, at send time: it may have been narrowed since */
		for (int k = -1; k < nfb; k++)
		{
			char	   *u = k < 0 ? SPI_getvalue(tup, td, 4) : TextDatumGetCString(fbs[k]);
			char	   *refusal = fsmml_url_refusal(u);

			if (refusal)
				why = why ? why : refusal;
			else
				urls[nurls++] = u;
		}
		r->urls = urls;
		r->nurls = nurls;
		r->timeout_ms = DatumGetInt32(SPI_getbinval(tup, td, 6, &isnull));
		r->secret = SPI_getvalue(tup, td, 7);
		r->webhook_id = SPI_getvalue(tup, td, 8);
		r->body = SPI_getvalue(tup, td, 9);
		if (nurls == 0)
		{
			r->refused = true;
			strlcpy(r->errbuf, why, sizeof(r->errbuf));
		}
		MemoryContextSwitchTo(old);
		delivery_lanes_add(lanes, r, DatumGetInt32(SPI_getbinval(tup, td, 11, &isnull)));
	}
	return n;
}

/* Milliseconds until the earliest back-off of an endpoint's head expires (IDLE_SLEEP_MS at most). */
static long
next_due_ms(void)
{
	bool		isnull;
	Datum		d;

	spi_plan_exec(PLAN_NEXT_DUE, "SELECT extract(epoch FROM min(h.next_attempt_at) - clock_timestamp()) * 1000"
			 " FROM fsmml.endpoints e CROSS JOIN LATERAL ("
			 "   SELECT o.next_attempt_at, o.status FROM fsmml.outbox o WHERE o.endpoint_id = e.id"
			 "   AND o.status IN ('queued', 'sending') ORDER BY o.signal_ts, o.id LIMIT 1) h"
			 " WHERE e.enabled AND h.status = 'queued'", 0, NULL, NULL, NULL, SPI_OK_SELECT);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return IDLE_SLEEP_MS;
	return (long) Max(Min(DatumGetFloat8(DirectFunctionCall1(numeric_float8, d)) + 1,
						  (double) IDLE_SLEEP_MS), 0);
}

static void
prune(void)
{
	Oid			t = INT4OID;
	Datum		r = Int32GetDatum(fsmml_delivery_retention);

	spi_exec("DELETE FROM fsmml.outbox WHERE status = 'delivered'"
			 " AND delivered_at < clock_timestamp() - make_interval(secs => $1)",
			 1, &t, &r, SPI_OK_DELETE);
}

/* Endpoints failing for longer than fsmml.endpoint_disable_after: disabled, with the reason. */
static void
disable_failing(void)
{
	Oid			t = INT4OID;
	Datum		v = Int32GetDatum(fsmml_endpoint_disable_after);

	spi_exec("UPDATE fsmml.endpoints e SET enabled = false, disabled_reason = format("
			 "  'disabled at %s: failing since %s, longer than fsmml.endpoint_disable_after (%s s); last error: %s',"
			 "  clock_timestamp(), e.failing_since, $1, (SELECT o.last_error FROM fsmml.outbox o"
			 "   WHERE o.endpoint_id = e.id AND o.last_error IS NOT NULL"
			 "   ORDER BY o.last_attempt_at DESC NULLS LAST LIMIT 1))"
			 " WHERE e.enabled AND e.failing_since < clock_timestamp() - make_interval(secs => $1)"
			 " RETURNING e.name, e.disabled_reason", 1, &t, &v, SPI_OK_UPDATE_RETURNING);
	for (uint64 i = 0; i < SPI_processed; i++)
		ereport(LOG, (errmsg("fsmml: endpoint \"%s\" %s",
							 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1),
							 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2))));
}

static bool
extension_ready(void)
{
	Datum		v = CStringGetTextDatum(FSMML_VERSION);
	Oid			t = TEXTOID;

	spi_exec("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'fsmml' AND extversion = $1",
			 1, &t, &v, SPI_OK_SELECT);
	return SPI_processed > 0;
}


/* ---------------------------------------------------------------- results of transfers */

static int64
json_retry_after(const char *resp)
{
	cJSON	   *j = resp ? cJSON_Parse(resp) : NULL;
	cJSON	   *p = j ? cJSON_GetObjectItemCaseSensitive(j, "parameters") : NULL;
	cJSON	   *ra = p ? cJSON_GetObjectItemCaseSensitive(p, "retry_after") : NULL;
	int64		v = cJSON_IsNumber(ra) ? (int64) ra->valuedouble : -1;

	cJSON_Delete(j);
	return v;
}

/*
 * Text from a receiver, safe to store: at most max bytes, cut at a character
 * boundary; bytes that are not valid in the database encoding become '?'.
 */
static char *
receiver_text(const char *s, int max)
{
	int			len = strlen(s);
	char	   *t = pstrdup(s);

	if (!pg_verifymbstr(t, len, true))
		for (char *p = t; *p; p++)
			if ((unsigned char) *p >= 0x80)
				*p = '?';
	t[pg_mbcliplen(t, len, Min(len, max))] = '\0';
	return t;
}

/* An llm answer: the "response" (verdict) and "model" of Ollama's /api/generate, or false. */
static bool
llm_answer(const char *resp, char **verdict, char **model)
{
	cJSON	   *j = resp ? cJSON_Parse(resp) : NULL;
	cJSON	   *r = j ? cJSON_GetObjectItemCaseSensitive(j, "response") : NULL;
	cJSON	   *m = j ? cJSON_GetObjectItemCaseSensitive(j, "model") : NULL;
	bool		ok = cJSON_IsString(r);

	if (ok)
	{
		/* a verdict, not an essay: its first 500 bytes */
		*verdict = receiver_text(r->valuestring, 500);
		*model = cJSON_IsString(m) ? receiver_text(m->valuestring, 200) : NULL;
	}
	cJSON_Delete(j);
	return ok;
}

/* Rows released unsent by their lane: queued again by the next record_results. */
static void
release_rows(Results *res, dlist_head *released)
{
	while (!dlist_is_empty(released))
	{
		DeliveryRequest *u = dlist_container(DeliveryRequest, node, dlist_pop_head_node(released));

		res->rel_id[res->nrel++] = Int64GetDatum(u->outbox_id);
		delivery_http_free(u);
	}
}

/*
 * Rows claimed for an endpoint since disabled or dropped do not start: they
 * are released, and recorded with the pass's results.
 */
static void
release_disabled(DeliveryLanes *lanes, Results *res)
{
	Datum	   *ids;
	int			n = delivery_lanes_endpoints(lanes, &ids);
	Oid			t = INT8ARRAYOID;
	Datum		v;
	dlist_head	released;

	if (n == 0)
		return;
	v = array_of(ids, NULL, n, INT8OID);
	spi_exec("SELECT x FROM unnest($1::bigint[]) x WHERE NOT EXISTS"
			 " (SELECT 1 FROM fsmml.endpoints e WHERE e.id = x AND e.enabled)",
			 1, &t, &v, SPI_OK_SELECT);
	dlist_init(&released);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		delivery_lanes_release(lanes, DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
																  SPI_tuptable->tupdesc, 1, &isnull)),
							   &released);
	}
	release_rows(res, &released);
}

/*
 * Classifies a finished transfer into res and tells its lane; an llm
 * endpoint whose server failed goes on to its next fallback at once.
 */
static void
finish_request(DeliveryHttp *h, DeliveryLanes *lanes, DeliveryRequest *r, Results *res,
			   MemoryContext passcxt)
{
	dlist_head	released;
	MemoryContext old = MemoryContextSwitchTo(passcxt);
	bool		ok = false;
	bool		permanent = false;
	double		retry_after = -1;
	char	   *err = NULL;
	char	   *verdict = NULL;
	char	   *model = NULL;
	int			i;

	if (r->refused)
	{
		permanent = true;
		err = pstrdup(r->errbuf);
	}
	else if (r->curl_code != CURLE_OK)
		err = psprintf("%s%s%s", curl_easy_strerror((CURLcode) r->curl_code),
					   r->errbuf[0] ? ": " : "", r->errbuf);
	else if (r->http_status >= 200 && r->http_status < 300)
	{
		ok = true;
		if (r->kind == DELIVERY_LLM && !llm_answer(r->resp, &verdict, &model))
		{
			ok = false;
			err = psprintf("HTTP %ld without an Ollama answer (no \"response\" string)", r->http_status);
		}
	}
	else if (r->http_status >= 300 && r->http_status < 400)
	{
		permanent = true;
		err = psprintf("HTTP %ld: redirects are not followed (fix the endpoint's URL)", r->http_status);
	}
	else
	{
		err = psprintf("HTTP %ld%s%s", r->http_status, r->resp ? ": " : "",
					   r->resp ? receiver_text(r->resp, 200) : "");
		if (r->http_status == 429 || r->http_status == 503)
		{
			int64		ja = r->kind == DELIVERY_TELEGRAM ? json_retry_after(r->resp) : -1;

			retry_after = ja >= 0 ? ja : r->retry_after_hdr;
		}
	}

	if (!ok && !permanent && r->kind == DELIVERY_LLM && r->url_index + 1 < r->nurls)
	{
		ereport(DEBUG1, (errmsg("fsmml delivery: %s failed (%s), trying %s",
								r->urls[r->url_index], err, r->urls[r->url_index + 1])));
		MemoryContextSwitchTo(old);
		r->url_index++;
		delivery_http_start(h, r);
		return;
	}

	i = res->n++;
	res->id[i] = Int64GetDatum(r->outbox_id);
	res->ok[i] = BoolGetDatum(ok);
	res->permanent[i] = BoolGetDatum(permanent);
	res->http_null[i] = r->http_status == 0;
	res->http[i] = Int32GetDatum((int32) r->http_status);
	res->err_null[i] = err == NULL;
	res->err[i] = err ? CStringGetTextDatum(err) : (Datum) 0;
	res->retry_after[i] = Float8GetDatum(retry_after);
	/* a refused row was never sent: its attempt is now */
	res->sent_at[i] = TimestampTzGetDatum(r->refused ? GetCurrentTimestamp() : r->started_us);
	if (ok && r->kind == DELIVERY_LLM)
	{
		int			k = res->nr++;

		res->r_id[k] = Int64GetDatum(r->outbox_id);
		res->r_verdict[k] = CStringGetTextDatum(verdict);
		res->r_model_null[k] = model == NULL;
		res->r_model[k] = model ? CStringGetTextDatum(model) : (Datum) 0;
		res->r_url[k] = CStringGetTextDatum(r->urls[r->url_index]);
		res->r_latency[k] = Float8GetDatum(r->latency_ms);
	}
	MemoryContextSwitchTo(old);

	dlist_init(&released);
	delivery_lanes_finished(lanes, r, !ok && !permanent, &released);
	delivery_http_free(r);
	release_rows(res, &released);
}

/*
 * Records finished transfers in res and starts the rows their lanes may
 * send now (refused ones end at once).
 */
static void
drain_done(DeliveryHttp *h, DeliveryLanes *lanes, dlist_head *done, Results *res, MemoryContext passcxt)
{
	for (;;)
	{
		while (!dlist_is_empty(done))
			finish_request(h, lanes, dlist_container(DeliveryRequest, node, dlist_pop_head_node(done)),
						   res, passcxt);
		delivery_lanes_pump(lanes, h, fsmml_delivery_max_in_flight, done);
		if (dlist_is_empty(done))
			break;
	}
}

/* ---------------------------------------------------------------- main loop */

void
fsmml_delivery_main(Datum arg)
{
	DeliveryHttp *http;
	DeliveryLanes *lanes;
	MemoryContext passcxt;
	Results		res;
	dlist_head	done;
	bool		ready = false;
	bool		due = true;
	TimestampTz next_due = 0;
	TimestampTz next_housekeeping = 0;
	TimestampTz first_result_at = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(fsmml_bgw_database, NULL, 0);
	pgstat_report_appname("fsmml delivery");
	/* a lost "delivered" mark is a resend with the same webhook-id (header comment) */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	/*
	 * Every statement of a pass is a few rows probing an index; a plan made
	 * on an empty outbox must not scan the table when it has grown.
	 */
	SetConfigOption("enable_seqscan", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("enable_bitmapscan", "off", PGC_SUSET, PGC_S_OVERRIDE);
	/* small statements: compiling them would cost more than running them */
	SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	fsmml_delivery_attach();

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		elog(ERROR, "curl_global_init failed");
	http = delivery_http_create(TopMemoryContext);
	lanes = delivery_lanes_create(TopMemoryContext);
	passcxt = AllocSetContextCreate(TopMemoryContext, "fsmml delivery pass", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(TopMemoryContext);
	/* every held row's result fits: a failure is always recorded before the next claim */
	results_init(&res, MAX_HELD + 64);
	elog(LOG, "fsmml delivery worker started in database \"%s\"", fsmml_bgw_database);

	dlist_init(&done);
	for (;;)
	{
		bool		woke;
		bool		pending;
		bool		timer;
		TimestampTz now;
		int			room;

		CHECK_FOR_INTERRUPTS();
		if (!PostmasterIsAlive())
			proc_exit(1);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			next_housekeeping = 0;	/* a changed retention or disable_after applies now */
		}
		woke = MyLatch->is_set;
		ResetLatch(MyLatch);
		/* results not yet recorded keep their strings in the pass context */
		if (res.n == 0 && res.nr == 0 && res.nrel == 0)
			MemoryContextReset(passcxt);

		delivery_http_poll(http, 0, &done);
		drain_done(http, lanes, &done, &res, passcxt);
		now = GetCurrentTimestamp();
		pending = res.n > 0 || res.nrel > 0;
		if (pending && first_result_at == 0)
			first_result_at = now;
		/*
		 * Results are recorded in batches, while the lanes go on sending:
		 * at once when nothing is in flight or a lane ran out of rows (a
		 * claim may refill it), else after RECORD_BATCH results or
		 * BATCH_WAIT_US; a wake-up or an expired back-off runs a pass anyway.
		 */
		timer = now >= next_due;
		if (woke || timer ||
			(pending && (delivery_http_in_flight(http) == 0 || delivery_lanes_take_dry(lanes) > 0 ||
						 res.n >= RECORD_BATCH || now - first_result_at >= BATCH_WAIT_US)))
			due = true;

		if (due)
		{
			MemoryContext old = MemoryContextSwitchTo(passcxt);
			FsmmlUserScope scope;
			long		sleep_ms = IDLE_SLEEP_MS;
			int			nclaimed = 0;
			bool		failed = false;

			fsmml_bgw_begin_xact();
			pgstat_report_activity(STATE_RUNNING, "fsmml delivery pass");
			/* DROP EXTENSION: wait for it again rather than fail on missing tables */
			if (ready && !OidIsValid(get_extension_oid("fsmml", true)))
				ready = false;
			if (!ready && extension_ready())
			{
				fsmml_owner_enter(&scope);
				/* rows a crashed or stopped worker was sending go out again, same webhook-id */
				spi_exec("UPDATE fsmml.outbox SET status = 'queued' WHERE status = 'sending'",
						 0, NULL, NULL, SPI_OK_UPDATE);
				fsmml_owner_leave(&scope);
				ready = true;
			}
			if (ready)
			{
				fsmml_owner_enter(&scope);
				if (timer)
					release_disabled(lanes, &res);
				failed = record_results(&res);
				room = MAX_HELD - delivery_lanes_held(lanes);
				/*
				 * A claim reads the held rows of an endpoint again before new
				 * ones: skipped while every lane has plenty, unless rows may
				 * have become due (a commit, a back-off, a failure).
				 */
				if (room > 0 && (woke || timer || failed || delivery_lanes_held(lanes) == 0 ||
								 delivery_lanes_want_more(lanes)))
					nclaimed = claim(http, lanes, room);
				/*
				 * With rows held a pass comes soon anyway, and at least every
				 * second; the earliest back-off is looked up when idle, after a
				 * failure and when the timer fired.
				 */
				if (delivery_lanes_held(lanes) == 0 && nclaimed == 0)
					sleep_ms = next_due_ms();
				else if (failed || timer)
					sleep_ms = Min(next_due_ms(), 1000);
				else
					sleep_ms = -1;	/* the timer set before stands, a second at most */
				if (now >= next_housekeeping)
				{
					for (int k = 0; k < NPLANS; k++)
					{
						if (plans[k])
							SPI_freeplan(plans[k]);
						plans[k] = NULL;
					}
					prune();
					disable_failing();	/* also when no transfer ends any more */
					next_housekeeping = now + HOUSEKEEPING_MS * 1000;
				}
				fsmml_owner_leave(&scope);
			}
			fsmml_bgw_commit_xact();
			pgstat_report_activity(STATE_IDLE, NULL);
			MemoryContextSwitchTo(old);

			/* transfers start after the commit: a claim is durable before its send */
			(void) delivery_lanes_take_dry(lanes);
			drain_done(http, lanes, &done, &res, passcxt);
			if (sleep_ms >= 0)
				next_due = GetCurrentTimestamp() + (int64) sleep_ms * 1000;
			else
				next_due = Min(next_due, GetCurrentTimestamp() + 1000 * 1000);
			first_result_at = 0;
			due = res.n > 0 || res.nrel > 0;
			if (!ready)
				next_due = GetCurrentTimestamp() + 10000 * 1000;	/* CREATE EXTENSION sets no latch */
		}

		if (due)
			continue;
		if (delivery_http_in_flight(http) > 0)
			delivery_http_poll(http, BUSY_POLL_MS, &done);	/* the latch is checked right after */
		else
		{
			long		ms = Max((next_due - GetCurrentTimestamp()) / 1000, 0);

			pgstat_report_stat(false);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Max(ms, 1), PG_WAIT_EXTENSION);
		}
	}
}
