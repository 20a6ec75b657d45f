/*
 * delivery_http.c — the delivery worker's HTTP client: one libcurl multi
 * handle with many transfers in flight and its connection cache reused from
 * one request to the next.
 *
 * The multi handle and every easy handle started on it belong to a memory
 * context: a reset callback removes and cleans them up, so an ERROR in the
 * worker leaks neither sockets nor curl memory.  curl's callbacks make no
 * PostgreSQL call (no palloc: an ERROR would longjmp through curl): the
 * response goes to a malloc'd buffer capped at RESP_MAX bytes, the
 * Retry-After header to a plain field.  Redirects are never followed and
 * only http and https are spoken.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "delivery.h"

#define RESP_MAX 65536

struct DeliveryHttp
{
	MemoryContext cxt;
	CURLM	   *multi;
	dlist_head	active;
	int			nactive;
	MemoryContextCallback cleanup;
};

static void
release_easy(DeliveryRequest *r)
{
	if (r->easy)
		curl_easy_cleanup((CURL *) r->easy);
	r->easy = NULL;
	if (r->headers)
		curl_slist_free_all(r->headers);
	r->headers = NULL;
}

static void
http_cleanup(void *arg)
{
	DeliveryHttp *h = arg;
	dlist_mutable_iter it;

	dlist_foreach_modify(it, &h->active)
	{
		DeliveryRequest *r = dlist_container(DeliveryRequest, node, it.cur);

		curl_multi_remove_handle(h->multi, (CURL *) r->easy);
		release_easy(r);
		free(r->resp);
		r->resp = NULL;
	}
	dlist_init(&h->active);
	h->nactive = 0;
	if (h->multi)
		curl_multi_cleanup(h->multi);
	h->multi = NULL;
}

DeliveryHttp *
delivery_http_create(MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "fsmml delivery http", ALLOCSET_DEFAULT_SIZES);
	DeliveryHttp *h = MemoryContextAllocZero(cxt, sizeof(DeliveryHttp));

	h->cxt = cxt;
	dlist_init(&h->active);
	h->multi = curl_multi_init();
	if (h->multi == NULL)
		elog(ERROR, "curl_multi_init failed");
	h->cleanup.func = http_cleanup;
	h->cleanup.arg = h;
	MemoryContextRegisterResetCallback(cxt, &h->cleanup);
	/* connections kept for reuse: one per transfer in flight at most */
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long) Max(fsmml_delivery_max_in_flight, 4));
	return h;
}

MemoryContext
delivery_http_context(DeliveryHttp *h)
{
	return h->cxt;
}

int
delivery_http_in_flight(DeliveryHttp *h)
{
	return h->nactive;
}

/* curl callback: no PostgreSQL call. */
static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	DeliveryRequest *r = userdata;
	size_t		n = size * nmemb;
	size_t		keep = Min(n, RESP_MAX - r->resp_len);

	if (keep > 0)
	{
		char	   *p = realloc(r->resp, r->resp_len + keep + 1);

		if (p == NULL)
			return 0;			/* aborts the transfer: reported as a write error */
		r->resp = p;
		memcpy(r->resp + r->resp_len, ptr, keep);
		r->resp_len += keep;
		r->resp[r->resp_len] = '\0';
	}
	return n;
}

/* curl callback: no PostgreSQL call. */
static size_t
on_header(char *buffer, size_t size, size_t nitems, void *userdata)
{
	DeliveryRequest *r = userdata;
	size_t		n = size * nitems;

	if (n > 12 && strncasecmp(buffer, "retry-after:", 12) == 0)
	{
		char		tmp[32];
		size_t		m = Min(n - 12, sizeof(tmp) - 1);
		long		v;

		memcpy(tmp, buffer + 12, m);
		tmp[m] = '\0';
		v = strtol(tmp, NULL, 10);
		if (v >= 0)
			r->retry_after_hdr = v;
	}
	return n;
}

void
delivery_http_start(DeliveryHttp *h, DeliveryRequest *r)
{
	CURL	   *easy;
	MemoryContext old = MemoryContextSwitchTo(r->cxt);
	const char *url = r->urls[r->url_index];
	char	   *full_url = (char *) url;
	int64		now_s = (int64) time(NULL);

	free(r->resp);
	r->resp = NULL;
	r->resp_len = 0;
	r->retry_after_hdr = -1;
	r->http_status = 0;
	r->curl_code = 0;
	r->errbuf[0] = '\0';

	/* headers first: they palloc (the signature), and nothing is attached to curl yet */
	r->headers = curl_slist_append(NULL, "Content-Type: application/json");
	r->headers = curl_slist_append(r->headers, "Expect:");	/* no 100-continue round trip */
	r->headers = curl_slist_append(r->headers, "User-Agent: fsmml/" FSMML_VERSION);
	if (r->kind == DELIVERY_WEBHOOK)
	{
		r->headers = curl_slist_append(r->headers, psprintf("webhook-id: %s", r->webhook_id));
		r->headers = curl_slist_append(r->headers, psprintf("webhook-timestamp: " INT64_FORMAT, now_s));
		if (r->secret)
			r->headers = curl_slist_append(r->headers, psprintf("webhook-signature: %s",
																fsmml_webhook_signature(r->secret, r->webhook_id, now_s,
																						r->body, strlen(r->body))));
	}
	else if (r->kind == DELIVERY_TELEGRAM)
	{
		/* the bot token is the secret; the allow-list checks the URL without it */
		size_t		n = strlen(url);

		full_url = psprintf("%s%sbot%s/sendMessage", url, (n > 0 && url[n - 1] == '/') ? "" : "/",
							r->secret ? r->secret : "");
	}
	else
		r->headers = curl_slist_append(r->headers, psprintf("X-Fsmml-Outbox-Id: " INT64_FORMAT, r->outbox_id));
	if (r->headers == NULL)
		elog(ERROR, "out of memory building HTTP headers");

	easy = curl_easy_init();
	if (easy == NULL)
	{
		curl_slist_free_all(r->headers);
		r->headers = NULL;
		elog(ERROR, "curl_easy_init failed");
	}
	r->easy = easy;
	curl_easy_setopt(easy, CURLOPT_URL, full_url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(easy, CURLOPT_POST, 1L);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long) strlen(r->body));
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, r->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, Min(r->timeout_ms, 10000L));
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);

	r->started_us = GetCurrentTimestamp();
	dlist_push_tail(&h->active, &r->node);
	h->nactive++;
	if (curl_multi_add_handle(h->multi, easy) != CURLM_OK)
	{
		dlist_delete(&r->node);
		h->nactive--;
		release_easy(r);
		elog(ERROR, "curl_multi_add_handle failed");
	}
	MemoryContextSwitchTo(old);
}

void
delivery_http_poll(DeliveryHttp *h, int timeout_ms, dlist_head *done)
{
	int			running;
	int			left;
	CURLMsg    *msg;

	if (h->nactive == 0)
		return;
	curl_multi_perform(h->multi, &running);
	if (timeout_ms > 0)
	{
		curl_multi_poll(h->multi, NULL, 0, timeout_ms, NULL);
		curl_multi_perform(h->multi, &running);
	}
	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL)
	{
		DeliveryRequest *r;
		char	   *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		r = (DeliveryRequest *) priv;
		r->curl_code = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &r->http_status);
		r->latency_ms = (GetCurrentTimestamp() - r->started_us) / 1000.0;
		curl_multi_remove_handle(h->multi, msg->easy_handle);
		release_easy(r);
		dlist_delete(&r->node);
		h->nactive--;
		dlist_push_tail(done, &r->node);
	}
}

DeliveryRequest *
delivery_http_new(DeliveryHttp *h)
{
	DeliveryRequest *r = MemoryContextAllocZero(h->cxt, sizeof(DeliveryRequest));

	r->cxt = AllocSetContextCreate(h->cxt, "fsmml delivery request", ALLOCSET_SMALL_SIZES);
	return r;
}

void
delivery_http_free(DeliveryRequest *r)
{
	free(r->resp);
	r->resp = NULL;
	MemoryContextDelete(r->cxt);
	pfree(r);
}
