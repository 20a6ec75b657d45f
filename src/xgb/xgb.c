/*
 * xgb.c — XGBoost 1.7 C API wrapper: handles owned by memory contexts,
 * XGBoost errors as ereport(ERROR), XGBoost logs as NOTICE/WARNING.
 *
 * See xgb.h for the contract.  Notes on XGBoost 1.7 found while writing it:
 *
 *  - XGBGetLastError() and the log callback registry are thread-local to the
 *    calling thread; our callback is registered from the backend thread.
 *    Log lines from OpenMP workers (rare) go to XGBoost's default sink
 *    (stderr → the server log).  The callback still takes a mutex.
 *  - The in-place predict config must carry "missing" as a JSON *float*;
 *    XGBoost's JSON reader accepts the literal NaN (as Python's json.dumps
 *    writes it), so the config is {"missing": NaN, ...}.
 *  - XGBoosterLoadModelFromBuffer trusts its input: a truncated UBJ blob
 *    segfaults, a tree whose child index points past the end segfaults in
 *    prediction and a child pointing back to an ancestor loops forever.
 *    fsxgb_model_validate() checks all of that before XGBoost sees a blob.
 */
#include "postgres.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "fsmml.h"
#include "xgb.h"

/* Predict configs.  "missing": NaN is accepted by XGBoost's JSON reader. */
#define FSXGB_PREDICT_CONFIG \
	"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, " \
	"\"iteration_end\": 0, \"strict_shape\": false}"
#define FSXGB_INPLACE_CONFIG \
	"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, " \
	"\"iteration_end\": 0, \"strict_shape\": false, \"missing\": NaN, " \
	"\"cache_id\": 0}"

#define FSXGB_PARAM_HINT \
	"See https://xgboost.readthedocs.io/en/release_1.7.0/parameter.html for XGBoost's parameters and their valid values."
#define FSXGB_CORRUPT_HINT \
	"The stored model is damaged or was not written by fsmml's XGBoost 1.7; train it again."

/* ------------------------------------------------------------------------
 * Initialisation, signals, logs, errors
 * ------------------------------------------------------------------------ */

static bool fsxgb_initialized = false;
static sigset_t fsxgb_blocked_signals;

#define FSXGB_LOGBUF_SIZE 16384
static pthread_mutex_t fsxgb_log_mutex = PTHREAD_MUTEX_INITIALIZER;
static char fsxgb_log_buf[FSXGB_LOGBUF_SIZE];	/* messages, each NUL-ended */
static size_t fsxgb_log_len = 0;
static bool fsxgb_log_dropped = false;
static char fsxgb_log_copy[FSXGB_LOGBUF_SIZE];	/* backend thread only */

/*
 * XGBoost's log callback.  May run on any thread: no palloc, no elog; only
 * append to the static buffer under the mutex.
 */
static void
fsxgb_log_callback(const char *msg)
{
	size_t		n;

	if (msg == NULL)
		return;
	n = strlen(msg);
	pthread_mutex_lock(&fsxgb_log_mutex);
	if (fsxgb_log_len + n + 1 <= FSXGB_LOGBUF_SIZE)
	{
		memcpy(fsxgb_log_buf + fsxgb_log_len, msg, n);
		fsxgb_log_buf[fsxgb_log_len + n] = '\0';
		fsxgb_log_len += n + 1;
	}
	else
		fsxgb_log_dropped = true;
	pthread_mutex_unlock(&fsxgb_log_mutex);
}

static inline void
fsxgb_signals_block(sigset_t *old)
{
	pthread_sigmask(SIG_BLOCK, &fsxgb_blocked_signals, old);
}

static inline void
fsxgb_signals_restore(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/*
 * Turn an XGBoost error or log message into (first line, rest): drop the
 * "[hh:mm:ss] " timestamp, a "WARNING: " label, the "path/file.cc:123: "
 * source location and the stack trace, so messages are stable across runs.
 */
static void
fsxgb_clean_message(const char *raw, char **msg_out, char **detail_out, bool *is_warning)
{
	char	   *s = pstrdup(raw ? raw : "");
	char	   *p = s;
	char	   *q;
	char	   *nl;
	char	   *end;

	if (is_warning)
		*is_warning = false;
	if ((q = strstr(s, "Stack trace:")) != NULL)
		*q = '\0';

	while (is_space(*p))
		p++;
	/* timestamp */
	if (*p == '[' && (q = strchr(p, ']')) != NULL && q - p <= 12 && q[1] == ' ')
		p = q + 2;
	/* level label */
	if (strncmp(p, "WARNING: ", 9) == 0)
	{
		if (is_warning)
			*is_warning = true;
		p += 9;
	}
	else if (strncmp(p, "INFO: ", 6) == 0)
		p += 6;
	else if (strncmp(p, "DEBUG: ", 7) == 0)
		p += 7;
	/* source location: a token without blanks ending in ":<digits>" */
	if ((q = strstr(p, ": ")) != NULL && q > p)
	{
		char	   *t;
		char	   *colon = NULL;
		bool		ok = true;

		for (t = p; t < q; t++)
		{
			if (is_space(*t))
			{
				ok = false;
				break;
			}
			if (*t == ':')
				colon = t;
		}
		if (ok && colon != NULL && colon + 1 < q)
		{
			for (t = colon + 1; t < q; t++)
				if (*t < '0' || *t > '9')
					ok = false;
			if (ok)
				p = q + 2;
		}
	}
	while (is_space(*p))
		p++;
	end = p + strlen(p);
	while (end > p && is_space(end[-1]))
		*--end = '\0';

	nl = strchr(p, '\n');
	if (nl != NULL)
	{
		char	   *d = nl + 1;

		*nl = '\0';
		while (nl > p && is_space(nl[-1]))
			*--nl = '\0';
		while (is_space(*d))
			d++;
		*detail_out = (*d != '\0') ? d : NULL;
	}
	else
		*detail_out = NULL;
	*msg_out = p;
}

/* Re-raise collected XGBoost log messages from the backend thread. */
static void
fsxgb_log_flush(void)
{
	size_t		len;
	bool		dropped;
	size_t		off = 0;

	pthread_mutex_lock(&fsxgb_log_mutex);
	len = fsxgb_log_len;
	dropped = fsxgb_log_dropped;
	if (len > 0)
		memcpy(fsxgb_log_copy, fsxgb_log_buf, len);
	fsxgb_log_len = 0;
	fsxgb_log_dropped = false;
	pthread_mutex_unlock(&fsxgb_log_mutex);

	while (off < len)
	{
		const char *raw = fsxgb_log_copy + off;
		char	   *msg;
		char	   *detail;
		bool		warning;

		off += strlen(raw) + 1;
		fsxgb_clean_message(raw, &msg, &detail, &warning);
		if (*msg == '\0' && detail == NULL)
			continue;
		if (*msg == '\0')
		{
			msg = detail;
			detail = NULL;
		}
		ereport(warning ? WARNING : NOTICE,
				(errmsg("XGBoost: %s", msg),
				 detail ? errdetail_internal("%s", detail) : 0));
	}
	if (dropped)
		ereport(NOTICE,
				(errmsg("XGBoost: further log messages were dropped")));
}

static int
fsxgb_classify(const char *msg)
{
	if (strstr(msg, "Parameter") != NULL ||
		strstr(msg, "parameter") != NULL ||
		strstr(msg, "Invalid Input") != NULL ||
		strstr(msg, "Unknown objective") != NULL ||
		strstr(msg, "Unknown metric") != NULL ||
		strstr(msg, "Unknown gbm") != NULL ||
		strstr(msg, "Unknown tree updater") != NULL ||
		strstr(msg, "Unknown updater") != NULL ||
		strstr(msg, "Unknown predictor") != NULL)
		return ERRCODE_INVALID_PARAMETER_VALUE;
	return ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;
}

/* sqlstate 0 = classify from the message */
static void
fsxgb_raise(const char *raw, const char *what, int sqlstate)
{
	char	   *msg;
	char	   *detail;

	fsxgb_clean_message(raw, &msg, &detail, NULL);
	if (*msg == '\0')
		msg = "unknown error";
	if (sqlstate == 0)
		sqlstate = fsxgb_classify(msg);

	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("XGBoost %s failed: %s", what, msg),
			 detail ? errdetail_internal("%s", detail) : 0,
			 sqlstate == ERRCODE_INVALID_PARAMETER_VALUE ? errhint(FSXGB_PARAM_HINT) :
			 sqlstate == ERRCODE_DATA_CORRUPTED ? errhint(FSXGB_CORRUPT_HINT) : 0));
}

/* After every XGBoost call, on the backend thread. */
static void
fsxgb_after_call(int rc, const char *what, int sqlstate)
{
	char	   *err = NULL;

	if (rc != 0)
		err = pstrdup(XGBGetLastError());
	fsxgb_log_flush();
	if (rc != 0)
		fsxgb_raise(err, what, sqlstate);
	CHECK_FOR_INTERRUPTS();
}

/*
 * Run one XGBoost call with asynchronous signals blocked (threads XGBoost
 * starts inherit the mask), then flush logs, raise its error, and honour a
 * pending cancel.
 */
#define FSXGB_CALL(what, sqlstate, call) \
	do { \
		int			fsxgb_rc_; \
		sigset_t	fsxgb_oldmask_; \
		fsxgb_signals_block(&fsxgb_oldmask_); \
		fsxgb_rc_ = (call); \
		fsxgb_signals_restore(&fsxgb_oldmask_); \
		fsxgb_after_call(fsxgb_rc_, (what), (sqlstate)); \
	} while (0)

#define FSXGB_EXTERNAL ERRCODE_EXTERNAL_ROUTINE_EXCEPTION
#define FSXGB_CLASSIFY 0

void
fsxgb_init(void)
{
	if (fsxgb_initialized)
		return;

	sigfillset(&fsxgb_blocked_signals);
	/* synchronous signals must stay deliverable */
	sigdelset(&fsxgb_blocked_signals, SIGSEGV);
	sigdelset(&fsxgb_blocked_signals, SIGBUS);
	sigdelset(&fsxgb_blocked_signals, SIGFPE);
	sigdelset(&fsxgb_blocked_signals, SIGILL);
	sigdelset(&fsxgb_blocked_signals, SIGTRAP);
	sigdelset(&fsxgb_blocked_signals, SIGABRT);
	sigdelset(&fsxgb_blocked_signals, SIGSYS);

	if (XGBRegisterLogCallback(fsxgb_log_callback) != 0)
		fsxgb_raise(XGBGetLastError(), "log callback registration", FSXGB_EXTERNAL);
	if (XGBSetGlobalConfig("{\"verbosity\": 1}") != 0)
		fsxgb_raise(XGBGetLastError(), "global configuration", FSXGB_EXTERNAL);
	fsxgb_initialized = true;
}

char *
fsxgb_version(void)
{
	int			major,
				minor,
				patch;

	XGBoostVersion(&major, &minor, &patch);
	return psprintf("%d.%d.%d", major, minor, patch);
}

/* ------------------------------------------------------------------------
 * cJSON owned by memory contexts
 * ------------------------------------------------------------------------ */

typedef struct FsOwnedJson
{
	MemoryContextCallback cb;
	cJSON	   *json;
} FsOwnedJson;

static void
fsxgb_json_reset_cb(void *arg)
{
	FsOwnedJson *o = (FsOwnedJson *) arg;

	if (o->json != NULL)
	{
		cJSON_Delete(o->json);
		o->json = NULL;
	}
}

static FsOwnedJson *
fsxgb_json_holder(MemoryContext owner)
{
	FsOwnedJson *o = MemoryContextAllocZero(owner, sizeof(FsOwnedJson));

	o->cb.func = fsxgb_json_reset_cb;
	o->cb.arg = o;
	MemoryContextRegisterResetCallback(owner, &o->cb);
	return o;
}

cJSON *
fsxgb_json_parse_owned(const char *s, MemoryContext owner)
{
	FsOwnedJson *o = fsxgb_json_holder(owner);

	o->json = cJSON_Parse(s);
	if (o->json == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid JSON document")));
	return o->json;
}

cJSON *
fsxgb_json_own(cJSON *json, MemoryContext owner)
{
	FsOwnedJson *o = fsxgb_json_holder(owner);

	o->json = json;
	return json;
}

char *
fsxgb_json_print(const cJSON *json)
{
	char	   *s = cJSON_PrintUnformatted(json);
	char	   *p;
	size_t		n;

	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	n = strlen(s);
	p = MemoryContextAllocExtended(CurrentMemoryContext, n + 1, MCXT_ALLOC_NO_OOM);
	if (p != NULL)
		memcpy(p, s, n + 1);
	cJSON_free(s);
	if (p == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return p;
}

/* ------------------------------------------------------------------------
 * DMatrix
 * ------------------------------------------------------------------------ */

/*
 * Free a handle from a memory context reset callback: no ereport here (we
 * may be unwinding an ERROR), and whatever XGBoost logs while freeing (the
 * verbosity-3 monitor report) would surface in some later, unrelated call,
 * so it is discarded.  Free explicitly to see it.
 */
static void
fsxgb_free_quietly(int (*freefn) (void *), void *handle)
{
	size_t		mark;

	pthread_mutex_lock(&fsxgb_log_mutex);
	mark = fsxgb_log_len;
	pthread_mutex_unlock(&fsxgb_log_mutex);

	(void) freefn(handle);

	pthread_mutex_lock(&fsxgb_log_mutex);
	if (fsxgb_log_len > mark)
		fsxgb_log_len = mark;
	pthread_mutex_unlock(&fsxgb_log_mutex);
}

static void
fsxgb_matrix_reset_cb(void *arg)
{
	FsXgbMatrix *m = (FsXgbMatrix *) arg;

	if (m->handle != NULL)
	{
		DMatrixHandle h = m->handle;

		m->handle = NULL;
		fsxgb_free_quietly(XGDMatrixFree, h);
	}
}

static void
fsxgb_matrix_check(FsXgbMatrix *m)
{
	if (m == NULL || m->handle == NULL)
		elog(ERROR, "XGBoost DMatrix used after it was freed");
}

FsXgbMatrix *
fsxgb_matrix_create(MemoryContext owner, const float *data, uint64 nrow, uint64 ncol,
					const float *labels, int nthread)
{
	FsXgbMatrix *m;

	fsxgb_init();
	if (ncol == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an XGBoost matrix needs at least one column")));
	if (nrow > 0 && data == NULL)
		elog(ERROR, "fsxgb_matrix_create: no data");

	/* owned before XGBoost allocates anything */
	m = MemoryContextAllocZero(owner, sizeof(FsXgbMatrix));
	m->owner = owner;
	m->nrow = nrow;
	m->ncol = ncol;
	m->cb.func = fsxgb_matrix_reset_cb;
	m->cb.arg = m;
	MemoryContextRegisterResetCallback(owner, &m->cb);

	FSXGB_CALL("DMatrix creation", FSXGB_EXTERNAL,
			   XGDMatrixCreateFromMat_omp(data, (bst_ulong) nrow, (bst_ulong) ncol,
										  NAN, &m->handle, nthread));
	if (labels != NULL)
		fsxgb_matrix_set_labels(m, labels, nrow);
	return m;
}

void
fsxgb_matrix_set_float_info(FsXgbMatrix *m, const char *field, const float *values, uint64 n)
{
	fsxgb_matrix_check(m);
	FSXGB_CALL("DMatrix info", FSXGB_CLASSIFY,
			   XGDMatrixSetFloatInfo(m->handle, field, values, (bst_ulong) n));
}

void
fsxgb_matrix_set_labels(FsXgbMatrix *m, const float *labels, uint64 n)
{
	fsxgb_matrix_check(m);
	if (n != m->nrow)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("XGBoost matrix has " UINT64_FORMAT " rows but " UINT64_FORMAT " labels were given",
						m->nrow, n)));
	fsxgb_matrix_set_float_info(m, "label", labels, n);
}

void
fsxgb_matrix_set_feature_names(FsXgbMatrix *m, const char *const *names, int n)
{
	fsxgb_matrix_check(m);
	if (n < 0 || (uint64) n != m->ncol)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("XGBoost matrix has " UINT64_FORMAT " columns but %d feature names were given",
						m->ncol, n)));
	FSXGB_CALL("feature names", FSXGB_CLASSIFY,
			   XGDMatrixSetStrFeatureInfo(m->handle, "feature_name",
										  (const char **) names, (bst_ulong) n));
}

void
fsxgb_matrix_free(FsXgbMatrix *m)
{
	DMatrixHandle h;

	if (m == NULL || m->handle == NULL)
		return;
	h = m->handle;
	m->handle = NULL;
	FSXGB_CALL("DMatrix free", FSXGB_EXTERNAL, XGDMatrixFree(h));
}

/* ------------------------------------------------------------------------
 * Booster
 * ------------------------------------------------------------------------ */

static void
fsxgb_booster_reset_cb(void *arg)
{
	FsXgbBooster *b = (FsXgbBooster *) arg;

	if (b->handle != NULL)
	{
		BoosterHandle h = b->handle;

		b->handle = NULL;
		fsxgb_free_quietly(XGBoosterFree, h);
	}
}

static void
fsxgb_booster_check(FsXgbBooster *b)
{
	if (b == NULL || b->handle == NULL)
		elog(ERROR, "XGBoost booster used after it was freed");
}

/* The struct, registered with owner; the handle is still NULL. */
static FsXgbBooster *
fsxgb_booster_alloc(MemoryContext owner, bool scoring)
{
	FsXgbBooster *b;

	fsxgb_init();
	b = MemoryContextAllocZero(owner, sizeof(FsXgbBooster));
	b->owner = owner;
	b->scoring = scoring;
	b->nthread = -1;
	b->inplace = -1;
	b->cb.func = fsxgb_booster_reset_cb;
	b->cb.arg = b;
	MemoryContextRegisterResetCallback(owner, &b->cb);
	return b;
}

/* A scoring booster follows fsmml.nthread, also when it changes later. */
static void
fsxgb_scoring_threads(FsXgbBooster *b)
{
	if (b->scoring && b->nthread != fsmml_nthread)
	{
		char		buf[16];

		snprintf(buf, sizeof(buf), "%d", fsmml_nthread);
		fsxgb_booster_set_param(b, "nthread", buf);
		b->nthread = fsmml_nthread;
	}
}

FsXgbBooster *
fsxgb_booster_create(MemoryContext owner, FsXgbMatrix *const *cache, int ncache, bool training)
{
	FsXgbBooster *b;
	DMatrixHandle *handles = NULL;
	int			i;

	if (ncache < 0)
		elog(ERROR, "fsxgb_booster_create: negative cache size");
	if (ncache > 0)
	{
		handles = palloc(sizeof(DMatrixHandle) * ncache);
		for (i = 0; i < ncache; i++)
		{
			fsxgb_matrix_check(cache[i]);
			handles[i] = cache[i]->handle;
		}
	}

	b = fsxgb_booster_alloc(owner, !training);
	/* a previous training's "verbosity" param sticks in XGBoost's globals */
	FSXGB_CALL("global configuration", FSXGB_EXTERNAL,
			   XGBSetGlobalConfig("{\"verbosity\": 1}"));
	FSXGB_CALL("booster creation", FSXGB_EXTERNAL,
			   XGBoosterCreate(handles, (bst_ulong) ncache, &b->handle));

	if (training)
	{
		char		buf[16];

		snprintf(buf, sizeof(buf), "%d", fsmml_train_nthread);
		fsxgb_booster_set_param(b, "nthread", buf);
		fsxgb_booster_set_param(b, "validate_parameters", "1");

		if (ncache > 0)
		{
			bst_ulong	nnames = 0;
			const char **names = NULL;

			FSXGB_CALL("feature names", FSXGB_EXTERNAL,
					   XGDMatrixGetStrFeatureInfo(handles[0], "feature_name",
												  &nnames, &names));
			if (nnames > 0)
			{
				char	  **copy = palloc(sizeof(char *) * nnames);
				bst_ulong	k;

				for (k = 0; k < nnames; k++)
					copy[k] = pstrdup(names[k]);
				FSXGB_CALL("feature names", FSXGB_EXTERNAL,
						   XGBoosterSetStrFeatureInfo(b->handle, "feature_name",
													  (const char **) copy, nnames));
				pfree(copy);
			}
		}
	}
	else
		fsxgb_scoring_threads(b);

	if (handles)
		pfree(handles);
	return b;
}

FsXgbBooster *
fsxgb_booster_load(MemoryContext owner, const void *buf, Size len)
{
	FsXgbBooster *b;

	fsxgb_init();
	fsxgb_model_validate(buf, len);

	b = fsxgb_booster_alloc(owner, true);
	FSXGB_CALL("booster creation", FSXGB_EXTERNAL,
			   XGBoosterCreate(NULL, 0, &b->handle));
	FSXGB_CALL("model load", ERRCODE_DATA_CORRUPTED,
			   XGBoosterLoadModelFromBuffer(b->handle, buf, (bst_ulong) len));
	fsxgb_scoring_threads(b);
	return b;
}

FsXgbBooster *
fsxgb_booster_load_bytea(MemoryContext owner, bytea *blob)
{
	return fsxgb_booster_load(owner, VARDATA_ANY(blob), VARSIZE_ANY_EXHDR(blob));
}

FsXgbBooster *
fsxgb_booster_slice(MemoryContext owner, FsXgbBooster *b, int begin, int end)
{
	FsXgbBooster *nb;

	fsxgb_booster_check(b);
	if (begin < 0 || end < 0 || (end != 0 && end <= begin))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid XGBoost model slice [%d, %d)", begin, end)));
	nb = fsxgb_booster_alloc(owner, true);
	FSXGB_CALL("model slice", ERRCODE_INVALID_PARAMETER_VALUE,
			   XGBoosterSlice(b->handle, begin, end, 1, &nb->handle));
	fsxgb_scoring_threads(nb);
	return nb;
}

void
fsxgb_booster_free(FsXgbBooster *b)
{
	BoosterHandle h;

	if (b == NULL || b->handle == NULL)
		return;
	h = b->handle;
	b->handle = NULL;
	FSXGB_CALL("booster free", FSXGB_EXTERNAL, XGBoosterFree(h));
}

void
fsxgb_booster_set_param(FsXgbBooster *b, const char *key, const char *value)
{
	sigset_t	oldmask;
	int			rc;

	fsxgb_booster_check(b);
	fsxgb_signals_block(&oldmask);
	rc = XGBoosterSetParam(b->handle, key, value);
	fsxgb_signals_restore(&oldmask);
	if (rc != 0)
	{
		char	   *err = pstrdup(XGBGetLastError());

		fsxgb_log_flush();
		fsxgb_raise(err, psprintf("parameter \"%s\"", key), ERRCODE_INVALID_PARAMETER_VALUE);
	}
	fsxgb_after_call(0, NULL, 0);
}

/* Numeric as text; an integral value written as 6.0 becomes "6". */
static char *
fsxgb_numeric_text(Numeric num)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	char	   *dot = strchr(s, '.');

	if (dot != NULL && strpbrk(s, "eE") == NULL)
	{
		char	   *t = dot + 1;

		while (*t == '0')
			t++;
		if (*t == '\0')
			*dot = '\0';
	}
	return s;
}

/* The string XGBoost gets for a scalar jsonb value; NULL if not scalar. */
static char *
fsxgb_jsonb_scalar_text(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return fsxgb_numeric_text(v->val.numeric);
		case jbvBool:
			return pstrdup(v->val.boolean ? "1" : "0");
		default:
			return NULL;
	}
}

void
fsxgb_booster_set_params_jsonb(FsXgbBooster *b, Jsonb *params)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	fsxgb_booster_check(b);
	if (params == NULL || !JB_ROOT_IS_OBJECT(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("XGBoost parameters must be a JSON object"),
				 errhint("For example '{\"max_depth\": 4, \"eta\": 0.1}'.")));

	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;

		if (v.type == jbvNull)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("XGBoost parameter \"%s\" is null", key),
					 errhint("Leave the key out to use XGBoost's default.")));
		if (v.type == jbvBinary)
		{
			JsonbContainer *jc = v.val.binary.data;

			if (strcmp(key, "eval_metric") == 0 && JsonContainerIsArray(jc) &&
				!JsonContainerIsScalar(jc))
			{
				JsonbIterator *ait = JsonbIteratorInit(jc);
				JsonbValue	ev;
				JsonbIteratorToken atok;

				while ((atok = JsonbIteratorNext(&ait, &ev, true)) != WJB_DONE)
				{
					char	   *s;

					if (atok != WJB_ELEM)
						continue;
					if (ev.type != jbvString || (s = fsxgb_jsonb_scalar_text(&ev)) == NULL)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("XGBoost parameter \"eval_metric\" must be a string or an array of strings")));
					fsxgb_booster_set_param(b, key, s);
				}
				continue;
			}
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("XGBoost parameter \"%s\" must be a string, number or boolean", key),
					 errhint("XGBoost parameters are flat key/value pairs; only \"eval_metric\" takes an array (of metric names). Write structured values such as monotone_constraints as strings, e.g. \"(1,0,-1)\".")));
		}
		fsxgb_booster_set_param(b, key, fsxgb_jsonb_scalar_text(&v));
	}
}

char *
fsxgb_jsonb_get_string(Jsonb *params, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	if (params == NULL || !JB_ROOT_IS_OBJECT(params))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&params->root, JB_FOBJECT, &k);
	if (v != NULL && v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	return NULL;
}

void
fsxgb_booster_update(FsXgbBooster *b, int iter, FsXgbMatrix *dtrain)
{
	fsxgb_booster_check(b);
	fsxgb_matrix_check(dtrain);
	FSXGB_CALL("training round", FSXGB_CLASSIFY,
			   XGBoosterUpdateOneIter(b->handle, iter, dtrain->handle));
}

char *
fsxgb_booster_eval(FsXgbBooster *b, int iter, FsXgbMatrix *const *mats,
				   const char *const *names, int n)
{
	DMatrixHandle *handles;
	const char *out = NULL;
	int			i;

	fsxgb_booster_check(b);
	if (n <= 0)
		elog(ERROR, "fsxgb_booster_eval: no matrices");
	handles = palloc(sizeof(DMatrixHandle) * n);
	for (i = 0; i < n; i++)
	{
		fsxgb_matrix_check(mats[i]);
		handles[i] = mats[i]->handle;
	}
	FSXGB_CALL("evaluation", FSXGB_CLASSIFY,
			   XGBoosterEvalOneIter(b->handle, iter, handles, (const char **) names,
									(bst_ulong) n, &out));
	pfree(handles);
	return pstrdup(out ? out : "");
}

bool
fsxgb_eval_metric(const char *evalstr, const char *dataname, const char *metric,
				  double *value)
{
	size_t		dlen = strlen(dataname);
	const char *p = evalstr;
	bool		found = false;

	if (evalstr == NULL)
		return false;
	/* "[iter]\tname-metric:value\tname-metric:value..." */
	while (p != NULL && *p != '\0')
	{
		const char *tab = strchr(p, '\t');
		const char *end = tab ? tab : p + strlen(p);

		if ((size_t) (end - p) > dlen + 1 && strncmp(p, dataname, dlen) == 0 && p[dlen] == '-')
		{
			const char *m = p + dlen + 1;
			const char *colon = NULL;
			const char *t;

			for (t = m; t < end; t++)
				if (*t == ':')
					colon = t;
			if (colon != NULL &&
				(metric == NULL ||
				 ((size_t) (colon - m) == strlen(metric) && strncmp(m, metric, colon - m) == 0)))
			{
				char		num[64];
				size_t		nlen = end - colon - 1;
				char	   *stop;
				double		d;

				if (nlen > 0 && nlen < sizeof(num))
				{
					memcpy(num, colon + 1, nlen);
					num[nlen] = '\0';
					d = strtod(num, &stop);
					if (stop != num)
					{
						*value = d;
						found = true;
						if (metric != NULL)
							return true;
					}
				}
			}
		}
		p = tab ? tab + 1 : NULL;
	}
	return found;
}

bytea *
fsxgb_booster_save(FsXgbBooster *b, const char *format)
{
	bst_ulong	len = 0;
	const char *ptr = NULL;
	bytea	   *result;

	fsxgb_booster_check(b);
	if (format == NULL || (strcmp(format, "ubj") != 0 && strcmp(format, "json") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("XGBoost model format must be \"ubj\" or \"json\"")));
	FSXGB_CALL("model save", FSXGB_EXTERNAL,
			   XGBoosterSaveModelToBuffer(b->handle,
										  strcmp(format, "ubj") == 0 ?
										  "{\"format\": \"ubj\"}" : "{\"format\": \"json\"}",
										  &len, &ptr));
	if ((uint64) len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("XGBoost model of " UINT64_FORMAT " bytes is too large", (uint64) len)));
	result = (bytea *) palloc(len + VARHDRSZ);
	SET_VARSIZE(result, len + VARHDRSZ);
	memcpy(VARDATA(result), ptr, len);
	return result;
}

uint64
fsxgb_booster_num_features(FsXgbBooster *b)
{
	bst_ulong	n = 0;

	fsxgb_booster_check(b);
	FSXGB_CALL("feature count", FSXGB_EXTERNAL, XGBoosterGetNumFeature(b->handle, &n));
	return (uint64) n;
}

int
fsxgb_booster_boosted_rounds(FsXgbBooster *b)
{
	int			n = 0;

	fsxgb_booster_check(b);
	FSXGB_CALL("round count", FSXGB_EXTERNAL, XGBoosterBoostedRounds(b->handle, &n));
	return n;
}

char *
fsxgb_booster_config(FsXgbBooster *b)
{
	bst_ulong	len = 0;
	const char *str = NULL;

	fsxgb_booster_check(b);
	FSXGB_CALL("configuration", FSXGB_CLASSIFY,
			   XGBoosterSaveJsonConfig(b->handle, &len, &str));
	return pnstrdup(str ? str : "", len);
}

cJSON *
fsxgb_booster_config_json(FsXgbBooster *b, MemoryContext owner)
{
	char	   *s = fsxgb_booster_config(b);
	cJSON	   *j = fsxgb_json_parse_owned(s, owner);

	pfree(s);
	return j;
}

/* config → learner → <section> → <key>, as a string (XGBoost writes numbers
 * in its config as strings); NULL when absent. */
static char *
fsxgb_config_learner_string(FsXgbBooster *b, const char *section, const char *key)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "fsxgb config",
											  ALLOCSET_SMALL_SIZES);
	cJSON	   *root = fsxgb_booster_config_json(b, tmp);
	cJSON	   *n = cJSON_GetObjectItemCaseSensitive(root, "learner");
	char	   *result = NULL;

	n = cJSON_GetObjectItemCaseSensitive(n, section);
	n = cJSON_GetObjectItemCaseSensitive(n, key);
	if (cJSON_IsString(n))
		result = pstrdup(n->valuestring);
	else if (cJSON_IsNumber(n))
		result = psprintf("%.17g", n->valuedouble);
	MemoryContextDelete(tmp);
	return result;
}

int
fsxgb_booster_num_groups(FsXgbBooster *b)
{
	char	   *s = fsxgb_config_learner_string(b, "learner_model_param", "num_class");
	long		n = s ? strtol(s, NULL, 10) : 0;

	return n > 1 ? (int) n : 1;
}

char *
fsxgb_booster_objective(FsXgbBooster *b)
{
	char	   *s = fsxgb_config_learner_string(b, "objective", "name");

	return s ? s : pstrdup("");
}

void
fsxgb_booster_set_attr(FsXgbBooster *b, const char *key, const char *value)
{
	fsxgb_booster_check(b);
	FSXGB_CALL("attribute", FSXGB_EXTERNAL, XGBoosterSetAttr(b->handle, key, value));
}

char *
fsxgb_booster_get_attr(FsXgbBooster *b, const char *key)
{
	const char *out = NULL;
	int			success = 0;

	fsxgb_booster_check(b);
	FSXGB_CALL("attribute", FSXGB_EXTERNAL, XGBoosterGetAttr(b->handle, key, &out, &success));
	return (success && out) ? pstrdup(out) : NULL;
}

/* Product of the prediction shape; ERROR unless it matches the caller. */
static uint64
fsxgb_check_shape(const bst_ulong *shape, bst_ulong dim, uint64 nrow, uint64 out_len)
{
	uint64		total = 1;
	bst_ulong	i;

	if (dim < 1 || shape == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("XGBoost prediction returned no shape")));
	for (i = 0; i < dim; i++)
		total *= (uint64) shape[i];
	if ((uint64) shape[0] != nrow || total != out_len)
	{
		StringInfoData s;

		initStringInfo(&s);
		for (i = 0; i < dim; i++)
			appendStringInfo(&s, "%s" UINT64_FORMAT, i ? ", " : "", (uint64) shape[i]);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("XGBoost prediction has shape (%s) but " UINT64_FORMAT " rows and " UINT64_FORMAT " values were expected",
						s.data, nrow, out_len)));
	}
	return total;
}

uint64
fsxgb_predict(FsXgbBooster *b, FsXgbMatrix *m, float *out, uint64 out_len)
{
	const bst_ulong *shape = NULL;
	bst_ulong	dim = 0;
	const float *res = NULL;
	uint64		n;

	fsxgb_booster_check(b);
	fsxgb_matrix_check(m);
	fsxgb_scoring_threads(b);
	FSXGB_CALL("prediction", FSXGB_EXTERNAL,
			   XGBoosterPredictFromDMatrix(b->handle, m->handle, FSXGB_PREDICT_CONFIG,
										   &shape, &dim, &res));
	n = fsxgb_check_shape(shape, dim, m->nrow, out_len);
	if (n > 0)
		memcpy(out, res, sizeof(float) * n);
	return n;
}

uint64
fsxgb_predict_dense(FsXgbBooster *b, const float *data, uint64 nrow, uint64 ncol,
					float *out, uint64 out_len)
{
	const bst_ulong *shape = NULL;
	bst_ulong	dim = 0;
	const float *res = NULL;
	uint64		nfeat;
	uint64		n;
	char		iface[256];

	fsxgb_booster_check(b);
	if (nrow == 0)
		return 0;
	nfeat = fsxgb_booster_num_features(b);
	if (ncol != nfeat)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("XGBoost model expects " UINT64_FORMAT " features but " UINT64_FORMAT " were given",
						nfeat, ncol)));
	if (b->inplace < 0)
	{
		char	   *gbm = fsxgb_config_learner_string(b, "gradient_booster", "name");

		b->inplace = (gbm != NULL && strcmp(gbm, "gblinear") == 0) ? 0 : 1;
	}
	if (b->inplace == 0)
	{
		FsXgbMatrix *m = fsxgb_matrix_create(CurrentMemoryContext, data, nrow, ncol,
											 NULL, fsmml_nthread);

		n = fsxgb_predict(b, m, out, out_len);
		fsxgb_matrix_free(m);
		return n;
	}
	fsxgb_scoring_threads(b);
	snprintf(iface, sizeof(iface),
			 "{\"data\": [" UINT64_FORMAT ", true], \"shape\": [" UINT64_FORMAT ", " UINT64_FORMAT "], "
			 "\"strides\": null, \"typestr\": \"<f4\", \"version\": 3}",
			 (uint64) (uintptr_t) data, nrow, ncol);
	FSXGB_CALL("prediction", FSXGB_EXTERNAL,
			   XGBoosterPredictFromDense(b->handle, iface, FSXGB_INPLACE_CONFIG, NULL,
										 &shape, &dim, &res));
	n = fsxgb_check_shape(shape, dim, nrow, out_len);
	memcpy(out, res, sizeof(float) * n);
	return n;
}

int
fsxgb_feature_score(FsXgbBooster *b, const char *importance_type, char ***names,
					double **scores)
{
	static const char *const types[] = {"weight", "gain", "cover", "total_gain", "total_cover"};
	bst_ulong	nfeat = 0;
	const char **fnames = NULL;
	bst_ulong	dim = 0;
	const bst_ulong *shape = NULL;
	const float *fscores = NULL;
	uint64		nscores = 1;
	bool		known = false;
	char	   *config;
	bst_ulong	i;

	fsxgb_booster_check(b);
	for (i = 0; i < lengthof(types); i++)
		if (importance_type && strcmp(importance_type, types[i]) == 0)
			known = true;
	if (!known)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown XGBoost importance type \"%s\"",
						importance_type ? importance_type : ""),
				 errhint("Use weight, gain, cover, total_gain or total_cover.")));
	config = psprintf("{\"importance_type\": \"%s\", \"feature_map\": \"\"}", importance_type);
	FSXGB_CALL("feature importance", FSXGB_CLASSIFY,
			   XGBoosterFeatureScore(b->handle, config, &nfeat, &fnames, &dim, &shape,
									 &fscores));
	for (i = 0; i < dim; i++)
		nscores *= (uint64) shape[i];
	if (dim == 0 || nscores != (uint64) nfeat)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("XGBoost feature importance with several scores per feature is not supported")));
	*names = palloc(sizeof(char *) * (nfeat > 0 ? nfeat : 1));
	*scores = palloc(sizeof(double) * (nfeat > 0 ? nfeat : 1));
	for (i = 0; i < nfeat; i++)
	{
		(*names)[i] = pstrdup(fnames[i]);
		(*scores)[i] = (double) fscores[i];
	}
	pfree(config);
	return (int) nfeat;
}

/* ------------------------------------------------------------------------
 * Model blob validation
 *
 * XGBoost 1.7 decides the format from the first two bytes: '{' '"' is JSON
 * text, '{' anything else is UBJSON, anything else the legacy binary format
 * (refused here).  The reader below walks either format with the same
 * grammar XGBoost's writer produces, checking every length against the
 * buffer, and collects what prediction trusts: per-tree node arrays, child
 * links (no out-of-range index, no cycle; XGBoost's CPU predictor also reads
 * left + 1), split feature indices < num_feature, tree_info < output groups,
 * tree ids, categorical segments, num_parallel_tree >= 1, dart weights and
 * gblinear weights.
 * ------------------------------------------------------------------------ */

#define MV_MAX_DEPTH 32
#define MV_MAX_FEATURES INT64CONST(100000000)
#define MV_MAX_CLASSES INT64CONST(1000000)
#define MV_MAX_CATEGORY INT64CONST(16777216)

typedef enum MvKind
{
	MV_OBJECT,
	MV_ARRAY,
	MV_STRING,
	MV_NUMBER,
	MV_BOOL,
	MV_NULL
} MvKind;

typedef struct MvReader
{
	const unsigned char *start;
	const unsigned char *p;
	const unsigned char *end;
	bool		ubj;
} MvReader;

typedef struct MvCont
{
	bool		object;
	int64		remaining;		/* UBJ arrays: elements left */
	char		typed;			/* UBJ '$' element type, or 0 */
	bool		first;			/* JSON: no element read yet */
} MvCont;

/* Lengths of per-node arrays that must all equal the node count. */
static const char *const mv_pernode_keys[] = {
	"split_conditions", "default_left", "base_weights",
	"loss_changes", "sum_hessian"
};
#define MV_NPERNODE lengthof(mv_pernode_keys)

typedef struct MvObj
{
	/* integer-valued keys (XGBoost writes most of them as strings) */
	int64		num_feature;
	int64		num_class;
	int64		num_target;
	int64		num_nodes;
	int64		num_deleted;
	int64		num_trees;
	int64		num_parallel_tree;
	int64		id;
	/* tree arrays */
	int64	   *left,
			   *right,
			   *split_idx,
			   *split_type,
			   *parents,
			   *cat_nodes,
			   *cat_segs,
			   *cat_sizes,
			   *cats;
	int64		n_left,
				n_right,
				n_split,
				n_split_type,
				n_parents,
				n_cat_nodes,
				n_cat_segs,
				n_cat_sizes,
				n_cats;
	int64		pernode_len[MV_NPERNODE];
	/* model-level */
	int64		ntrees;			/* elements of "trees", -1 if none */
	int64		tree_info_len;
	int64		weights_len;
	int64		weight_drop_len;
	int64		feature_names_len;
	int64		feature_types_len;
	bool		gblinear;
	bool		is_tree;		/* had left_children */
	struct MvObj *tree_param;
	struct MvObj *gbtree_model_param;
} MvObj;

typedef struct MvState
{
	int64		max_split;
	int64		max_tree_info;
	int64		total_trees;
	int64		weight_drop_len;
	int64		weights_len;
	int64		feature_names_len;
	int64		feature_types_len;
	bool		gblinear;
	MvObj	   *learner_model_param;
} MvState;

static void mv_fail(MvReader *r, const char *fmt,...) pg_attribute_printf(2, 3);

static void
mv_fail(MvReader *r, const char *fmt,...)
{
	char		buf[256];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("XGBoost model blob is corrupt: %s", buf),
			 r ? errdetail("At byte %ld of %ld.",
						   (long) (r->p - r->start), (long) (r->end - r->start)) : 0,
			 errhint(FSXGB_CORRUPT_HINT)));
}

static inline void
mv_need(MvReader *r, Size n)
{
	if ((Size) (r->end - r->p) < n)
		mv_fail(r, "truncated");
}

static void
mv_json_ws(MvReader *r)
{
	while (r->p < r->end && is_space((char) *r->p))
		r->p++;
}

static int
mv_ubj_size(char t)
{
	switch (t)
	{
		case 'i':
		case 'U':
			return 1;
		case 'I':
			return 2;
		case 'l':
		case 'd':
			return 4;
		case 'L':
		case 'D':
			return 8;
		default:
			return -1;
	}
}

static uint64
mv_be(const unsigned char *p, int n)
{
	uint64		v = 0;
	int			i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* A fixed-size UBJ number of type t at r->p (consumed). */
static void
mv_ubj_number(MvReader *r, char t, double *d, int64 *iv, bool *is_int)
{
	int			n = mv_ubj_size(t);
	uint64		raw;

	if (n < 0)
		mv_fail(r, "expected a number");
	mv_need(r, n);
	raw = mv_be(r->p, n);
	r->p += n;
	*is_int = true;
	switch (t)
	{
		case 'i':
			*iv = (int8) raw;
			break;
		case 'U':
			*iv = (uint8) raw;
			break;
		case 'I':
			*iv = (int16) raw;
			break;
		case 'l':
			*iv = (int32) raw;
			break;
		case 'L':
			*iv = (int64) raw;
			break;
		case 'd':
			{
				uint32		u = (uint32) raw;
				float		f;

				memcpy(&f, &u, sizeof(f));
				*d = f;
				*is_int = false;
				break;
			}
		default:				/* 'D' */
			memcpy(d, &raw, sizeof(*d));
			*is_int = false;
			break;
	}
	if (*is_int)
		*d = (double) *iv;
}

/* UBJ lengths and counts: XGBoost writes them as 'L' int64. */
static int64
mv_ubj_length(MvReader *r)
{
	double		d;
	int64		v;
	bool		is_int;

	mv_need(r, 1);
	if (*r->p != 'L')
		mv_fail(r, "length is not an int64");
	r->p++;
	mv_ubj_number(r, 'L', &d, &v, &is_int);
	if (v < 0)
		mv_fail(r, "negative length");
	return v;
}

static MvKind
mv_kind(MvReader *r, MvCont *parent)
{
	char		c;

	if (r->ubj)
	{
		if (parent && parent->typed)
			return MV_NUMBER;
		mv_need(r, 1);
		c = (char) *r->p;
		switch (c)
		{
			case '{':
				return MV_OBJECT;
			case '[':
				return MV_ARRAY;
			case 'S':
				return MV_STRING;
			case 'T':
			case 'F':
				return MV_BOOL;
			case 'Z':
				return MV_NULL;
			default:
				if (mv_ubj_size(c) > 0)
					return MV_NUMBER;
				mv_fail(r, "unknown UBJSON marker 0x%02x", (unsigned char) c);
		}
	}
	mv_json_ws(r);
	mv_need(r, 1);
	c = (char) *r->p;
	if (c == '{')
		return MV_OBJECT;
	if (c == '[')
		return MV_ARRAY;
	if (c == '"')
		return MV_STRING;
	if (c == 't' || c == 'f')
		return MV_BOOL;
	if (c == 'n')
		return MV_NULL;
	if (c == '-' || (c >= '0' && c <= '9') || c == 'N' || c == 'I')
		return MV_NUMBER;
	mv_fail(r, "unexpected character 0x%02x", (unsigned char) c);
	return MV_NULL;				/* keep compiler quiet */
}

static void
mv_json_literal(MvReader *r, const char *lit)
{
	size_t		n = strlen(lit);

	mv_need(r, n);
	if (memcmp(r->p, lit, n) != 0)
		mv_fail(r, "invalid literal");
	r->p += n;
}

static void
mv_read_number(MvReader *r, MvCont *parent, double *d, int64 *iv, bool *is_int)
{
	if (r->ubj)
	{
		char		t;

		if (parent && parent->typed)
			t = parent->typed;
		else
		{
			mv_need(r, 1);
			t = (char) *r->p++;
		}
		mv_ubj_number(r, t, d, iv, is_int);
		return;
	}
	else
	{
		const unsigned char *s;
		char		buf[64];
		size_t		n;
		bool		frac = false;
		char	   *stop;

		mv_json_ws(r);
		mv_need(r, 1);
		*is_int = false;
		if (*r->p == 'N')
		{
			mv_json_literal(r, "NaN");
			*d = NAN;
			return;
		}
		if (*r->p == 'I' || (*r->p == '-' && r->p + 1 < r->end && r->p[1] == 'I'))
		{
			bool		neg = (*r->p == '-');

			if (neg)
				r->p++;
			mv_json_literal(r, "Infinity");
			*d = neg ? -INFINITY : INFINITY;
			return;
		}
		s = r->p;
		if (r->p < r->end && *r->p == '-')
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			mv_fail(r, "invalid number");
		while (r->p < r->end &&
			   ((*r->p >= '0' && *r->p <= '9') || *r->p == '.' || *r->p == 'e' ||
				*r->p == 'E' || *r->p == '+' || *r->p == '-'))
		{
			if (*r->p == '.' || *r->p == 'e' || *r->p == 'E')
				frac = true;
			r->p++;
		}
		n = r->p - s;
		if (n >= sizeof(buf))
			mv_fail(r, "number too long");
		memcpy(buf, s, n);
		buf[n] = '\0';
		errno = 0;
		if (!frac)
		{
			*iv = strtoll(buf, &stop, 10);
			if (*stop != '\0' || errno != 0)
				mv_fail(r, "invalid integer");
			*d = (double) *iv;
			*is_int = true;
		}
		else
		{
			*d = strtod(buf, &stop);
			if (*stop != '\0')
				mv_fail(r, "invalid number");
		}
	}
}

/* String (raw bytes, JSON escapes not decoded). */
static void
mv_read_string(MvReader *r, const char **s, Size *len)
{
	if (r->ubj)
	{
		int64		n;

		mv_need(r, 1);
		if (*r->p != 'S')
			mv_fail(r, "expected a string");
		r->p++;
		n = mv_ubj_length(r);
		mv_need(r, (Size) n);
		*s = (const char *) r->p;
		*len = (Size) n;
		r->p += n;
		return;
	}
	else
	{
		const unsigned char *b;

		mv_json_ws(r);
		mv_need(r, 1);
		if (*r->p != '"')
			mv_fail(r, "expected a string");
		r->p++;
		b = r->p;
		for (;;)
		{
			mv_need(r, 1);
			if (*r->p == '\\')
			{
				mv_need(r, 2);
				r->p += 2;
				continue;
			}
			if (*r->p == '"')
				break;
			r->p++;
		}
		*s = (const char *) b;
		*len = r->p - b;
		r->p++;
	}
}

static void
mv_object_begin(MvReader *r, MvCont *c)
{
	memset(c, 0, sizeof(*c));
	c->object = true;
	c->first = true;
	if (!r->ubj)
		mv_json_ws(r);
	mv_need(r, 1);
	if (*r->p != '{')
		mv_fail(r, "expected an object");
	r->p++;
	if (r->ubj)
	{
		mv_need(r, 1);
		if (*r->p == '$' || *r->p == '#')
			mv_fail(r, "counted UBJSON objects are not written by XGBoost");
	}
}

/* Next key of an object; false at its end. */
static bool
mv_object_next(MvReader *r, MvCont *c, const char **key, Size *klen)
{
	if (r->ubj)
	{
		int64		n;

		mv_need(r, 1);
		if (*r->p == '}')
		{
			r->p++;
			return false;
		}
		n = mv_ubj_length(r);
		mv_need(r, (Size) n);
		*key = (const char *) r->p;
		*klen = (Size) n;
		r->p += n;
		return true;
	}
	mv_json_ws(r);
	mv_need(r, 1);
	if (c->first)
	{
		c->first = false;
		if (*r->p == '}')
		{
			r->p++;
			return false;
		}
	}
	else
	{
		if (*r->p == '}')
		{
			r->p++;
			return false;
		}
		if (*r->p != ',')
			mv_fail(r, "expected ',' or '}'");
		r->p++;
	}
	mv_read_string(r, key, klen);
	mv_json_ws(r);
	mv_need(r, 1);
	if (*r->p != ':')
		mv_fail(r, "expected ':'");
	r->p++;
	return true;
}

static void
mv_array_begin(MvReader *r, MvCont *c)
{
	memset(c, 0, sizeof(*c));
	c->first = true;
	if (!r->ubj)
		mv_json_ws(r);
	mv_need(r, 1);
	if (*r->p != '[')
		mv_fail(r, "expected an array");
	r->p++;
	if (!r->ubj)
		return;
	mv_need(r, 1);
	if (*r->p == '$')
	{
		r->p++;
		mv_need(r, 1);
		c->typed = (char) *r->p++;
		if (mv_ubj_size(c->typed) < 0)
			mv_fail(r, "unsupported typed array");
		mv_need(r, 1);
		if (*r->p != '#')
			mv_fail(r, "typed array without a count");
	}
	mv_need(r, 1);
	if (*r->p != '#')
		mv_fail(r, "UBJSON array without a count is not written by XGBoost");
	r->p++;
	c->remaining = mv_ubj_length(r);
	/* every element takes at least one byte (typed: its size) */
	if ((uint64) c->remaining > (uint64) (r->end - r->p) /
		(uint64) (c->typed ? mv_ubj_size(c->typed) : 1))
		mv_fail(r, "array count exceeds the blob");
}

/* Whether another element follows. */
static bool
mv_array_next(MvReader *r, MvCont *c)
{
	if (r->ubj)
	{
		if (c->remaining == 0)
			return false;
		c->remaining--;
		return true;
	}
	mv_json_ws(r);
	mv_need(r, 1);
	if (c->first)
	{
		c->first = false;
		if (*r->p == ']')
		{
			r->p++;
			return false;
		}
		return true;
	}
	if (*r->p == ']')
	{
		r->p++;
		return false;
	}
	if (*r->p != ',')
		mv_fail(r, "expected ',' or ']'");
	r->p++;
	return true;
}

static void mv_skip(MvReader *r, MvCont *parent, int depth);

static int64
mv_array_skip_count(MvReader *r, int depth)
{
	MvCont		c;
	int64		n = 0;

	mv_array_begin(r, &c);
	if (r->ubj && c.typed)
	{
		n = c.remaining;
		r->p += n * mv_ubj_size(c.typed);	/* checked by mv_array_begin */
		return n;
	}
	while (mv_array_next(r, &c))
	{
		mv_skip(r, &c, depth + 1);
		n++;
	}
	return n;
}

static void
mv_skip(MvReader *r, MvCont *parent, int depth)
{
	double		d;
	int64		iv;
	bool		is_int;
	const char *s;
	Size		len;

	if (depth > MV_MAX_DEPTH)
		mv_fail(r, "nested too deeply");
	check_stack_depth();
	switch (mv_kind(r, parent))
	{
		case MV_OBJECT:
			{
				MvCont		c;

				mv_object_begin(r, &c);
				while (mv_object_next(r, &c, &s, &len))
					mv_skip(r, &c, depth + 1);
				break;
			}
		case MV_ARRAY:
			(void) mv_array_skip_count(r, depth);
			break;
		case MV_STRING:
			mv_read_string(r, &s, &len);
			break;
		case MV_NUMBER:
			mv_read_number(r, parent, &d, &iv, &is_int);
			break;
		case MV_BOOL:
			if (r->ubj)
				r->p++;
			else
				mv_json_literal(r, *r->p == 't' ? "true" : "false");
			break;
		case MV_NULL:
			if (r->ubj)
				r->p++;
			else
				mv_json_literal(r, "null");
			break;
	}
}

/* An array of integers into a palloc'd int64 array. */
static int64 *
mv_read_int_array(MvReader *r, const char *what, int64 *count)
{
	MvCont		c;
	int64		n = 0;
	int64		cap = 16;
	int64	   *v;

	mv_array_begin(r, &c);
	if (r->ubj)
		cap = Max(c.remaining, 1);
	if ((uint64) cap > MaxAllocSize / sizeof(int64))
		mv_fail(r, "array \"%s\" too large", what);
	v = palloc(sizeof(int64) * cap);
	while (mv_array_next(r, &c))
	{
		double		d;
		int64		iv;
		bool		is_int;

		if (mv_kind(r, &c) != MV_NUMBER)
			mv_fail(r, "\"%s\" holds a non-number", what);
		mv_read_number(r, &c, &d, &iv, &is_int);
		if (!is_int)
			mv_fail(r, "\"%s\" holds a non-integer", what);
		if (n == cap)
		{
			if ((uint64) cap * 2 > MaxAllocSize / sizeof(int64))
				mv_fail(r, "array \"%s\" too large", what);
			cap *= 2;
			v = repalloc(v, sizeof(int64) * cap);
		}
		v[n++] = iv;
	}
	*count = n;
	return v;
}

/* An integer written as a number or as a decimal string. */
static int64
mv_read_int_value(MvReader *r, MvCont *parent, const char *what)
{
	MvKind		k = mv_kind(r, parent);

	if (k == MV_NUMBER)
	{
		double		d;
		int64		iv;
		bool		is_int;

		mv_read_number(r, parent, &d, &iv, &is_int);
		if (!is_int)
			mv_fail(r, "\"%s\" is not an integer", what);
		return iv;
	}
	if (k == MV_STRING)
	{
		const char *s;
		Size		len;
		char		buf[32];
		char	   *stop;
		int64		v;

		mv_read_string(r, &s, &len);
		if (len == 0 || len >= sizeof(buf))
			mv_fail(r, "\"%s\" is not an integer", what);
		memcpy(buf, s, len);
		buf[len] = '\0';
		errno = 0;
		v = strtoll(buf, &stop, 10);
		if (*stop != '\0' || errno != 0)
			mv_fail(r, "\"%s\" is not an integer", what);
		return v;
	}
	mv_fail(r, "\"%s\" is not an integer", what);
	return 0;					/* keep compiler quiet */
}

static void
mv_check_tree(MvReader *r, MvObj *o, MvState *st)
{
	int64		n = o->n_left;
	uint8	   *color;
	bool	   *is_cat_node = NULL;
	int64	   *stack_node;
	int8	   *stack_edge;
	int64		sp = 0;
	int64		i;

	if (o->left == NULL || o->right == NULL || o->split_idx == NULL)
		mv_fail(r, "tree lacks left_children, right_children or split_indices");
	if (n < 1)
		mv_fail(r, "tree without nodes");
	if (n > PG_INT32_MAX)
		mv_fail(r, "tree too large");
	if (o->n_right != n || o->n_split != n ||
		(o->split_type && o->n_split_type != n) ||
		(o->parents && o->n_parents != n))
		mv_fail(r, "tree node arrays differ in length");
	/* parents: the root's is 0x7fffffff (no parent), the others in range */
	if (o->parents)
		for (i = 0; i < n; i++)
			if (!(o->parents[i] == PG_INT32_MAX || o->parents[i] == -1 ||
				  (o->parents[i] >= 0 && o->parents[i] < n && i > 0)))
				mv_fail(r, "tree node %lld has a parent index out of range", (long long) i);
	/*
	 * XGBoost fills a missing key with its default (num_nodes 1, num_trees
	 * 0, ...) and then trusts it, so everything it sizes arrays by must be
	 * present and agree.
	 */
	if (o->parents == NULL)
		mv_fail(r, "tree lacks parents");
	for (i = 0; i < (int64) MV_NPERNODE; i++)
		if (o->pernode_len[i] != n)
			mv_fail(r, "tree array \"%s\" has %lld entries for %lld nodes",
					mv_pernode_keys[i], (long long) o->pernode_len[i], (long long) n);
	if (o->tree_param == NULL || o->tree_param->num_nodes != n)
		mv_fail(r, "tree_param.num_nodes does not match the tree's arrays");
	if (o->tree_param->num_deleted >= n)
		mv_fail(r, "tree num_deleted out of range");

	/* categorical segments */
	if (o->cat_nodes || o->cat_segs || o->cat_sizes)
	{
		if (!o->cat_nodes || !o->cat_segs || !o->cat_sizes ||
			o->n_cat_segs != o->n_cat_nodes || o->n_cat_sizes != o->n_cat_nodes)
			mv_fail(r, "tree categories arrays differ in length");
		is_cat_node = palloc0(sizeof(bool) * n);
		for (i = 0; i < o->n_cat_nodes; i++)
		{
			if (o->cat_nodes[i] < 0 || o->cat_nodes[i] >= n)
				mv_fail(r, "categorical node index out of range");
			if (o->cat_segs[i] < 0 || o->cat_sizes[i] < 0 ||
				o->cat_segs[i] > o->n_cats || o->cat_sizes[i] > o->n_cats - o->cat_segs[i])
				mv_fail(r, "categorical segment out of range");
			is_cat_node[o->cat_nodes[i]] = true;
		}
		for (i = 0; i < o->n_cats; i++)
			if (o->cats[i] < 0 || o->cats[i] >= MV_MAX_CATEGORY)
				mv_fail(r, "category out of range");
	}
	else if (o->cats && o->n_cats > 0)
		mv_fail(r, "tree categories without segments");

	/*
	 * Depth-first walk from the root over the edges prediction can follow
	 * (left, right and left + 1): every index in range and no cycle.
	 */
	color = palloc0(n);
	stack_node = palloc(sizeof(int64) * (n + 1));
	stack_edge = palloc(sizeof(int8) * (n + 1));
	stack_node[0] = 0;
	stack_edge[0] = 0;
	color[0] = 1;
	sp = 1;
	while (sp > 0)
	{
		int64		v = stack_node[sp - 1];
		int64		l = o->left[v];
		int64		w;

		if (l == -1)
		{
			color[v] = 2;
			sp--;
			continue;
		}
		if (stack_edge[sp - 1] == 0)
		{
			int64		rt = o->right[v];

			if (l < 1 || l >= n || rt < 1 || rt >= n || l + 1 >= n)
				mv_fail(r, "tree node %lld has a child index out of range", (long long) v);
			if (o->split_idx[v] < 0 || o->split_idx[v] >= MV_MAX_FEATURES)
				mv_fail(r, "tree node %lld splits on an invalid feature", (long long) v);
			st->max_split = Max(st->max_split, o->split_idx[v]);
			if (o->split_type)
			{
				if (o->split_type[v] != 0 && o->split_type[v] != 1)
					mv_fail(r, "invalid split type");
				if (o->split_type[v] == 1 && (is_cat_node == NULL || !is_cat_node[v]))
					mv_fail(r, "categorical split without categories");
			}
		}
		if (stack_edge[sp - 1] == 3)
		{
			color[v] = 2;
			sp--;
			continue;
		}
		w = stack_edge[sp - 1] == 0 ? l :
			stack_edge[sp - 1] == 1 ? o->right[v] : l + 1;
		stack_edge[sp - 1]++;
		if (color[w] == 1)
			mv_fail(r, "tree has a cycle at node %lld", (long long) w);
		if (color[w] == 0)
		{
			if (sp > n)
				mv_fail(r, "tree too deep");
			color[w] = 1;
			stack_node[sp] = w;
			stack_edge[sp] = 0;
			sp++;
		}
	}
	pfree(color);
	pfree(stack_node);
	pfree(stack_edge);
	if (is_cat_node)
		pfree(is_cat_node);
}

static MvObj *mv_walk_object(MvReader *r, MvState *st, int depth);

#define MV_KEY(k) (klen == strlen(k) && memcmp(key, (k), klen) == 0)

static MvObj *
mv_walk_object(MvReader *r, MvState *st, int depth)
{
	MvCont		c;
	MvObj	   *o;
	const char *key;
	Size		klen;
	int			i;

	if (depth > MV_MAX_DEPTH)
		mv_fail(r, "nested too deeply");
	check_stack_depth();

	o = palloc0(sizeof(MvObj));
	o->num_feature = o->num_class = o->num_target = o->num_nodes = -1;
	o->num_deleted = o->num_trees = o->num_parallel_tree = o->id = -1;
	o->ntrees = o->tree_info_len = o->weights_len = o->weight_drop_len = -1;
	o->feature_names_len = o->feature_types_len = -1;
	for (i = 0; i < (int) MV_NPERNODE; i++)
		o->pernode_len[i] = -1;

	mv_object_begin(r, &c);
	while (mv_object_next(r, &c, &key, &klen))
	{
		MvKind		kind = mv_kind(r, &c);
		bool		done = false;

		if (kind == MV_ARRAY)
		{
			done = true;
			if (MV_KEY("left_children"))
				o->left = mv_read_int_array(r, "left_children", &o->n_left);
			else if (MV_KEY("right_children"))
				o->right = mv_read_int_array(r, "right_children", &o->n_right);
			else if (MV_KEY("split_indices"))
				o->split_idx = mv_read_int_array(r, "split_indices", &o->n_split);
			else if (MV_KEY("split_type"))
				o->split_type = mv_read_int_array(r, "split_type", &o->n_split_type);
			else if (MV_KEY("parents"))
				o->parents = mv_read_int_array(r, "parents", &o->n_parents);
			else if (MV_KEY("categories_nodes"))
				o->cat_nodes = mv_read_int_array(r, "categories_nodes", &o->n_cat_nodes);
			else if (MV_KEY("categories_segments"))
				o->cat_segs = mv_read_int_array(r, "categories_segments", &o->n_cat_segs);
			else if (MV_KEY("categories_sizes"))
				o->cat_sizes = mv_read_int_array(r, "categories_sizes", &o->n_cat_sizes);
			else if (MV_KEY("categories"))
				o->cats = mv_read_int_array(r, "categories", &o->n_cats);
			else if (MV_KEY("tree_info"))
			{
				int64	   *ti = mv_read_int_array(r, "tree_info", &o->tree_info_len);
				int64		k;

				for (k = 0; k < o->tree_info_len; k++)
				{
					if (ti[k] < 0)
						mv_fail(r, "negative tree_info");
					st->max_tree_info = Max(st->max_tree_info, ti[k]);
				}
				pfree(ti);
			}
			else if (MV_KEY("trees"))
			{
				MvCont		tc;
				bool	   *seen;
				int64		nt = 0;
				int64		cap = 16;
				int64	   *ids = palloc(sizeof(int64) * cap);
				int64		k;

				mv_array_begin(r, &tc);
				while (mv_array_next(r, &tc))
				{
					MvObj	   *t;

					if (mv_kind(r, &tc) != MV_OBJECT)
						mv_fail(r, "a tree is not an object");
					t = mv_walk_object(r, st, depth + 2);
					if (!t->is_tree)
						mv_fail(r, "a tree lacks left_children");
					if (t->id < 0)
						mv_fail(r, "a tree lacks its id");
					if (nt == cap)
					{
						cap *= 2;
						ids = repalloc(ids, sizeof(int64) * cap);
					}
					ids[nt++] = t->id;
					pfree(t);
				}
				seen = palloc0(sizeof(bool) * Max(nt, 1));
				for (k = 0; k < nt; k++)
				{
					if (ids[k] >= nt || seen[ids[k]])
						mv_fail(r, "tree ids are not 0..%lld", (long long) (nt - 1));
					seen[ids[k]] = true;
				}
				pfree(seen);
				pfree(ids);
				o->ntrees = nt;
			}
			else if (MV_KEY("weight_drop"))
				o->weight_drop_len = mv_array_skip_count(r, depth);
			else if (MV_KEY("weights"))
				o->weights_len = mv_array_skip_count(r, depth);
			else if (MV_KEY("feature_names"))
				o->feature_names_len = mv_array_skip_count(r, depth);
			else if (MV_KEY("feature_types"))
				o->feature_types_len = mv_array_skip_count(r, depth);
			else
			{
				done = false;
				for (i = 0; i < (int) MV_NPERNODE; i++)
					if (MV_KEY(mv_pernode_keys[i]))
					{
						o->pernode_len[i] = mv_array_skip_count(r, depth);
						done = true;
						break;
					}
			}
		}
		else if (kind == MV_OBJECT)
		{
			MvObj	   *child = mv_walk_object(r, st, depth + 1);

			done = true;
			if (MV_KEY("tree_param"))
				o->tree_param = child;
			else if (MV_KEY("gbtree_model_param"))
				o->gbtree_model_param = child;
			else if (MV_KEY("learner_model_param") && depth == 1)
				st->learner_model_param = child;	/* learner.learner_model_param */
			else
				pfree(child);
		}
		else if (kind == MV_STRING && MV_KEY("name"))
		{
			const char *s;
			Size		len;

			mv_read_string(r, &s, &len);
			if (len == 8 && memcmp(s, "gblinear", 8) == 0)
				o->gblinear = true;
			done = true;
		}
		else if (kind == MV_STRING || kind == MV_NUMBER)
		{
			int64	   *slot = NULL;

			if (MV_KEY("num_feature"))
				slot = &o->num_feature;
			else if (MV_KEY("num_class"))
				slot = &o->num_class;
			else if (MV_KEY("num_target"))
				slot = &o->num_target;
			else if (MV_KEY("num_nodes"))
				slot = &o->num_nodes;
			else if (MV_KEY("num_deleted"))
				slot = &o->num_deleted;
			else if (MV_KEY("num_trees"))
				slot = &o->num_trees;
			else if (MV_KEY("num_parallel_tree"))
				slot = &o->num_parallel_tree;
			else if (MV_KEY("id"))
				slot = &o->id;
			if (slot)
			{
				char		name[32];

				snprintf(name, sizeof(name), "%.*s", (int) Min(klen, 31), key);
				*slot = mv_read_int_value(r, &c, name);
				if (*slot < 0)
					mv_fail(r, "\"%s\" is negative", name);
				done = true;
			}
		}
		if (!done)
			mv_skip(r, &c, depth + 1);
	}

	if (o->left != NULL || o->right != NULL)
	{
		mv_check_tree(r, o, st);
		o->is_tree = true;
	}
	if (o->ntrees >= 0)
	{
		if (o->tree_info_len != o->ntrees)
			mv_fail(r, "tree_info has %lld entries for %lld trees",
					(long long) o->tree_info_len, (long long) o->ntrees);
		if (o->gbtree_model_param == NULL ||
			o->gbtree_model_param->num_trees != o->ntrees)
			mv_fail(r, "gbtree_model_param.num_trees does not match the trees");
		if (o->gbtree_model_param->num_parallel_tree == 0)
			mv_fail(r, "num_parallel_tree is 0");
		st->total_trees += o->ntrees;
	}
	if (o->gblinear)
		st->gblinear = true;
	if (o->weights_len >= 0)
		st->weights_len = o->weights_len;
	if (o->weight_drop_len >= 0)
		st->weight_drop_len = o->weight_drop_len;
	if (o->feature_names_len >= 0)
		st->feature_names_len = o->feature_names_len;
	if (o->feature_types_len >= 0)
		st->feature_types_len = o->feature_types_len;

	/* free the big arrays now; the caller only needs the scalars */
#define MV_FREE(f) do { if (o->f) { pfree(o->f); o->f = NULL; } } while (0)
	MV_FREE(left);
	MV_FREE(right);
	MV_FREE(split_idx);
	MV_FREE(split_type);
	MV_FREE(parents);
	MV_FREE(cat_nodes);
	MV_FREE(cat_segs);
	MV_FREE(cat_sizes);
	MV_FREE(cats);
#undef MV_FREE
	return o;
}

void
fsxgb_model_validate(const void *buf, Size len)
{
	MvReader	r;
	MvState		st;
	MemoryContext cxt;
	MemoryContext old;
	MvObj	   *lmp;
	int64		nf;
	int64		ngroup;

	if (buf == NULL || len < 2)
		mv_fail(NULL, "too short to be a model");
	r.start = r.p = (const unsigned char *) buf;
	r.end = r.start + len;
	if (r.p[0] != '{')
		mv_fail(NULL, "not an XGBoost JSON or UBJSON model");
	r.ubj = (r.p[1] != '"');

	memset(&st, 0, sizeof(st));
	st.max_split = -1;
	st.max_tree_info = -1;
	st.weight_drop_len = -1;
	st.weights_len = -1;
	st.feature_names_len = -1;
	st.feature_types_len = -1;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "fsxgb model validation",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	(void) mv_walk_object(&r, &st, 0);
	if (!r.ubj)
		mv_json_ws(&r);
	if (r.p != r.end)
		mv_fail(&r, "trailing bytes after the model");

	lmp = st.learner_model_param;
	if (lmp == NULL || lmp->num_feature < 0)
		mv_fail(NULL, "no learner_model_param.num_feature");
	nf = lmp->num_feature;
	if (nf > MV_MAX_FEATURES)
		mv_fail(NULL, "num_feature %lld out of range", (long long) nf);
	if (lmp->num_class > MV_MAX_CLASSES || lmp->num_target > MV_MAX_CLASSES)
		mv_fail(NULL, "num_class or num_target out of range");
	ngroup = Max(Max(lmp->num_class, lmp->num_target), 1);
	if (st.max_split >= nf)
		mv_fail(NULL, "a split uses feature %lld but the model has %lld features",
				(long long) st.max_split, (long long) nf);
	if (st.max_tree_info >= ngroup)
		mv_fail(NULL, "a tree belongs to output group %lld of %lld",
				(long long) st.max_tree_info, (long long) ngroup);
	if (st.weight_drop_len >= 0 && st.weight_drop_len != st.total_trees)
		mv_fail(NULL, "dart weight_drop has %lld entries for %lld trees",
				(long long) st.weight_drop_len, (long long) st.total_trees);
	if (st.gblinear && st.weights_len != (nf + 1) * ngroup)
		mv_fail(NULL, "gblinear weights do not match num_feature and num_class");
	if (st.feature_names_len > 0 && st.feature_names_len != nf)
		mv_fail(NULL, "feature_names does not match num_feature");
	if (st.feature_types_len > 0 && st.feature_types_len != nf)
		mv_fail(NULL, "feature_types does not match num_feature");

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}
