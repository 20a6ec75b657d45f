/*
 * diff_load.c — the validator's verdict against XGBoost's own loader.
 *   diff_load FILE...   prints per file "<validator 0|1> <xgboost ok|err|crash>"
 * Each XGBoosterLoadModelFromBuffer (+ one prediction on a zero row, which
 * is where bad tree links crash) runs in a forked child, because XGBoost
 * 1.7 segfaults or loops on some corrupt blobs; a child taking over 5 s is
 * killed and counted as a crash.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xgboost/c_api.h>

#include "model_validate.h"

static int
xgb_load(const char *buf, size_t len)
{
	BoosterHandle b;
	bst_ulong	nf = 0;
	float		row[4096] = {0};
	const bst_ulong *shape;
	bst_ulong	dim;
	const float *res;
	char		iface[256];

	if (XGBoosterCreate(NULL, 0, &b) != 0 ||
		XGBoosterLoadModelFromBuffer(b, buf, len) != 0 ||
		XGBoosterGetNumFeature(b, &nf) != 0)
		return 1;
	if (nf > 0 && nf <= 4096)
	{
		snprintf(iface, sizeof(iface),
				 "{\"data\": [%lu, true], \"shape\": [1, %lu], \"strides\": null, \"typestr\": \"<f4\", \"version\": 3}",
				 (unsigned long) (uintptr_t) row, (unsigned long) nf);
		if (XGBoosterPredictFromDense(b, iface,
									  "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}",
									  NULL, &shape, &dim, &res) != 0)
			return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
	{
		FILE	   *f = fopen(argv[i], "rb");
		char	   *buf;
		long		len;
		int			v;
		pid_t		pid;
		int			status;
		const char *x;

		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		rewind(f);
		buf = malloc(len + 1);
		if (fread(buf, 1, len, f) != (size_t) len)
			len = 0;
		fclose(f);
		v = fs_model_validate(buf, len, NULL);
		pid = fork();
		if (pid == 0)
		{
			alarm(5);
			_exit(xgb_load(buf, len));
		}
		waitpid(pid, &status, 0);
		x = WIFSIGNALED(status) ? "crash" : WEXITSTATUS(status) == 0 ? "ok" : "err";
		printf("%d %s %s\n", v, x, argv[i]);
		free(buf);
	}
	return 0;
}
