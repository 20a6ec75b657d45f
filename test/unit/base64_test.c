/*
 * base64_test.c — fs_b64_decode_canonical (src/kernel/base64.c) against Python's base64: reads
 * lines "HEX B64 ok|reject" from stdin (HEX the expected bytes, "-" for none; B64 the input,
 * "-" for empty) and prints one TAP line per kind of case.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

int
main(void)
{
	static char line[1 << 20];
	static char hex[1 << 19];
	static char b64[1 << 19];
	static char want[8];
	static uint8_t out[1 << 19];
	int			decoded = 0,
				rejected = 0,
				bad_decoded = 0,
				bad_rejected = 0;

	while (fgets(line, sizeof(line), stdin) != NULL)
	{
		int			len;
		int			n;

		if (sscanf(line, "%s %s %7s", hex, b64, want) != 3)
			continue;
		if (strcmp(b64, "-") == 0)
			b64[0] = '\0';
		if (strcmp(hex, "-") == 0)
			hex[0] = '\0';
		len = (int) strlen(b64);
		n = fs_b64_decode_canonical(b64, len, out);
		if (strcmp(want, "ok") == 0)
		{
			int			same = n >= 0 && (size_t) n * 2 == strlen(hex);

			for (int i = 0; same && i < n; i++)
			{
				char		h[3];

				snprintf(h, sizeof(h), "%02x", out[i]);
				same = h[0] == hex[2 * i] && h[1] == hex[2 * i + 1];
			}
			decoded++;
			if (!same)
			{
				bad_decoded++;
				if (bad_decoded <= 3)
					printf("# wrong decoding of \"%.60s\" (%d bytes)\n", b64, n);
			}
		}
		else
		{
			rejected++;
			if (n != -1)
			{
				bad_rejected++;
				if (bad_rejected <= 3)
					printf("# \"%.60s\" was decoded (%d bytes), not left to the general decoder\n", b64, n);
			}
		}
	}
	printf("%s - canonical base64 decodes to Python's bytes (%d of %d wrong)\n",
		   decoded > 0 && bad_decoded == 0 ? "ok" : "not ok", bad_decoded, decoded);
	printf("%s - anything else is left to the general decoder (%d of %d decoded)\n",
		   rejected > 0 && bad_rejected == 0 ? "ok" : "not ok", bad_rejected, rejected);
	return 0;
}
