/* Inline SVG plots for the HTML report (html.c): time series as lines,
 * per-second bars and event rows, each a 460x200 viewBox scaled by the
 * page's CSS. Axes get round tick values in real units; outliers are
 * clipped to a sensible axis and marked; thousands of points are reduced
 * to the minimum and maximum per pixel column so the page stays small.
 * Every plot is <svg class="plot" data-plot="KIND">. */
#ifndef RTSP_HARNESS_REPORT_SVG_H
#define RTSP_HARNESS_REPORT_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* One point; y NAN is a gap (the line breaks there). */
struct svg_xy {
    double x, y;
};

/* What every plot shares: the kind (data-plot), a title, the unit of the
 * y axis, and the time axis in seconds (the same for a stream's plots). */
struct svg_plot {
    const char *kind;
    const char *title;
    const char *y_unit;
    double x0, x1;
};

/* A line of the SUT and optionally the reference's (drawn grey, behind).
 * Where consecutive points are more than gap apart on x (0: never), the
 * line breaks: a stretch without data is not drawn as a slope. */
struct svg_line {
    const struct svg_xy *pts;
    size_t n;
    double gap;
};

/* Lines of points; ref_y (NAN for none) is drawn as a dashed horizontal
 * line labelled ref_label (the nominal frame interval). An empty sut says
 * empty_text instead. */
void svg_line_plot(FILE *out, const struct svg_plot *p, struct svg_line sut, struct svg_line ref, double ref_y,
                   const char *ref_label, const char *empty_text);

/* One bar per whole second from t0 (values in the y unit), with the
 * reference's bars from ref_t0 as a grey step line over them. */
struct svg_bars {
    double t0;
    const double *v;
    size_t n;
};
void svg_bar_plot(FILE *out, const struct svg_plot *p, struct svg_bars sut, struct svg_bars ref,
                  const char *empty_text);

/* Events as markers on rows (row 0 at the top); each row has a label, a
 * CSS class for its colour and a count shown in the legend. tip[i] (may be
 * NULL) is a tooltip for event i. When no event exists, empty_text is
 * written across the plot. */
struct svg_event {
    double t;
    size_t row;
    const char *tip;
};
struct svg_row {
    const char *label;
    const char *cls;
    size_t count;
};
void svg_event_plot(FILE *out, const struct svg_plot *p, const struct svg_event *ev, size_t n,
                    const struct svg_row *rows, size_t n_rows, const char *empty_text);

#endif
