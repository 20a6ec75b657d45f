/*
 * http_hammer.c — measures a receiver alone (bench/delivery.sh's receivers):
 * C connections to 127.0.0.1:PORT, each with one webhook-like POST in flight
 * at a time (keep-alive, like the delivery worker), N requests in all;
 * prints requests/s.
 *
 *   cc -O2 -o http_hammer http_hammer.c && ./http_hammer PORT N C
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int
send_one(int fd, long i)
{
	char		body[256],
				req[1024];
	int			bl = snprintf(body, sizeof(body),
							  "{\"type\": \"signal.created\", \"data\": {\"symbol\": \"B\", \"i\": %ld}, "
							  "\"timestamp\": \"2024-01-01T00:00:00.000000Z\"}", i);
	int			rl = snprintf(req, sizeof(req),
							  "POST /e0 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
							  "webhook-id: sig_hammer_%ld\r\nwebhook-timestamp: 1700000000\r\n"
							  "webhook-signature: v1,AAAA\r\nContent-Length: %d\r\n\r\n%s", i, bl, body);

	return write(fd, req, rl) == rl ? 0 : -1;
}

int
main(int argc, char **argv)
{
	int			port = argc > 1 ? atoi(argv[1]) : 0;
	long		n = argc > 2 ? atol(argv[2]) : 20000;
	int			c = argc > 3 ? atoi(argv[3]) : 1;
	struct pollfd *p = calloc(c, sizeof(*p));
	long		sent = 0,
				done = 0;
	struct timespec t0,
				t1;
	int			one = 1;

	for (int k = 0; k < c; k++)
	{
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		p[k].fd = socket(AF_INET, SOCK_STREAM, 0);
		p[k].events = POLLIN;
		setsockopt(p[k].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(p[k].fd, (struct sockaddr *) &a, sizeof(a)) < 0)
		{
			perror("connect");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < c && sent < n; k++)
		send_one(p[k].fd, sent++);
	while (done < n)
	{
		if (poll(p, c, 5000) <= 0)
		{
			fprintf(stderr, "timeout after %ld answers\n", done);
			return 1;
		}
		for (int k = 0; k < c; k++)
		{
			char		buf[4096];
			ssize_t		r;

			if (!(p[k].revents & POLLIN))
				continue;
			r = read(p[k].fd, buf, sizeof(buf));
			if (r <= 0)
				return 1;
			/* answers are small: count their status lines */
			for (char *q = buf; (q = memmem(q, buf + r - q, "HTTP/1.1 ", 9)) != NULL; q += 9)
			{
				done++;
				if (sent < n)
					send_one(p[k].fd, sent++);
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%ld requests, %d connections: %.0f requests/s\n", n, c,
		   n / ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9));
	return 0;
}
