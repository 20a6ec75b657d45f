/*
 * model_validate.h — is a byte string an XGBoost 1.7 model blob that
 * XGBoost can load and predict with safely?  Pure C (no PostgreSQL headers).
 */
#ifndef FSMML_MODEL_VALIDATE_H
#define FSMML_MODEL_VALIDATE_H

#include <stddef.h>

#define FS_MODEL_OK			0
#define FS_MODEL_CORRUPT	1
#define FS_MODEL_NOMEM		2

typedef struct FsModelError
{
	char		message[256];	/* what is wrong, e.g. "truncated" */
	long		offset;			/* byte where it was found, -1 if none */
} FsModelError;

/*
 * FS_MODEL_OK, FS_MODEL_CORRUPT (err says why) or FS_MODEL_NOMEM.  Bounded
 * work: linear in len (nesting at most 32 levels).  err may be NULL.
 */
extern int	fs_model_validate(const void *buf, size_t len, FsModelError *err);

#endif							/* FSMML_MODEL_VALIDATE_H */
