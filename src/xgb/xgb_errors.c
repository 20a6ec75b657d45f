/*
 * xgb_errors.c — XGBoost's logs and errors in PostgreSQL terms: the log
 * callback (any thread), messages cleaned and re-raised from the backend
 * thread as NOTICE/WARNING, failed calls as ereport(ERROR) with a SQLSTATE,
 * and the once-per-backend initialisation.
 *
 * XGBGetLastError() and the log callback registry are thread-local to the
 * calling thread; our callback is registered from the backend thread.  Log
 * lines from OpenMP workers (rare) go to XGBoost's default sink (stderr →
 * the server log).  The callback still takes a mutex.
 */
#include "postgres.h"

#include <pthread.h>

#include "miscadmin.h"

#include "xgb.h"
#include "xgb_internal.h"

bool fsxgb_initialized = false;

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
void
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
void
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
void
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

void
fsxgb_init(void)
{
	if (fsxgb_initialized)
		return;

	fsxgb_signals_init();

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

/*
 * Free a handle from a memory context reset callback: no ereport here (we
 * may be unwinding an ERROR), and whatever XGBoost logs while freeing (the
 * verbosity-3 monitor report) would surface in some later, unrelated call,
 * so it is discarded.  Free explicitly to see it.
 */
void
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
