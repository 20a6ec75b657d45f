/*
 * delivery.h — signals out of the database: the outbox delivery worker
 * (delivery_worker.c; its registration, shared memory and wake-up in
 * delivery_shmem.c), its HTTP client over libcurl's multi interface
 * (delivery_http.c), the per-endpoint lanes of claimed rows
 * (delivery_lanes.c), Standard Webhooks signatures (delivery_sign.c) and the
 * endpoints' URL allow-list (endpoints.c).
 */
#ifndef FSMML_DELIVERY_H
#define FSMML_DELIVERY_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "lib/ilist.h"

/* GUCs */
extern char *fsmml_allowed_urls;		/* endpoints.c */
extern int	fsmml_endpoint_disable_after;	/* seconds */
extern int	fsmml_delivery_max_attempts;
extern int	fsmml_delivery_retry_delay; /* ms, doubled per attempt */
extern int	fsmml_delivery_retention;	/* seconds */
extern int	fsmml_delivery_max_in_flight;

extern void fsmml_delivery_init(void);	/* delivery_shmem.c */
extern void fsmml_delivery_attach(void);
extern void fsmml_endpoints_guc_init(void);

/* NULL when url may be called, else why not (palloc'd). */
extern char *fsmml_url_refusal(const char *url);

/* "v1,<base64 HMAC-SHA256 of id.timestamp.body>"; secret "whsec_<base64>" or raw bytes. */
extern char *fsmml_webhook_signature(const char *secret, const char *msg_id, int64 timestamp,
									 const char *body, size_t body_len);

typedef enum DeliveryKind
{
	DELIVERY_WEBHOOK,
	DELIVERY_TELEGRAM,
	DELIVERY_LLM
} DeliveryKind;

/*
 * One outbox row on its way.  The fields under "callbacks" are written by
 * curl callbacks only (plain C, malloc'd buffer); the rest by the worker.
 */
typedef struct DeliveryRequest
{
	dlist_node	node;
	MemoryContext cxt;			/* the request's strings; the struct is in the http context */
	int64		outbox_id;
	int64		endpoint_id;
	TimestampTz signal_ts;		/* its place in the endpoint's order */
	DeliveryKind kind;
	char	  **urls;			/* the URL, then an llm endpoint's fallbacks */
	int			nurls;
	int			url_index;		/* the one being tried */
	char	   *secret;
	char	   *webhook_id;
	char	   *body;
	long		timeout_ms;
	/* curl state */
	void	   *easy;
	struct curl_slist *headers;
	char		errbuf[256];
	int64		started_us;
	/* callbacks */
	char	   *resp;
	size_t		resp_len;
	long		retry_after_hdr;	/* seconds from a Retry-After header, -1 none */
	/* result */
	bool		refused;		/* not sent: errbuf says why */
	long		http_status;
	int			curl_code;
	double		latency_ms;
} DeliveryRequest;

typedef struct DeliveryHttp DeliveryHttp;

/* A multi handle owned by a child context of parent (a reset callback cleans up). */
extern DeliveryHttp *delivery_http_create(MemoryContext parent);
extern MemoryContext delivery_http_context(DeliveryHttp *h);
extern int	delivery_http_in_flight(DeliveryHttp *h);
/* Starts r on r->urls[r->url_index]. */
extern void delivery_http_start(DeliveryHttp *h, DeliveryRequest *r);
/* Runs transfers, waiting at most timeout_ms for activity; finished requests go to *done. */
extern void delivery_http_poll(DeliveryHttp *h, int timeout_ms, dlist_head *done);
/* A new request in h's context, with its own child context for its strings. */
extern DeliveryRequest *delivery_http_new(DeliveryHttp *h);
/* Frees a finished request. */
extern void delivery_http_free(DeliveryRequest *r);

/* delivery_lanes.c: claimed rows per endpoint, started in signal order */
#define DELIVERY_CLAIM_AHEAD 512	/* rows claimed ahead per endpoint */
#define DELIVERY_TIE_MAX 64		/* in flight at once to an endpoint: rows of one signal timestamp */
typedef struct DeliveryLanes DeliveryLanes;
extern DeliveryLanes *delivery_lanes_create(MemoryContext cxt);
/* Appends a claimed row (claims come in signal order) to its endpoint's lane. */
extern void delivery_lanes_add(DeliveryLanes *l, DeliveryRequest *r, int window);
/* Starts what order and the limits allow; refused rows go to *refused, unsent. */
extern void delivery_lanes_pump(DeliveryLanes *l, DeliveryHttp *h, int max_in_flight, dlist_head *refused);
/* r has ended for good; a retryable failure stalls its lane and releases the rows behind it. */
extern void delivery_lanes_finished(DeliveryLanes *l, DeliveryRequest *r, bool retryable_failure,
									dlist_head *released);
extern int	delivery_lanes_held(DeliveryLanes *l);
/* Some lane is short of rows: a claim may refill it. */
extern bool delivery_lanes_want_more(DeliveryLanes *l);
/* The endpoints with a lane (palloc'd ids), and the release of one's unstarted rows. */
extern int	delivery_lanes_endpoints(DeliveryLanes *l, Datum **ids);
extern void delivery_lanes_release(DeliveryLanes *l, int64 endpoint_id, dlist_head *released);
/* Lanes that ran out of rows since the last call (a pass may claim more). */
extern int	delivery_lanes_take_dry(DeliveryLanes *l);

#endif							/* FSMML_DELIVERY_H */
