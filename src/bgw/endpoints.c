/*
 * endpoints.c — where signals may be sent: the superuser-only allow-list
 * fsmml.allowed_urls and its check, run when an endpoint is created or its
 * URL changed (a trigger on fsmml.endpoints) and again by the worker before
 * every send (the setting may have been narrowed since).
 *
 * A URL passes when its scheme is http or https, it has no user-info, blank
 * or control character, and it starts with one of the comma-separated
 * prefixes at a boundary: "http://127.0.0.1:8080" admits
 * "http://127.0.0.1:8080/x" but not "http://127.0.0.1:80801/" nor
 * "http://127.0.0.1:8080.evil.com/".
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "delivery.h"

PG_FUNCTION_INFO_V1(fsmml_check_endpoint_url);

char	   *fsmml_allowed_urls = NULL;

void
fsmml_endpoints_guc_init(void)
{
	DefineCustomStringVariable("fsmml.allowed_urls",
							   "Comma-separated URL prefixes that fsmml's endpoints may call.",
							   "Empty: no endpoint may be created or sent to.",
							   &fsmml_allowed_urls, "", PGC_SUSET, GUC_LIST_INPUT, NULL, NULL, NULL);
}

static bool
scheme_ok(const char *url)
{
	return pg_strncasecmp(url, "http://", 7) == 0 || pg_strncasecmp(url, "https://", 8) == 0;
}

char *
fsmml_url_refusal(const char *url)
{
	const char *authority;
	size_t		authlen;
	char	   *list;
	List	   *prefixes;
	ListCell   *lc;

	if (!scheme_ok(url))
		return psprintf("URL \"%s\" is not http or https", url);
	for (const char *p = url; *p; p++)
		if ((unsigned char) *p <= ' ' || *p == 0x7f)
			return psprintf("URL \"%s\" contains a blank or a control character", url);
	authority = strstr(url, "://") + 3;
	authlen = strcspn(authority, "/?#");
	if (memchr(authority, '@', authlen) != NULL)
		return psprintf("URL \"%s\" has user information before its host", url);

	list = pstrdup(fsmml_allowed_urls ? fsmml_allowed_urls : "");
	if (!SplitGUCList(list, ',', &prefixes))
		return pstrdup("fsmml.allowed_urls is not a valid list");
	foreach(lc, prefixes)
	{
		const char *prefix = lfirst(lc);
		size_t		n = strlen(prefix);
		char		next;

		if (n == 0 || !scheme_ok(prefix) || pg_strncasecmp(url, prefix, n) != 0)
			continue;
		next = url[n];
		/* a prefix ending in '/' is a boundary itself; else the URL must end or go on with a path */
		if (prefix[n - 1] == '/' || next == '\0' || next == '/' || next == '?' || next == '#')
			return NULL;
	}
	return psprintf("URL \"%s\" is not allowed by fsmml.allowed_urls", url);
}

Datum
fsmml_check_endpoint_url(PG_FUNCTION_ARGS)
{
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *why = fsmml_url_refusal(url);

	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s", why),
				 errhint("A superuser lists allowed URL prefixes in fsmml.allowed_urls"
						 " (ALTER SYSTEM SET fsmml.allowed_urls = 'https://hooks.example.com/'; SELECT pg_reload_conf())."
						 " Only http and https are allowed.")));
	PG_RETURN_VOID();
}
