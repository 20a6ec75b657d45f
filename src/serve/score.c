/*
 * score.c — fsmml_score(symbol, tf, from, to): every XGBoost direction
 * champion of the series scores a range of bars into trading.agentpreds
 * (fsmml_predict is in predict.c, the champions in champion_cache.c, the
 * payloads in payload.c, the writes in pred_write.c).
 *
 * Both compute features exactly as training does: the streaming kernel runs
 * from the first bar of the series (warm-up included), and the row of a bar
 * is the one fsmml_dataset_build gives for it, in the version's
 * feature_names order.  Warm-up bars, whose features are still NULL, are
 * scored too: NULL (NaN) is XGBoost's "missing" and the trees route it down
 * their default branches, as they did for the missing values seen in
 * training.
 *
 * Probabilities are XGBoost's float32 values, written in the shortest decimal
 * form that reads back as the same float32 (e.g. 0.5703125), independent of
 * extra_float_digits.  fsmml_predict and fsmml_score give the same number for
 * the same bar.
 *
 * fsmml_predict keeps each instance's loaded champion booster in a
 * backend-local cache (a child of CacheMemoryContext), keyed by
 * agent@symbol-timeframe and checked against the champion's id and model
 * sha256 on every call with one indexed query; a promotion, a rollback or a
 * rewritten model therefore takes effect on the next call.
 *
 * fsmml_score is idempotent, with the semantics of INSERT ... ON CONFLICT
 * (agent_version_id, symbol, timeframe, timestamp, horizon) DO UPDATE SET
 * payload = EXCLUDED.payload WHERE the payload differs, but without ON
 * CONFLICT: each batch of bars is first merged against the predictions
 * already stored for it (one index range scan), then the missing rows are
 * written with one plain INSERT ... SELECT FROM unnest(...) and the changed
 * ones with one UPDATE (missing rows go straight into the heap and indexes
 * of their partition when INSERT would write them the same; see
 * pred_write.c).  A re-run over the same range therefore writes
 * nothing (no new row versions, no WAL) and costs a fraction of the first
 * run; one after a corrected bar refreshes exactly the predictions that
 * changed; rows deleted meanwhile are re-inserted.  A plain INSERT costs half
 * a speculative one, and the statements do not depend on which unique index
 * agentpreds has.  Concurrent fsmml_score calls on the same champion are
 * serialised by a transaction-level advisory lock, so rows found missing are
 * still missing when inserted.  It returns the number of predictions the
 * range holds for the champions after the call (inserted, updated or
 * confirmed): the same count on a re-run.
 *
 * Speed (fsmml_score): the features of the whole range are built once per
 * champion, or, with agents, once for all of them (each direction champion
 * gathers its columns a batch at a time); the next batch's prediction runs on a worker thread while the
 * backend merges and writes the current one; payloads are laid out as jsonb
 * bytes directly; new rows skip the executor when they can.  What is left is
 * the heap, the unique index and WAL — and, while agentpreds has its foreign
 * key to agentversions, the per-row RI check, which costs more than all the
 * rest and rules the direct writes out.  The DEBUG1 message after each
 * champion breaks the time down.
 */
#include "postgres.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

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
#include "locks.h"
#include "registry.h"
#include "xgb.h"
#include "serve.h"

/* Process CPU (every thread) spent writing, for the DEBUG1 total (bench/score_agents.sh). */
double		fsmml_score_write_cpu_ms = 0;

double
fsmml_cpu_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

/* Predictions per INSERT ... SELECT FROM unnest(...) of fsmml_score. */
#define SCORE_BATCH 16384

/* ---------------------------------------------------------------- prediction worker */

/*
 * fsmml_score predicts batch k+1 on a worker thread while the backend
 * writes batch k: XGBoost's in-place prediction is pure computation and
 * thread-safe, and hiding it behind the writes is the largest saving left
 * on a two-core machine.  The worker runs XGBoost only — no PostgreSQL
 * call, no palloc, no ereport — with every signal blocked; an XGBoost error
 * is copied out and raised by the backend after the join.  The first batch
 * is predicted by fsxgb_predict_dense on the backend, which applies
 * fsmml.nthread to the booster and checks the column count and the output
 * shape; the worker then reuses the same booster and configuration.  A
 * reset callback on the context owning the booster (registered after it,
 * so it runs first) joins the worker, so an ERROR or a cancel in the
 * backend never frees data the worker still reads.
 */
#define INPLACE_CONFIG \
	"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, " \
	"\"iteration_end\": 0, \"strict_shape\": false, \"missing\": NaN, " \
	"\"cache_id\": 0}"

typedef struct PredictWorker
{
	pthread_t	thread;
	bool		running;
	MemoryContextCallback cb;
	/* the job: read by the worker only while running */
	BoosterHandle handle;
	const float *X;
	uint64		nrow;
	uint64		ncol;
	float	   *out;
	bool		ok;
	char		err[512];
} PredictWorker;

static void *
predict_worker_main(void *arg)
{
	PredictWorker *w = arg;
	const bst_ulong *shape = NULL;
	bst_ulong	dim = 0;
	const float *res = NULL;
	char		iface[256];

	snprintf(iface, sizeof(iface),
			 "{\"data\": [%llu, true], \"shape\": [%llu, %llu], "
			 "\"strides\": null, \"typestr\": \"<f4\", \"version\": 3}",
			 (unsigned long long) (uintptr_t) w->X, (unsigned long long) w->nrow,
			 (unsigned long long) w->ncol);
	if (XGBoosterPredictFromDense(w->handle, iface, INPLACE_CONFIG, NULL,
								  &shape, &dim, &res) != 0)
	{
		const char *msg = XGBGetLastError();

		snprintf(w->err, sizeof(w->err), "%s", msg ? msg : "unknown error");
		w->ok = false;
	}
	else if (dim < 1 || shape == NULL || shape[0] != w->nrow ||
			 (dim > 1 && shape[1] != 1) || res == NULL)
	{
		snprintf(w->err, sizeof(w->err), "unexpected prediction shape");
		w->ok = false;
	}
	else
	{
		memcpy(w->out, res, sizeof(float) * w->nrow);
		w->ok = true;
	}
	return NULL;
}

static void
predict_worker_join(PredictWorker *w)
{
	if (w->running)
	{
		pthread_join(w->thread, NULL);
		w->running = false;
	}
}

static void
predict_worker_reset_cb(void *arg)
{
	predict_worker_join((PredictWorker *) arg);
}

/* Starts predicting nrow rows of X into out; false when no thread could start. */
static bool
predict_worker_start(PredictWorker *w, FsXgbBooster *b, const float *X, uint64 nrow,
					 uint64 ncol, float *out)
{
	sigset_t	all;
	sigset_t	old;
	int			rc;

	Assert(!w->running);
	w->handle = b->handle;
	w->X = X;
	w->nrow = nrow;
	w->ncol = ncol;
	w->out = out;
	w->ok = false;
	w->err[0] = '\0';
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&w->thread, NULL, predict_worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	w->running = (rc == 0);
	return w->running;
}

/* Waits for the worker; ERROR when its prediction failed. */
static void
predict_worker_finish(PredictWorker *w)
{
	predict_worker_join(w);
	if (!w->ok)
	{
		char	   *nl = strchr(w->err, '\n');

		if (nl)
			*nl = '\0';
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("XGBoost prediction failed: %s", w->err)));
	}
}

/* ---------------------------------------------------------------- fsmml_score */

/* Schema fsmml is installed in (get_extension_schema is static before PG 16). */
static char *
extension_schema(void)
{
	Oid			extoid = get_extension_oid("fsmml", false);
	Oid			nsp = InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *name;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	name = OidIsValid(nsp) ? get_namespace_name(nsp) : NULL;
	if (name == NULL)
		elog(ERROR, "schema of extension fsmml not found");
	return name;
}

static void
create_partitions(TimestampTz from_ts, TimestampTz to_ts)
{
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	int			rc;

	values[0] = TimestampTzGetDatum(from_ts);
	values[1] = TimestampTzGetDatum(to_ts);
	rc = SPI_execute_with_args(psprintf("SELECT %s.fsmml_create_pred_partitions($1, $2)",
										quote_identifier(extension_schema())),
							   2, types, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "creating agentpreds partitions failed: %s", SPI_result_code_string(rc));
}

/*
 * The XGBoost champions of direction agents on (symbol, timeframe), with
 * their models, in id order.  FOR KEY SHARE keeps each version from being
 * deleted (or its id changed) until the predictions written for it commit.
 */
static List *
read_score_champions(const char *symbol, const char *timeframe)
{
	List	   *out = NIL;

	fsmml_spi_series("SELECT v.id, v.agent, v.version, v.model_format, v.model_sha256, "
					 "v.feature_names, v.params->>'horizon', v.model, "
					 "encode(sha256(v.model), 'hex') = v.model_sha256 "
					 "FROM trading.agentversions v JOIN trading.agents a ON a.name = v.agent "
					 "WHERE v.symbol = $1 AND v.timeframe = $2 AND v.status = 'champion' "
					 "AND a.kind = 'direction' "
					 "AND v.model_format IN ('xgboost-ubj', 'xgboost-json') "
					 "ORDER BY v.id FOR KEY SHARE OF v",
					 symbol, timeframe, NULL, false, 0, SPI_OK_SELECT, "reading the champions");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		Champion   *c = fsmml_champion_from_row(tup, SPI_tuptable->tupdesc, true);
		bool		isnull;

		if (!DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc, 9, &isnull)))
			fsmml_report_sha_mismatch(c, fsmml_instance_name(c->agent, symbol, timeframe));
		out = lappend(out, c);
	}
	return out;
}


/*
 * Serialises the writers of one version's predictions (fsmml_score calls
 * scoring the same champion), so the rows found missing by the merge are
 * still missing when inserted.  Held to the end of the transaction.
 */
static void
lock_version_preds(int64 id)
{
	fsmml_lock_version_preds(id);
}

/* Index of the first bar at or after ts (bars ascend). */
static int64
first_bar_at_or_after(const FsmmlBars *bars, TimestampTz ts)
{
	int64		lo = 0,
				hi = bars->n;
	int64		t = fsmml_ts_to_unix(ts);

	if (ts == DT_NOBEGIN)
		return 0;
	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (bars->bars[mid].ts < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}


/* a with the names of b it lacks appended, in b's order. */
static List *
union_names(List *a, List *b)
{
	ListCell   *lb;

	foreach(lb, b)
	{
		ListCell   *la;
		bool		found = false;

		foreach(la, a)
			found |= strcmp(lfirst(la), lfirst(lb)) == 0;
		if (!found)
			a = lappend(a, lfirst(lb));
	}
	return a;
}

static double
ms_since(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_MILLISEC(now);
}

/*
 * Merges m payloads (bars ts[0..m), ascending) with the predictions stored
 * for their bars (one index range scan) and writes the missing (INSERT or
 * direct) and changed (UPDATE) ones.  values[0..3] hold the version id,
 * symbol, timeframe and horizon; the four arrays are scratch of m entries.
 */
void
fsmml_merge_write_batch(const PredPlans *plans, PredTarget *target, Datum *values,
						const int64 *ts, Jsonb **payload, int m, Datum *ins_ts, Datum *ins_j,
						Datum *upd_ts, Datum *upd_j, ScoreStats *st)
{
	instr_time	t0;
	int			rc;
	uint64		nexist;
	uint64		e = 0;
	int			nins = 0;
	int			nupd = 0;

	double		cpu0 = fsmml_cpu_ms();

	if (m == 0)
		return;
	INSTR_TIME_SET_CURRENT(t0);
	values[4] = TimestampTzGetDatum(fsmml_unix_to_ts(ts[0]));
	values[5] = TimestampTzGetDatum(fsmml_unix_to_ts(ts[m - 1]));
	rc = SPI_execute_plan(plans->existing, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading stored predictions failed: %s", SPI_result_code_string(rc));
	nexist = SPI_processed;

	/* Merge: both sides ascend by timestamp. */
	for (int k = 0; k < m; k++)
	{
		TimestampTz tsk = fsmml_unix_to_ts(ts[k]);
		TimestampTz te = 0;
		bool		isnull;

		while (e < nexist &&
			   (te = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[e],
													   SPI_tuptable->tupdesc, 1,
													   &isnull))) < tsk)
			e++;
		if (e < nexist && te == tsk)
		{
			Datum		stored = SPI_getbinval(SPI_tuptable->vals[e], SPI_tuptable->tupdesc,
											   2, &isnull);

			if (!isnull && fsmml_payload_equal(stored, payload[k]))
				st->unchanged++;
			else
			{
				upd_ts[nupd] = TimestampTzGetDatum(tsk);
				upd_j[nupd++] = JsonbPGetDatum(payload[k]);
			}
			e++;
		}
		else
		{
			ins_ts[nins] = TimestampTzGetDatum(tsk);
			ins_j[nins++] = JsonbPGetDatum(payload[k]);
		}
	}
	if (SPI_tuptable)
		SPI_freetuptable(SPI_tuptable);

	if (fsmml_write_rows_direct(target, values, ins_ts, ins_j, nins))
		st->direct += nins;
	else
		fsmml_write_rows(plans->insert, values, ins_ts, ins_j, nins, SPI_OK_INSERT);
	fsmml_write_rows(plans->update, values, upd_ts, upd_j, nupd, SPI_OK_UPDATE);
	st->inserted += nins;
	st->updated += nupd;
	st->write_ms += ms_since(t0);
	fsmml_score_write_cpu_ms += fsmml_cpu_ms() - cpu0;
}

/*
 * The rows a champion scores: its own matrix, or its columns of the rows
 * built for every champion, gathered a batch at a time into one of two
 * buffers (the worker predicts from one while the next is filled).
 */
typedef struct ChampRows
{
	const FsmmlDataset *ds;
	int64		off;			/* first row of ds scored */
	int64		n;
	int			nfeat;
	const int  *col;			/* the champion's columns of ds; NULL: ds->X as it is */
	float	   *buf[2];
} ChampRows;

static const float *
champ_rows(ChampRows *r, int64 row, int64 n, int which)
{
	float	   *d = r->buf[which];

	if (r->col == NULL)
		return r->ds->X + (r->off + row) * r->nfeat;
	for (int64 k = 0; k < n; k++)
	{
		const float *s = r->ds->X + (r->off + row + k) * r->ds->nfeat;

		for (int j = 0; j < r->nfeat; j++)
			d[j] = s[r->col[j]];
		d += r->nfeat;
	}
	return r->buf[which];
}

/*
 * Scores rows [0, r->n) of one champion, SCORE_BATCH rows at a time:
 * the prediction of the next batch runs on the worker while this one is
 * merged with the rows already stored for its bars (one index range scan)
 * and written (one INSERT of the missing rows, one UPDATE of the changed).
 * b must be owned by mcxt.
 */
static void
score_champion(const PredPlans *plans, PredTarget *target, const Champion *c, FsXgbBooster *b,
			   ChampRows *r, const char *symbol, const char *timeframe,
			   MemoryContext mcxt, MemoryContext batchcxt, ScoreStats *st, float *capture)
{
	Datum		values[6];
	float	   *prob = palloc(sizeof(float) * SCORE_BATCH);
	float	   *next = palloc(sizeof(float) * SCORE_BATCH);
	Jsonb	  **payload = palloc(sizeof(Jsonb *) * SCORE_BATCH);
	Datum	   *ins_ts = palloc(sizeof(Datum) * SCORE_BATCH);
	Datum	   *ins_j = palloc(sizeof(Datum) * SCORE_BATCH);
	Datum	   *upd_ts = palloc(sizeof(Datum) * SCORE_BATCH);
	Datum	   *upd_j = palloc(sizeof(Datum) * SCORE_BATCH);
	PredictWorker *w = MemoryContextAllocZero(mcxt, sizeof(PredictWorker));
	instr_time	t0;

	if (r->n == 0)
		return;
	w->cb.func = predict_worker_reset_cb;
	w->cb.arg = w;
	MemoryContextRegisterResetCallback(mcxt, &w->cb);

	values[0] = Int64GetDatum(c->id);
	values[1] = CStringGetTextDatum(symbol);
	values[2] = CStringGetTextDatum(timeframe);
	values[3] = Int32GetDatum(c->horizon);

	INSTR_TIME_SET_CURRENT(t0);
	fsxgb_predict_dense(b, champ_rows(r, 0, Min(SCORE_BATCH, r->n), 0), Min(SCORE_BATCH, r->n),
						r->nfeat, prob, Min(SCORE_BATCH, r->n));
	st->predict_ms += ms_since(t0);

	for (int64 off = 0; off < r->n; off += SCORE_BATCH)
	{
		int			m = (int) Min(SCORE_BATCH, r->n - off);
		int64		noff = off + SCORE_BATCH;
		int			nm = (int) Min(SCORE_BATCH, Max(r->n - noff, 0));
		const int64 *ts = r->ds->ts + r->off + off;
		const float *nx = NULL;
		MemoryContext old;
		bool		async = false;
		float	   *swap;

		CHECK_FOR_INTERRUPTS();
		if (nm > 0)
		{
			nx = champ_rows(r, noff, nm, (int) ((noff / SCORE_BATCH) % 2));
			async = predict_worker_start(w, b, nx, nm, r->nfeat, next);
		}

		INSTR_TIME_SET_CURRENT(t0);
		old = MemoryContextSwitchTo(batchcxt);
		for (int k = 0; k < m; k++)
			payload[k] = fsmml_prob_payload(prob[k]);
		if (capture)
			memcpy(capture + off, prob, sizeof(float) * m);
		st->payload_ms += ms_since(t0);

		fsmml_merge_write_batch(plans, target, values, ts, payload, m, ins_ts, ins_j, upd_ts,
								upd_j, st);
		MemoryContextSwitchTo(old);
		MemoryContextReset(batchcxt);

		/* The next batch's probabilities: from the worker, or computed here. */
		if (nm > 0)
		{
			INSTR_TIME_SET_CURRENT(t0);
			if (async)
				predict_worker_finish(w);
			else
				fsxgb_predict_dense(b, nx, nm, r->nfeat, next, nm);
			st->predict_ms += ms_since(t0);
			swap = prob;
			prob = next;
			next = swap;
		}
	}
}

PG_FUNCTION_INFO_V1(fsmml_score);

Datum
fsmml_score(PG_FUNCTION_ARGS)
{
	char	   *symbol = fsmml_arg_cstring(fcinfo, 0, "symbol");
	char	   *timeframe = fsmml_arg_cstring(fcinfo, 1, "timeframe");
	TimestampTz from_ts;
	TimestampTz to_ts;
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext opcxt;
	MemoryContext champcxt;
	MemoryContext batchcxt;
	List	   *champs;
	ListCell   *lc;
	FsmmlBars  *bars;
	int64		row_from;
	int64		written = 0;
	instr_time	t0;
	double		read_ms;
	double		features_ms;
	double		shared_ms = 0;
	int64		nagents;
	double		cpu_start;
	float	   *capture = NULL;
	int64		capture_id = 0;
	FsmmlDataset *shared = NULL;

	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("from_ts and to_ts must not be NULL"),
				 errhint("Pass the range of bars to score; '-infinity' and 'infinity' are accepted.")));
	from_ts = PG_GETARG_TIMESTAMPTZ(2);
	to_ts = PG_GETARG_TIMESTAMPTZ(3);
	fsmml_timeframe_usec(timeframe);	/* ERROR when invalid */
	if (from_ts > to_ts)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid scoring range [%s, %s]",
						pstrdup(timestamptz_to_str(from_ts)), pstrdup(timestamptz_to_str(to_ts))),
				 errhint("Pass from_ts <= to_ts.")));

	cpu_start = fsmml_cpu_ms();
	fsmml_score_write_cpu_ms = 0;
	opcxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml score", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(opcxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	champs = read_score_champions(symbol, timeframe);
	nagents = fsmml_count_agent_champions(symbol, timeframe);
	if (champs == NIL && nagents > 0)
		ereport(NOTICE,
				(errmsg("%s %s has no XGBoost direction champion: signals are flat (side 0)",
						symbol, timeframe),
				 errhint("%s", fsmml_no_champion_hint)));
	if (champs == NIL && nagents == 0)
	{
		ereport(NOTICE,
				(errmsg("%s %s has no XGBoost direction champion; nothing scored", symbol, timeframe),
				 errhint("%s", fsmml_no_champion_hint)));
		SPI_finish();
		MemoryContextSwitchTo(oldcxt);
		MemoryContextDelete(opcxt);
		PG_RETURN_INT64(0);
	}

	/* Every bar up to to_ts: those before from_ts only warm the kernel up. */
	INSTR_TIME_SET_CURRENT(t0);
	bars = fsmml_read_bars(symbol, timeframe, DT_NOBEGIN, to_ts, opcxt);
	read_ms = ms_since(t0);
	row_from = first_bar_at_or_after(bars, from_ts);
	if (row_from < bars->n)
	{
		PredPlans	plans;
		PredTarget	target;

		create_partitions(fsmml_unix_to_ts(bars->bars[row_from].ts),
						  fsmml_unix_to_ts(bars->bars[bars->n - 1].ts));
		plans = fsmml_prepare_pred_plans();
		fsmml_pred_target_open(&target);
		champcxt = AllocSetContextCreate(opcxt, "fsmml score champion", ALLOCSET_DEFAULT_SIZES);
		batchcxt = AllocSetContextCreate(opcxt, "fsmml score batch", ALLOCSET_DEFAULT_SIZES);

		/*
		 * With agents, the kernel runs once: every champion's columns from
		 * the bar before the range (the agents' first row); each direction
		 * champion takes its columns from these rows.
		 */
		if (nagents > 0)
		{
			List	   *want = NIL;

			INSTR_TIME_SET_CURRENT(t0);
			foreach(lc, champs)
			{
				Champion   *c = lfirst(lc);

				want = union_names(want,
											  fsmml_champion_features(c, timeframe,
																	  fsmml_instance_name(c->agent, symbol, timeframe)));
			}
			want = union_names(want,
										  fsmml_resolve_features(timeframe,
																 fsmml_agent_features(symbol, timeframe)));
			shared = fsmml_dataset_build(symbol, timeframe, bars, Max(row_from - 1, 0), bars->n,
										 want, 0, false, opcxt);
			shared_ms = ms_since(t0);
		}
		foreach(lc, champs)
		{
			Champion   *c = lfirst(lc);
			char	   *instance = fsmml_instance_name(c->agent, symbol, timeframe);
			MemoryContext old = MemoryContextSwitchTo(champcxt);
			List	   *features;
			FsXgbBooster *b;
			FsmmlDataset *ds;
			ChampRows	rows;
			ScoreStats	st;

			memset(&st, 0, sizeof(st));
			lock_version_preds(c->id);
			features = fsmml_champion_features(c, timeframe, instance);
			b = fsmml_load_booster(champcxt, c, c->model, instance);
			INSTR_TIME_SET_CURRENT(t0);
			memset(&rows, 0, sizeof(rows));
			rows.nfeat = list_length(features);
			rows.col = NULL;
			if (shared)
			{
				int		   *col = palloc(sizeof(int) * Max(rows.nfeat, 1));

				if (fsmml_dataset_columns(shared, features, col))
				{
					rows.ds = shared;
					rows.off = row_from - Max(row_from - 1, 0);
					rows.n = shared->nrows - rows.off;
					rows.col = col;
					rows.buf[0] = palloc(sizeof(float) * SCORE_BATCH * Max(rows.nfeat, 1));
					rows.buf[1] = palloc(sizeof(float) * SCORE_BATCH * Max(rows.nfeat, 1));
				}
			}
			if (rows.col == NULL)
			{
				ds = fsmml_dataset_build(symbol, timeframe, bars, row_from, bars->n,
										 features, 0, false, champcxt);
				rows.ds = ds;
				rows.n = ds->nrows;
			}
			features_ms = shared_ms + ms_since(t0);
			/* DirectionXGB's probabilities feed ExecRules and the ensemble */
			if (capture == NULL && strcmp(c->agent, "DirectionXGB") == 0)
			{
				capture = MemoryContextAllocHuge(opcxt, sizeof(float) * Max(rows.n, 1));
				capture_id = c->id;
			}
			score_champion(&plans, &target, c, b, &rows, symbol, timeframe, champcxt, batchcxt, &st,
						   capture_id == c->id ? capture : NULL);
			written += st.inserted + st.updated + st.unchanged;
			ereport(DEBUG1,
					(errmsg("fsmml_score %s %s: " INT64_FORMAT " inserted (" INT64_FORMAT
							" directly), " INT64_FORMAT " updated, " INT64_FORMAT " unchanged",
							instance, c->version, st.inserted, st.direct, st.updated,
							st.unchanged),
					 errdetail("bars " INT64_FORMAT " read in %.0f ms, features %.0f ms, "
							   "prediction %.0f ms (not overlapped), payloads %.0f ms, merge and write %.0f ms",
							   bars->n, read_ms, features_ms, st.predict_ms, st.payload_ms,
							   st.write_ms)));
			MemoryContextSwitchTo(old);
			MemoryContextReset(champcxt);	/* frees the booster and the matrix */
		}
		if (nagents > 0)
			written += fsmml_score_agents(symbol, timeframe, bars, row_from, capture, capture_id,
										  shared, &plans, &target, opcxt);
		fsmml_pred_target_close(&target);
	}

	/* DEBUG2: timings change every run (bench/score_agents.sh reads this line). */
	ereport(DEBUG2,
			(errmsg("fsmml_score %s %s: process CPU %.0f ms, of which writing %.0f ms",
					symbol, timeframe, fsmml_cpu_ms() - cpu_start, fsmml_score_write_cpu_ms)));
	SPI_finish();
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(opcxt);
	PG_RETURN_INT64(written);
}
