/*
 * base64.h — decoding canonical base64 a quad at a time (pure C).
 *
 * fsmml-json blobs carry their XGBoost boosters as base64 (hundreds of kB
 * for VolQuantile and StateFSM), decoded on a live backend's first bar.
 */
#ifndef FSMML_BASE64_H
#define FSMML_BASE64_H

#include <stdint.h>

/*
 * Decodes len characters of canonical base64 (whole quads of the standard
 * alphabet, at most two '=' at the very end) into out (room for len / 4 * 3
 * bytes); returns the bytes written, or -1 for any other input, which the
 * caller hands to a general decoder.
 */
extern int	fs_b64_decode_canonical(const char *s, int len, uint8_t *out);

#endif							/* FSMML_BASE64_H */
