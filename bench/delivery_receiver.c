/*
 * delivery_receiver.c — the bench's webhook receiver (bench/delivery.sh): one
 * epoll thread on 127.0.0.1, HTTP/1.1 keep-alive (pipelined requests too),
 * answering 200 at once.  It parses every request (request line, headers,
 * Content-Length body), verifies the Standard Webhooks signature when given
 * --secret, and logs one line per request in the format of
 * test/delivery_receiver.py --fast:
 *   {"t": <arrival, Unix s>, "id": "<webhook-id>", "ts": "<body's timestamp>", "sig": 0|1}
 * so the bench can check that every delivery arrived, once, signed.
 * The Python receiver (asyncio) tops out near the worker's own rate on a
 * shared 2-core machine; this one costs a few microseconds per request.
 *
 *   cc -O2 -o delivery_receiver delivery_receiver.c -lcrypto
 *   delivery_receiver --log FILE --port-file FILE [--secret whsec_...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define BUF_MAX (1 << 20)

typedef struct Conn
{
	int			fd;
	char	   *buf;
	size_t		len;
	size_t		cap;
} Conn;

static FILE *logf;
static unsigned char key[256];
static int	keylen = -1;		/* -1: no signature check */
static volatile sig_atomic_t stop;

static void
on_term(int s)
{
	(void) s;
	stop = 1;
}

static int
b64dec(const char *in, unsigned char *out, int max)
{
	int			n = EVP_DecodeBlock(out, (const unsigned char *) in, (int) strlen(in));
	size_t		l = strlen(in);

	if (n < 0)
		return -1;
	/* EVP_DecodeBlock counts padding as zero bytes */
	while (l > 0 && in[l - 1] == '=')
		l--, n--;
	return n > max ? -1 : n;
}

/* 1 when sig (space-separated "v1,<base64>" list) holds HMAC-SHA256(key, id.ts.body) */
static int
sig_ok(const char *id, size_t idl, const char *ts, size_t tsl, const char *body, size_t bl,
	   const char *sig, size_t sigl)
{
	static char *msg;
	static size_t msgcap;
	size_t		ml = idl + tsl + bl + 2;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char		want[128];
	int			wl;
	int			ok = 0;

	if (ml > msgcap)
	{
		msgcap = ml * 2;
		msg = realloc(msg, msgcap);
	}
	memcpy(msg, id, idl);
	msg[idl] = '.';
	memcpy(msg + idl + 1, ts, tsl);
	msg[idl + 1 + tsl] = '.';
	memcpy(msg + idl + tsl + 2, body, bl);
	if (!HMAC(EVP_sha256(), key, keylen, (unsigned char *) msg, ml, mac, &maclen))
		return 0;
	memcpy(want, "v1,", 3);
	wl = 3 + EVP_EncodeBlock((unsigned char *) want + 3, mac, (int) maclen);
	for (size_t i = 0; i < sigl && !ok;)
	{
		size_t		j = i;

		while (j < sigl && sig[j] != ' ')
			j++;
		ok = (j - i == (size_t) wl && memcmp(sig + i, want, wl) == 0);
		i = j + 1;
	}
	return ok;
}

/* A header's value (trimmed) in head[0..hl), or NULL. */
static const char *
header(const char *head, size_t hl, const char *name, size_t *vl)
{
	size_t		nl = strlen(name);
	const char *p = memchr(head, '\n', hl);	/* past the request line */

	while (p && (size_t) (p + 1 - head) < hl)
	{
		const char *line = p + 1;
		const char *eol = memchr(line, '\n', hl - (line - head));

		if (!eol)
			break;
		if ((size_t) (eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0)
		{
			const char *v = line + nl + 1;
			const char *e = eol;

			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == '\r' || e[-1] == ' '))
				e--;
			*vl = e - v;
			return v;
		}
		p = eol;
	}
	return NULL;
}

/* The body's last "timestamp": "..." (the webhook's own, after "data"). */
static void
body_ts(const char *b, size_t bl, const char **ts, size_t *tl)
{
	static const char pat[] = "\"timestamp\": \"";
	const char *found = NULL;

	for (const char *p = b; p + sizeof(pat) - 1 <= b + bl;)
	{
		const char *q = memmem(p, b + bl - p, pat, sizeof(pat) - 1);

		if (!q)
			break;
		found = q + sizeof(pat) - 1;
		p = found;
	}
	*ts = "";
	*tl = 0;
	if (found)
	{
		const char *e = memchr(found, '"', b + bl - found);

		if (e)
		{
			*ts = found;
			*tl = e - found;
		}
	}
}

/* Answers every complete request in c's buffer; -1 on a malformed one. */
static int
serve(Conn *c)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	size_t		off = 0;
	int			answers = 0;
	char		out[64 * (sizeof(ok) - 1)];
	size_t		outl = 0;

	for (;;)
	{
		char	   *head = c->buf + off;
		size_t		avail = c->len - off;
		char	   *end = avail >= 4 ? memmem(head, avail, "\r\n\r\n", 4) : NULL;
		size_t		hl,
					idl = 0,
					tsl = 0,
					sigl = 0,
					cll = 0,
					btl;
		const char *id,
				   *wts,
				   *sig,
				   *cl,
				   *bts;
		long		n;
		struct timeval tv;

		if (!end)
			break;
		hl = end + 4 - head;
		cl = header(head, hl, "content-length", &cll);
		n = cl ? strtol(cl, NULL, 10) : 0;
		if (n < 0 || n > BUF_MAX / 2)
			return -1;
		if (avail < hl + (size_t) n)
			break;
		gettimeofday(&tv, NULL);
		id = header(head, hl, "webhook-id", &idl);
		wts = header(head, hl, "webhook-timestamp", &tsl);
		sig = header(head, hl, "webhook-signature", &sigl);
		body_ts(head + hl, n, &bts, &btl);
		fprintf(logf, "{\"t\": %ld.%06ld, \"id\": \"%.*s\", \"ts\": \"%.*s\"", (long) tv.tv_sec,
				(long) tv.tv_usec, (int) idl, id ? id : "", (int) btl, bts);
		if (keylen >= 0)
			fprintf(logf, ", \"sig\": %d", id && wts && sig &&
					sig_ok(id, idl, wts, tsl, head + hl, n, sig, sigl));
		fputs("}\n", logf);
		off += hl + n;
		memcpy(out + outl, ok, sizeof(ok) - 1);
		outl += sizeof(ok) - 1;
		if (++answers == 64)
		{
			if (write(c->fd, out, outl) != (ssize_t) outl)
				return -1;
			answers = 0;
			outl = 0;
		}
	}
	if (outl > 0 && write(c->fd, out, outl) != (ssize_t) outl)
		return -1;
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	return 0;
}

static void
drop(int ep, Conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	free(c);
}

int
main(int argc, char **argv)
{
	const char *logpath = NULL,
			   *portfile = NULL;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t	al = sizeof(a);
	int			ls,
				ep,
				one = 1;
	struct epoll_event ev,
				evs[64];

	for (int i = 1; i + 1 < argc; i += 2)
	{
		if (strcmp(argv[i], "--log") == 0)
			logpath = argv[i + 1];
		else if (strcmp(argv[i], "--port-file") == 0)
			portfile = argv[i + 1];
		else if (strcmp(argv[i], "--port") == 0)
			a.sin_port = htons(atoi(argv[i + 1]));
		else if (strcmp(argv[i], "--secret") == 0)
		{
			const char *s = argv[i + 1];

			keylen = strncmp(s, "whsec_", 6) == 0 ? b64dec(s + 6, key, sizeof(key)) :
				(int) strlen(s) < (int) sizeof(key) ? (memcpy(key, s, strlen(s)), (int) strlen(s)) : -1;
			if (keylen < 0)
			{
				fprintf(stderr, "delivery_receiver: bad --secret\n");
				return 2;
			}
		}
	}
	if (!logpath || !(logf = fopen(logpath, "a")))
	{
		fprintf(stderr, "usage: delivery_receiver --log FILE [--port-file FILE] [--port P] [--secret S]\n");
		return 2;
	}
	setvbuf(logf, NULL, _IOFBF, 1 << 16);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(ls, 512) < 0)
	{
		perror("delivery_receiver: listen");
		return 1;
	}
	getsockname(ls, (struct sockaddr *) &a, &al);
	if (portfile)
	{
		char		tmp[4096];
		FILE	   *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
		if (!(f = fopen(tmp, "w")))
			return 1;
		fprintf(f, "%d", ntohs(a.sin_port));
		fclose(f);
		rename(tmp, portfile);
	}
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	while (!stop)
	{
		/* the log is complete whenever the receiver is idle */
		int			n = epoll_wait(ep, evs, 64, 0);

		if (n == 0)
		{
			fflush(logf);
			n = epoll_wait(ep, evs, 64, 200);
		}
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++)
		{
			Conn	   *c = evs[i].data.ptr;

			if (c == NULL)
			{
				int			fd;

				while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0)
				{
					c = calloc(1, sizeof(Conn));
					c->fd = fd;
					c->cap = 8192;
					c->buf = malloc(c->cap);
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			for (;;)
			{
				ssize_t		r;

				if (c->len == c->cap)
				{
					if (c->cap >= BUF_MAX)
					{
						r = -1;
						goto gone;
					}
					c->cap *= 2;
					c->buf = realloc(c->buf, c->cap);
				}
				r = read(c->fd, c->buf + c->len, c->cap - c->len);
				if (r > 0)
				{
					c->len += r;
					if (c->len < c->cap)
						break;	/* read the rest at the next wake-up */
					continue;
				}
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					break;
		gone:
				fflush(logf);
				drop(ep, c);
				c = NULL;
				break;
			}
			if (c && serve(c) < 0)
			{
				fflush(logf);
				drop(ep, c);
			}
		}
	}
	fflush(logf);
	return 0;
}
