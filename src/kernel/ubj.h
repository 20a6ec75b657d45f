/*
 * ubj.h — the numbers of UBJSON as XGBoost writes them: a one-byte type
 * marker, then 1-8 big-endian bytes.  Shared by the model check
 * (model_validate.c) and the forest reader (forest_ubj.c); callers check
 * the buffer's length before decoding.
 */
#ifndef FSMML_UBJ_H
#define FSMML_UBJ_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* bytes after the marker of a fixed-size number; -1: not a number marker */
static inline int
fs_ubj_size(unsigned char t)
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

static inline uint64_t
fs_ubj_be(const unsigned char *p, int n)
{
	uint64_t	v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/*
 * The number of type t (fs_ubj_size(t) > 0) at p: integers in *iv (true
 * returned), floats in *d (false returned).
 */
static inline bool
fs_ubj_number(unsigned char t, const unsigned char *p, double *d, int64_t *iv)
{
	uint64_t	raw = fs_ubj_be(p, fs_ubj_size(t));

	switch (t)
	{
		case 'i':
			*iv = (int8_t) raw;
			return true;
		case 'U':
			*iv = (uint8_t) raw;
			return true;
		case 'I':
			*iv = (int16_t) raw;
			return true;
		case 'l':
			*iv = (int32_t) raw;
			return true;
		case 'L':
			*iv = (int64_t) raw;
			return true;
		case 'd':
			{
				uint32_t	u = (uint32_t) raw;
				float		f;

				memcpy(&f, &u, sizeof(f));
				*d = f;
				return false;
			}
		default:				/* 'D' */
			memcpy(d, &raw, sizeof(*d));
			return false;
	}
}

#endif
