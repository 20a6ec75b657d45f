/*
 * svg.h — the inline-SVG charts of fsmml_report (svg.c): a fixed-size plot with
 * labelled axes, lines, horizontal bars, "no data yet" panels; every text
 * HTML-escaped.
 */
#ifndef FSMML_SVG_H
#define FSMML_SVG_H

#include "postgres.h"
#include "lib/stringinfo.h"

#define W 880
#define H 230
#define ML 64					/* left margin: y labels */
#define MR 16
#define MT 24
#define MB 40					/* bottom margin: x labels and axis title */
#define MAXPTS 1200

typedef struct SvgFrame
{
	double		x0,
				x1,
				y0,
				y1;
} SvgFrame;

extern void svg_esc(StringInfo s, const char *t);
extern const char *svg_num(double v, int digits);
extern const char *svg_day_label(int64 us, double span_us);
extern double svg_px(const SvgFrame *f, double x);
extern double svg_py(const SvgFrame *f, double y);
extern void svg_open(StringInfo s, const char *name, const char *title);
extern void svg_empty(StringInfo s, const char *name, const char *title, const char *why);
extern void svg_axes(StringInfo s, const SvgFrame *f, bool time_x, const char *xtitle,
					 const char *ytitle, int ydigits);
extern void svg_frame_of(SvgFrame *f, const double *x, const double *y, int n, bool zero_y);
extern void svg_polyline(StringInfo s, const SvgFrame *f, const double *x, const double *y, int n,
						 const char *cls);
extern void svg_line_chart(StringInfo s, const char *name, const char *title, const double *x,
						   const double *y, int n, const char *ytitle, bool zero_y, const char *cls,
						   const char *why);
extern void svg_bar_chart(StringInfo s, const char *name, const char *title, char **labels,
						  const double *v, int n, const char *xtitle, const char *why);

#endif							/* FSMML_SVG_H */
