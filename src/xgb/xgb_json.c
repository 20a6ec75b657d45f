/*
 * xgb_json.c — cJSON trees owned by memory contexts: a reset callback
 * cJSON_Delete's the tree, so an ERROR never leaks one.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "xgb.h"

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

