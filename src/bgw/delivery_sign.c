/*
 * delivery_sign.c — Standard Webhooks signatures: HMAC-SHA256 over
 * "<webhook-id>.<webhook-timestamp>.<body>", base64, as "v1,<signature>".
 *
 * The key is the base64 part of a "whsec_" secret (the convention's format),
 * else the secret's bytes.  OpenSSL's one-shot HMAC needs no resource owner,
 * so the worker can sign between transactions.
 */
#include "postgres.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/base64.h"
#include "lib/stringinfo.h"

#include "delivery.h"

char *
fsmml_webhook_signature(const char *secret, const char *msg_id, int64 timestamp,
						const char *body, size_t body_len)
{
	const char *key = secret;
	int			keylen = strlen(secret);
	char	   *decoded = NULL;
	StringInfoData data;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char	   *out;
	int			outlen;

	if (strncmp(secret, "whsec_", 6) == 0)
	{
		int			srclen = strlen(secret + 6);

		decoded = palloc(pg_b64_dec_len(srclen) + 1);
		keylen = pg_b64_decode(secret + 6, srclen, decoded, pg_b64_dec_len(srclen));
		if (keylen < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("endpoint secret starts with \"whsec_\" but is not base64 after it"),
					 errhint("Use whsec_ followed by the base64 of the key, or a secret without that prefix.")));
		key = decoded;
	}

	initStringInfo(&data);
	appendStringInfo(&data, "%s." INT64_FORMAT ".", msg_id, timestamp);
	appendBinaryStringInfo(&data, body, body_len);
	if (HMAC(EVP_sha256(), key, keylen, (unsigned char *) data.data, data.len, mac, &maclen) == NULL)
		elog(ERROR, "HMAC-SHA256 failed");

	out = palloc(3 + pg_b64_enc_len(maclen) + 1);
	memcpy(out, "v1,", 3);
	outlen = pg_b64_encode((char *) mac, maclen, out + 3, pg_b64_enc_len(maclen));
	if (outlen < 0)
		elog(ERROR, "base64 encoding of a signature failed");
	out[3 + outlen] = '\0';
	pfree(data.data);
	if (decoded)
		pfree(decoded);
	return out;
}
