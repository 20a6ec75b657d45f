/* functions.h — the benchmark functions of bench/tpe (same definitions as bench.py). */
#include <math.h>

#define M_PI 3.14159265358979323846

/* a shifted quadratic in 3 dimensions on [-5, 5]^3; minimum 0 at (1.3, -2.1, 0.7) */
static double
f_quadratic(const double *x)
{
	return pow(x[0] - 1.3, 2) + pow(x[1] + 2.1, 2) + pow(x[2] - 0.7, 2);
}

/* Branin on [-5, 10] x [0, 15]; minimum 0.397887 */
static double
f_branin(const double *x)
{
	double		a = 1,
				b = 5.1 / (4 * M_PI * M_PI),
				c = 5 / M_PI,
				r = 6,
				s = 10,
				t = 1 / (8 * M_PI);

	return a * pow(x[1] - b * x[0] * x[0] + c * x[0] - r, 2) + s * (1 - t) * cos(x[0]) + s;
}

/* Hartmann-6 on [0, 1]^6; minimum -3.32237 */
static double
f_hartmann6(const double *x)
{
	static const double al[4] = {1.0, 1.2, 3.0, 3.2};
	static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14},
	{3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}};
	static const double P[4][6] = {{1312, 1696, 5569, 124, 8283, 5886}, {2329, 4135, 8307, 3736, 1004, 9991},
	{2348, 1451, 3522, 2883, 3047, 6650}, {4047, 8828, 8732, 5743, 1091, 381}};
	double		outer = 0;

	for (int i = 0; i < 4; i++)
	{
		double		inner = 0;

		for (int j = 0; j < 6; j++)
			inner += A[i][j] * pow(x[j] - P[i][j] * 1e-4, 2);
		outer += al[i] * exp(-inner);
	}
	return -outer;
}
