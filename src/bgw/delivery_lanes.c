/*
 * delivery_lanes.c — the delivery worker's claimed rows, one ordered lane per
 * endpoint, and the rule that starts them.
 *
 * A pass claims an endpoint's next rows ahead of their sends (up to
 * DELIVERY_CLAIM_AHEAD, in signal order) so that one transaction serves a
 * whole batch; a lane then starts its rows in that order, at most the
 * endpoint's max_in_flight at once (and fsmml.delivery_max_in_flight over all
 * lanes).  With max_in_flight 1 the next row starts only after the previous
 * one's 2xx, over the kept-alive connection, without waiting for a pass.
 * Signals of one timestamp (one bar's symbols, say) have no order among
 * them: a row whose timestamp is that of every row in flight starts too,
 * up to DELIVERY_TIE_MAX at once, whatever max_in_flight.
 *
 * A retryable failure stalls its lane: the rows not yet started are released
 * (queued again, no attempt counted) and nothing more starts until the
 * lane's transfers have ended and the failure is recorded; the next claim
 * then honours the failed row's back-off, so no row ever overtakes it.  A
 * permanent failure ('failed', the next rows go on) does not stall.
 */
#include "postgres.h"

#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "delivery.h"

typedef struct Lane
{
	int64		endpoint_id;	/* hash key */
	int			window;			/* the endpoint's max_in_flight */
	int			inflight;
	TimestampTz last_ts;		/* signal_ts of the row started last */
	int			inflight_last;	/* rows of last_ts in flight */
	bool		stalled;
	dlist_head	waiting;		/* claimed, not started, in signal order */
} Lane;

struct DeliveryLanes
{
	HTAB	   *lanes;
	int			held;			/* claimed rows not yet finished or released */
	int			dry;			/* lanes that ran out of rows since the last pass */
};

DeliveryLanes *
delivery_lanes_create(MemoryContext cxt)
{
	DeliveryLanes *l = MemoryContextAllocZero(cxt, sizeof(DeliveryLanes));
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(Lane);
	ctl.hcxt = cxt;
	l->lanes = hash_create("fsmml delivery lanes", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	return l;
}

static Lane *
lane_of(DeliveryLanes *l, int64 endpoint_id)
{
	bool		found;
	Lane	   *lane = hash_search(l->lanes, &endpoint_id, HASH_ENTER, &found);

	if (!found)
	{
		lane->window = 1;
		lane->inflight = 0;
		lane->last_ts = 0;
		lane->inflight_last = 0;
		lane->stalled = false;
		dlist_init(&lane->waiting);
	}
	return lane;
}

int
delivery_lanes_held(DeliveryLanes *l)
{
	return l->held;
}

/*
 * Whether a claim is worth its scan: some lane holds at most half of
 * DELIVERY_CLAIM_AHEAD (a claim reads an endpoint's held rows again before
 * it reaches new ones).
 */
bool
delivery_lanes_want_more(DeliveryLanes *l)
{
	HASH_SEQ_STATUS seq;
	Lane	   *lane;
	bool		want = false;

	hash_seq_init(&seq, l->lanes);
	while ((lane = hash_seq_search(&seq)) != NULL)
	{
		int			held = lane->inflight;
		dlist_iter	it;

		dlist_foreach(it, &lane->waiting)
		{
			if (++held > DELIVERY_CLAIM_AHEAD / 2)
				break;
		}
		if (held <= DELIVERY_CLAIM_AHEAD / 2)
		{
			want = true;
			hash_seq_term(&seq);
			break;
		}
	}
	return want;
}

int
delivery_lanes_take_dry(DeliveryLanes *l)
{
	int			d = l->dry;

	l->dry = 0;
	return d;
}

void
delivery_lanes_add(DeliveryLanes *l, DeliveryRequest *r, int window)
{
	Lane	   *lane = lane_of(l, r->endpoint_id);

	lane->window = Max(window, 1);
	dlist_push_tail(&lane->waiting, &r->node);
	l->held++;
}

/* Whether the lane's next row may start now (the order rule of the header comment). */
static bool
lane_may_start(Lane *lane)
{
	DeliveryRequest *next;

	if (lane->stalled || dlist_is_empty(&lane->waiting))
		return false;
	if (lane->inflight < lane->window)
		return true;
	next = dlist_container(DeliveryRequest, node, dlist_head_node(&lane->waiting));
	return next->signal_ts == lane->last_ts && lane->inflight_last == lane->inflight &&
		lane->inflight < DELIVERY_TIE_MAX;
}

/*
 * Starts what order allows in one lane.  The allow-list is checked again
 * here, at send time: a row it now refuses goes to *refused (a permanent
 * failure), as does one refused at its claim.
 */
static void
lane_pump(DeliveryLanes *l, Lane *lane, DeliveryHttp *h, int max_in_flight, dlist_head *refused)
{
	while (lane_may_start(lane) && delivery_http_in_flight(h) < max_in_flight)
	{
		DeliveryRequest *r = dlist_container(DeliveryRequest, node, dlist_pop_head_node(&lane->waiting));
		MemoryContext old = MemoryContextSwitchTo(r->cxt);
		char	   *why = r->refused ? NULL : fsmml_url_refusal(r->urls[r->url_index]);

		MemoryContextSwitchTo(old);
		lane->inflight++;
		if (r->signal_ts == lane->last_ts && lane->inflight > 1)
			lane->inflight_last++;
		else
		{
			lane->last_ts = r->signal_ts;
			lane->inflight_last = 1;
		}
		if (why)
		{
			r->refused = true;
			strlcpy(r->errbuf, why, sizeof(r->errbuf));
		}
		if (r->refused)
			dlist_push_tail(refused, &r->node);
		else
			delivery_http_start(h, r);
	}
}

void
delivery_lanes_pump(DeliveryLanes *l, DeliveryHttp *h, int max_in_flight, dlist_head *refused)
{
	HASH_SEQ_STATUS seq;
	Lane	   *lane;

	hash_seq_init(&seq, l->lanes);
	while ((lane = hash_seq_search(&seq)) != NULL)
		lane_pump(l, lane, h, max_in_flight, refused);
}

/*
 * r (started by a lane) has ended for good.  A retryable failure stalls the
 * lane and moves its waiting rows to *released (the caller queues them
 * again and frees them).
 */
void
delivery_lanes_finished(DeliveryLanes *l, DeliveryRequest *r, bool retryable_failure,
						dlist_head *released)
{
	Lane	   *lane = lane_of(l, r->endpoint_id);

	lane->inflight--;
	if (r->signal_ts == lane->last_ts)
		lane->inflight_last--;
	l->held--;
	if (retryable_failure)
	{
		lane->stalled = true;
		while (!dlist_is_empty(&lane->waiting))
		{
			dlist_push_tail(released, dlist_pop_head_node(&lane->waiting));
			l->held--;
		}
	}
	/* nothing of the lane in flight: the failure is recorded before the next claim */
	if (lane->inflight == 0)
		lane->stalled = false;
	if (lane->inflight == 0 && dlist_is_empty(&lane->waiting))
	{
		/* an idle endpoint keeps no lane: want_more looks at busy ones only */
		l->dry++;
		hash_search(l->lanes, &r->endpoint_id, HASH_REMOVE, NULL);
	}
}

/* The endpoints that have a lane, palloc'd in the current context; returns how many. */
int
delivery_lanes_endpoints(DeliveryLanes *l, Datum **ids)
{
	HASH_SEQ_STATUS seq;
	Lane	   *lane;
	int			n = 0;

	*ids = palloc(sizeof(Datum) * Max(hash_get_num_entries(l->lanes), 1));
	hash_seq_init(&seq, l->lanes);
	while ((lane = hash_seq_search(&seq)) != NULL)
		(*ids)[n++] = Int64GetDatum(lane->endpoint_id);
	return n;
}

/*
 * An endpoint disabled or dropped since its rows were claimed: the rows not
 * yet started go to *released (queued again, unsent); those in flight end.
 */
void
delivery_lanes_release(DeliveryLanes *l, int64 endpoint_id, dlist_head *released)
{
	Lane	   *lane = hash_search(l->lanes, &endpoint_id, HASH_FIND, NULL);

	if (lane == NULL)
		return;
	while (!dlist_is_empty(&lane->waiting))
	{
		dlist_push_tail(released, dlist_pop_head_node(&lane->waiting));
		l->held--;
	}
	if (lane->inflight == 0)
		hash_search(l->lanes, &endpoint_id, HASH_REMOVE, NULL);
}
