/*
 * svg.c — chart primitives of fsmml_report (svg.h).
 */
#include "postgres.h"

#include <math.h>

#include "fsmml.h"
#include "svg.h"

void
svg_esc(StringInfo s, const char *t)
{
	for (; t && *t; t++)
	{
		switch (*t)
		{
			case '<':
				appendStringInfoString(s, "&lt;");
				break;
			case '>':
				appendStringInfoString(s, "&gt;");
				break;
			case '&':
				appendStringInfoString(s, "&amp;");
				break;
			case '"':
				appendStringInfoString(s, "&quot;");
				break;
			case '\'':
				appendStringInfoString(s, "&#39;");
				break;
			default:
				appendStringInfoChar(s, *t);
		}
	}
}

const char *
svg_num(double v, int digits)
{
	if (!isfinite(v))
		return "n/a";
	return psprintf("%.*g", digits, v);
}

/* YYYY-MM-DD, or MM-DD HH:MM when the axis spans less than three days */
const char *
svg_day_label(int64 us, double span_us)
{
	char	   *iso = fsmml_iso8601(us);

	if (span_us < 3.0 * USECS_PER_DAY)
	{
		iso[16] = '\0';			/* YYYY-MM-DDTHH:MM */
		iso[10] = ' ';
		return iso + 5;
	}
	iso[10] = '\0';
	return iso;
}

/* ---------------------------------------------------------------- chart frame */


double
svg_px(const SvgFrame *f, double x)
{
	return ML + (f->x1 > f->x0 ? (x - f->x0) / (f->x1 - f->x0) : 0.5) * (W - ML - MR);
}

double
svg_py(const SvgFrame *f, double y)
{
	return MT + (f->y1 > f->y0 ? 1 - (y - f->y0) / (f->y1 - f->y0) : 0.5) * (H - MT - MB);
}

void
svg_open(StringInfo s, const char *name, const char *title)
{
	appendStringInfo(s, "<section><h2>");
	svg_esc(s, title);
	appendStringInfo(s, "</h2><svg class=\"chart\" data-chart=\"%s\" width=\"%d\" height=\"%d\" "
					 "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", name, W, H, W, H);
	svg_esc(s, title);
	appendStringInfoString(s, "\">");
}

void
svg_empty(StringInfo s, const char *name, const char *title, const char *why)
{
	svg_open(s, name, title);
	appendStringInfo(s, "<rect x=\"1\" y=\"1\" width=\"%d\" height=\"%d\" class=\"empty\"/>"
					 "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"nodata\">no data yet</text>"
					 "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"why\">",
					 W - 2, H - 2, W / 2, H / 2 - 6, W / 2, H / 2 + 18);
	svg_esc(s, why);
	appendStringInfoString(s, "</text></svg></section>\n");
}

/* Axes with 5 ticks each; x as dates when time_x. */
void
svg_axes(StringInfo s, const SvgFrame *f, bool time_x, const char *xtitle, const char *ytitle, int ydigits)
{
	appendStringInfo(s, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>"
					 "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>",
					 ML, MT, ML, H - MB, ML, H - MB, W - MR, H - MB);
	for (int i = 0; i <= 4; i++)
	{
		double		yv = f->y0 + (f->y1 - f->y0) * i / 4;
		double		xv = f->x0 + (f->x1 - f->x0) * i / 4;

		appendStringInfo(s, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
						 "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" class=\"tick\">%s</text>",
						 ML, svg_py(f, yv), W - MR, svg_py(f, yv), ML - 6, svg_py(f, yv) + 4, svg_num(yv, ydigits));
		appendStringInfo(s, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\" class=\"tick\">",
						 svg_px(f, xv), H - MB + 16, i == 0 ? "start" : i == 4 ? "end" : "middle");
		svg_esc(s, time_x ? svg_day_label((int64) xv, f->x1 - f->x0) : svg_num(xv, 3));
		appendStringInfoString(s, "</text>");
	}
	appendStringInfo(s, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"atitle\">", (W + ML) / 2, H - 4);
	svg_esc(s, xtitle);
	appendStringInfo(s, "</text><text x=\"14\" y=\"%d\" text-anchor=\"middle\" class=\"atitle\" "
					 "transform=\"rotate(-90 14 %d)\">", (H - MB) / 2, (H - MB) / 2);
	svg_esc(s, ytitle);
	appendStringInfoString(s, "</text>");
}

void
svg_frame_of(SvgFrame *f, const double *x, const double *y, int n, bool zero_y)
{
	f->x0 = f->y0 = INFINITY;
	f->x1 = f->y1 = -INFINITY;
	for (int i = 0; i < n; i++)
	{
		if (!isfinite(x[i]) || !isfinite(y[i]))
			continue;
		f->x0 = fmin(f->x0, x[i]);
		f->x1 = fmax(f->x1, x[i]);
		f->y0 = fmin(f->y0, y[i]);
		f->y1 = fmax(f->y1, y[i]);
	}
	if (zero_y)
	{
		f->y0 = fmin(f->y0, 0);
		f->y1 = fmax(f->y1, 0);
	}
	if (!(f->y1 > f->y0))
	{
		f->y0 -= 1;
		f->y1 += 1;
	}
	else
	{
		double		pad = (f->y1 - f->y0) * 0.05;

		/* no padding beyond a zero baseline (drawdowns stay below 0) */
		if (!(zero_y && f->y0 == 0))
			f->y0 -= pad;
		if (!(zero_y && f->y1 == 0))
			f->y1 += pad;
	}
	if (!(f->x1 > f->x0))
	{
		f->x0 -= 1;
		f->x1 += 1;
	}
}

void
svg_polyline(StringInfo s, const SvgFrame *f, const double *x, const double *y, int n, const char *cls)
{
	int			step = n > MAXPTS ? (n + MAXPTS - 1) / MAXPTS : 1;

	appendStringInfo(s, "<polyline class=\"%s\" points=\"", cls);
	for (int i = 0; i < n; i += step)
		if (isfinite(x[i]) && isfinite(y[i]))
			appendStringInfo(s, "%.1f,%.1f ", svg_px(f, x[i]), svg_py(f, y[i]));
	if (n > 0 && (n - 1) % step != 0 && isfinite(y[n - 1]))
		appendStringInfo(s, "%.1f,%.1f ", svg_px(f, x[n - 1]), svg_py(f, y[n - 1]));
	appendStringInfoString(s, "\"/>");
}

void
svg_line_chart(StringInfo s, const char *name, const char *title, const double *x, const double *y, int n,
		   const char *ytitle, bool zero_y, const char *cls, const char *why)
{
	SvgFrame		f;

	if (n < 2)
	{
		svg_empty(s, name, title, why);
		return;
	}
	svg_frame_of(&f, x, y, n, zero_y);
	svg_open(s, name, title);
	svg_axes(s, &f, true, "time (UTC)", ytitle, 4);
	svg_polyline(s, &f, x, y, n, cls);
	appendStringInfoString(s, "</svg></section>\n");
}

/* Horizontal bars: labels[i], values[i]. */
void
svg_bar_chart(StringInfo s, const char *name, const char *title, char **labels, const double *v, int n,
		  const char *xtitle, const char *why)
{
	double		mx = 0;
	double		rowh;

	if (n == 0)
	{
		svg_empty(s, name, title, why);
		return;
	}
	for (int i = 0; i < n; i++)
		mx = fmax(mx, fabs(v[i]));
	if (mx == 0)
		mx = 1;
	rowh = (double) (H - MT - MB) / n;
	svg_open(s, name, title);
	for (int i = 0; i < n; i++)
	{
		double		w = fabs(v[i]) / mx * (W - 200 - MR - 80);
		double		y = MT + i * rowh;

		appendStringInfo(s, "<text x=\"194\" y=\"%.1f\" text-anchor=\"end\" class=\"tick\">", y + rowh * 0.65);
		svg_esc(s, labels[i]);
		appendStringInfo(s, "</text><rect x=\"200\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"%s\"/>"
						 "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\">%s</text>",
						 y + rowh * 0.15, fmax(w, 1), rowh * 0.7, v[i] < 0 ? "neg" : "bar",
						 200 + fmax(w, 1) + 6, y + rowh * 0.65, svg_num(v[i], 4));
	}
	appendStringInfo(s, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"atitle\">", (W + 200) / 2, H - 4);
	svg_esc(s, xtitle);
	appendStringInfoString(s, "</text></svg></section>\n");
}
