/* Inline SVG plots for the HTML report (svg.h). Coordinates are written
 * with one decimal: the viewBox is 460x200, so a tenth of a unit is finer
 * than any screen shows. Styling is by class (the page's CSS), so the plots
 * follow the page's colours and print well. */
#include "svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define W 460.0
#define H 200.0
#define ML 62.0  /* left margin: y tick labels, event row labels */
#define MR 14.0  /* right margin */
#define MT 30.0  /* top margin: title and legend */
#define MB 32.0  /* bottom margin: x tick labels and axis label */
#define PW (W - ML - MR)
#define PH (H - MT - MB)
#define COLS ((int)PW) /* pixel columns a line is reduced to */
#define SPAN_MAX 1e9   /* seconds, or units on y: beyond this a figure is garbage, not data */

/* The mapping of one plot from data to the viewBox. */
struct frame {
    double x0, x1, y1; /* y0 is always 0 */
};

/* The time axis of p, made usable whatever the report held. */
static struct frame frame_of(const struct svg_plot *p, double y1)
{
    struct frame f = {p->x0, p->x1, y1};
    if (!isfinite(f.x0) || fabs(f.x0) > SPAN_MAX)
        f.x0 = 0;
    if (!isfinite(f.x1) || f.x1 <= f.x0 || f.x1 - f.x0 > SPAN_MAX)
        f.x1 = f.x0 + 1;
    if (!isfinite(f.y1) || f.y1 <= 0)
        f.y1 = 1;
    return f;
}

static double px(const struct frame *f, double x)
{
    double v = ML + (x - f->x0) / (f->x1 - f->x0) * PW;
    return v < ML ? ML : v > ML + PW ? ML + PW : v;
}

static double py(const struct frame *f, double y)
{
    double v = MT + PH - y / f->y1 * PH;
    return v < MT ? MT : v > MT + PH ? MT + PH : v;
}

/* Pixel column of x in 0..COLS-1. */
static int column(const struct frame *f, double x)
{
    double c = (x - f->x0) / (f->x1 - f->x0) * COLS;
    return c < 0 ? 0 : c >= COLS ? COLS - 1 : (int)c;
}

/* A round step (1, 2 or 5 times a power of ten) giving about target ticks. */
static double nice_step(double range, int target)
{
    if (!(range > 0) || !isfinite(range))
        return 1;
    double raw = range / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* Decimals that show a step's ticks exactly. */
static int decimals(double step)
{
    if (step >= 1)
        return 0;
    int d = (int)ceil(-log10(step) - 1e-9);
    return d > 6 ? 6 : d;
}

/* The top of the y axis for values up to top: a round multiple of a step. */
static double nice_top(double top, double *step)
{
    if (!(top > 0) || top > SPAN_MAX)
        top = top > SPAN_MAX ? SPAN_MAX : 1;
    *step = nice_step(top, 4);
    return ceil(top / *step - 1e-9) * *step;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The largest finite y to show: the maximum, or, when a few outliers
 * dwarf the rest, 1.5 times the 99th percentile (clipped points are
 * marked on the plot). */
static double axis_top(const double *ys, size_t n)
{
    double max = 0;
    for (size_t i = 0; i < n; i++)
        if (ys[i] > max)
            max = ys[i];
    if (n < 20)
        return max;
    double *s = malloc(n * sizeof *s);
    if (!s)
        return max;
    memcpy(s, ys, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double limit = s[(size_t)floor(0.99 * (double)(n - 1))] * 1.5;
    free(s);
    return limit > 0 && max > limit ? limit : max;
}

/* Collect the finite y values of up to two point sets. */
static double *finite_ys(const struct svg_line *a, const struct svg_line *b, size_t *n)
{
    size_t cap = a->n + b->n;
    double *ys = malloc((cap ? cap : 1) * sizeof *ys);
    *n = 0;
    if (!ys)
        return NULL;
    const struct svg_line *ls[2] = {a, b};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < ls[k]->n; i++)
            if (isfinite(ls[k]->pts[i].y) && isfinite(ls[k]->pts[i].x))
                ys[(*n)++] = ls[k]->pts[i].y;
    return ys;
}

static void svg_open(FILE *out, const struct svg_plot *p)
{
    fputs("<svg class=\"plot\" data-plot=\"", out);
    report_xml_escape_str(out, p->kind);
    fprintf(out, "\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"", W, H);
    report_xml_escape_str(out, p->title);
    fputs("\"><title>", out);
    report_xml_escape_str(out, p->title);
    fputs("</title><text class=\"pt\" x=\"12\" y=\"17\">", out);
    report_xml_escape_str(out, p->title);
    fputs("</text>", out);
}

/* Grid, axes, ticks and labels. With y_ticks false the y axis has no
 * values (event rows label it instead). */
static void svg_axes(FILE *out, const struct frame *f, bool y_ticks, double ystep)
{
    if (y_ticks) {
        int d = decimals(ystep);
        for (int k = 0; k <= 100; k++) {
            double v = k * ystep;
            if (v > f->y1 * (1 + 1e-9))
                break;
            double y = py(f, v);
            fprintf(out, "<line class=\"gr\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", ML, y, ML + PW, y);
            fprintf(out, "<text class=\"tk\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>", ML - 5, y + 3.5,
                    d, v);
        }
    }
    double xstep = nice_step(f->x1 - f->x0, 6);
    int d = decimals(xstep);
    double first = ceil(f->x0 / xstep - 1e-9) * xstep;
    for (int k = 0; k <= 100; k++) {
        double v = first + k * xstep;
        if (v > f->x1 + xstep * 1e-9)
            break;
        double x = px(f, v);
        fprintf(out, "<line class=\"ax\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, MT + PH, x,
                MT + PH + 4);
        fprintf(out, "<text class=\"tk\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>", x, MT + PH + 15,
                d, fabs(v) < xstep * 1e-9 ? 0.0 : v);
    }
    fprintf(out, "<text class=\"al\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">time (s)</text>", ML + PW, H - 3);
    fprintf(out, "<path class=\"ax\" d=\"M%.1f %.1fV%.1fH%.1f\"/>", ML, MT, MT + PH, ML + PW);
}

static void svg_empty(FILE *out, const char *text)
{
    fprintf(out, "<text class=\"em\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", ML + PW / 2, MT + PH / 2 + 4);
    report_xml_escape_str(out, text);
    fputs("</text>", out);
}

/* The state of a path being written: reduced to the lowest and highest
 * point per pixel column, in their order, with gaps as new subpaths. */
struct pen {
    FILE *out;
    const struct frame *f;
    int col;           /* column of the bucket, -1 when empty */
    double lo_x, lo_y; /* the bucket's lowest point */
    double hi_x, hi_y; /* and highest */
    bool lo_first;     /* the lowest came first */
    size_t seg_pts;    /* points in the current subpath */
    unsigned char *clipped; /* per column: a point above the axis (NULL: do not mark) */
    size_t n_clipped;
    double max_clipped;
};

static void pen_point(struct pen *p, double x, double y)
{
    fprintf(p->out, "%c%.1f %.1f", p->seg_pts ? 'L' : 'M', px(p->f, x), py(p->f, y));
    p->seg_pts++;
}

static void pen_flush(struct pen *p)
{
    if (p->col < 0)
        return;
    bool same = p->lo_x == p->hi_x && p->lo_y == p->hi_y;
    if (same || p->lo_first) {
        pen_point(p, p->lo_x, p->lo_y);
        if (!same)
            pen_point(p, p->hi_x, p->hi_y);
    } else {
        pen_point(p, p->hi_x, p->hi_y);
        pen_point(p, p->lo_x, p->lo_y);
    }
    p->col = -1;
}

/* End a subpath; a lone point becomes a dot (round caps). */
static void pen_break(struct pen *p)
{
    pen_flush(p);
    if (p->seg_pts == 1)
        fputs("h0.1", p->out);
    p->seg_pts = 0;
}

static void pen_add(struct pen *p, double x, double y)
{
    if (y > p->f->y1) {
        if (p->clipped) {
            p->clipped[column(p->f, x)] = 1;
            p->n_clipped++;
            if (y > p->max_clipped)
                p->max_clipped = y;
        }
        y = p->f->y1;
    }
    int c = column(p->f, x);
    if (c != p->col) {
        pen_flush(p);
        p->col = c;
        p->lo_x = p->hi_x = x;
        p->lo_y = p->hi_y = y;
        p->lo_first = true;
        return;
    }
    if (y < p->lo_y) {
        p->lo_x = x;
        p->lo_y = y;
        p->lo_first = false;
    } else if (y > p->hi_y) {
        p->hi_x = x;
        p->hi_y = y;
        p->lo_first = true;
    }
}

/* One line as a <path>; with clipped non-NULL, points above the axis are
 * counted and remembered per column. */
static void svg_path(FILE *out, const struct frame *f, const struct svg_xy *pts, size_t n, double gap,
                     const char *cls, struct pen *pen_out, unsigned char *clipped)
{
    struct pen p = {.out = out, .f = f, .col = -1, .clipped = clipped};
    fprintf(out, "<path class=\"%s\" d=\"", cls);
    double prev_x = NAN;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(pts[i].x))
            continue;
        if (!isfinite(pts[i].y) || (gap > 0 && pts[i].x - prev_x > gap))
            pen_break(&p);
        prev_x = pts[i].x;
        if (isfinite(pts[i].y))
            pen_add(&p, pts[i].x, pts[i].y);
    }
    pen_break(&p);
    fputs("\"/>", out);
    if (pen_out)
        *pen_out = p;
}

/* Triangles at the top for columns with clipped points, and a note. */
static void svg_clip_marks(FILE *out, const struct pen *p, const char *unit)
{
    if (!p->n_clipped || !p->clipped)
        return;
    fputs("<path class=\"clip\" d=\"", out);
    for (int c = 0; c < COLS; c++)
        if (p->clipped[c])
            fprintf(out, "M%.1f %.1fl-3.5 6h7z", ML + c + 0.5, MT);
    fputs("\"/>", out);
    fprintf(out, "<text class=\"cn\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%zu above the axis, max %.4g ", ML + PW,
            MT + 16, p->n_clipped, p->max_clipped);
    report_xml_escape_str(out, unit);
    fputs("</text>", out);
}

/* The legend at the top right: entries of (class, label), right-aligned. */
static void svg_legend(FILE *out, const char *const *cls, const char *const *labels, size_t n)
{
    double x = W - MR;
    for (size_t i = n; i-- > 0;) {
        fprintf(out, "<text class=\"lg\" x=\"%.1f\" y=\"16\" text-anchor=\"end\">", x);
        report_xml_escape_str(out, labels[i]);
        fputs("</text>", out);
        x -= 6.0 * (double)strlen(labels[i]) + 5;
        fprintf(out, "<rect class=\"%s-k\" x=\"%.1f\" y=\"9\" width=\"10\" height=\"8\" rx=\"1.5\"/>", cls[i], x - 10);
        x -= 24;
    }
}

void svg_line_plot(FILE *out, const struct svg_plot *p, struct svg_line sut, struct svg_line ref, double ref_y,
                   const char *ref_label, const char *empty_text)
{
    size_t n_ys;
    double *ys = finite_ys(&sut, &ref, &n_ys);
    double top = ys ? axis_top(ys, n_ys) : 0;
    free(ys);
    bool have_ref_y = isfinite(ref_y) && ref_y > 0;
    if (have_ref_y && ref_y > top)
        top = ref_y;
    top *= 1.1; /* headroom: the line does not run along the top edge */
    double ystep;
    struct frame f = frame_of(p, nice_top(top, &ystep));
    svg_open(out, p);
    svg_axes(out, &f, true, ystep);
    if (ref.n)
        svg_path(out, &f, ref.pts, ref.n, ref.gap, "rl", NULL, NULL);
    unsigned char *clipped = calloc(COLS, 1);
    struct pen pen = {0};
    if (sut.n)
        svg_path(out, &f, sut.pts, sut.n, sut.gap, "ln", &pen, clipped);
    if (have_ref_y)
        fprintf(out, "<path class=\"nom\" d=\"M%.1f %.1fH%.1f\"/>", ML, py(&f, ref_y), ML + PW);
    svg_clip_marks(out, &pen, p->y_unit);
    free(clipped);
    size_t n_sut = 0;
    for (size_t i = 0; i < sut.n; i++)
        n_sut += isfinite(sut.pts[i].y) && isfinite(sut.pts[i].x);
    if (!n_sut)
        svg_empty(out, empty_text);
    /* Legend: the SUT and the reference when both are drawn, the nominal line with its value. */
    const char *cls[3], *labels[3];
    size_t nl = 0;
    char nominal[64];
    if (ref.n) {
        cls[nl] = "ln";
        labels[nl++] = "SUT";
        cls[nl] = "rl";
        labels[nl++] = "reference";
    }
    if (have_ref_y) {
        snprintf(nominal, sizeof nominal, "%s %.4g %s", ref_label ? ref_label : "", ref_y, p->y_unit ? p->y_unit : "");
        cls[nl] = "nom";
        labels[nl++] = nominal;
    }
    svg_legend(out, cls, labels, nl);
    fputs("</svg>", out);
}

void svg_bar_plot(FILE *out, const struct svg_plot *p, struct svg_bars sut, struct svg_bars ref,
                  const char *empty_text)
{
    /* The reference as a step line: each second's value held across it. */
    struct svg_xy *steps = ref.n ? malloc(2 * ref.n * sizeof *steps) : NULL;
    size_t n_steps = 0;
    for (size_t i = 0; steps && i < ref.n; i++) {
        steps[n_steps++] = (struct svg_xy){ref.t0 + (double)i, ref.v[i]};
        steps[n_steps++] = (struct svg_xy){ref.t0 + (double)i + 1, ref.v[i]};
    }
    struct svg_xy *bars = sut.n ? malloc(sut.n * sizeof *bars) : NULL;
    size_t n_bars = 0;
    for (size_t i = 0; bars && i < sut.n; i++)
        bars[n_bars++] = (struct svg_xy){sut.t0 + (double)i, sut.v[i]};
    struct svg_line a = {bars, n_bars, 0}, b = {steps, n_steps, 0};
    size_t n_ys;
    double *ys = finite_ys(&a, &b, &n_ys);
    double ystep;
    struct frame f = frame_of(p, nice_top(ys ? axis_top(ys, n_ys) : 0, &ystep));
    free(ys);
    svg_open(out, p);
    svg_axes(out, &f, true, ystep);
    /* Bars as one path; several seconds in one pixel column keep the highest. */
    double per_px = (f.x1 - f.x0) / PW;
    size_t drawn = 0, clipped = 0;
    double max_clipped = 0;
    fputs("<path class=\"bar\" d=\"", out);
    for (size_t i = 0; i < n_bars;) {
        double v = bars[i].y, x = bars[i].x;
        size_t j = i + 1;
        if (per_px > 1)
            for (; j < n_bars && column(&f, bars[j].x) == column(&f, x); j++)
                if (bars[j].y > v || !isfinite(v))
                    v = bars[j].y;
        double span = (double)(j - i);
        i = j;
        if (!isfinite(v) || !isfinite(x) || v <= 0)
            continue;
        if (v > f.y1) {
            clipped++;
            if (v > max_clipped)
                max_clipped = v;
        }
        double x0 = px(&f, x), x1 = px(&f, x + span);
        double gap = x1 - x0 > 4 ? 1 : 0;
        double y = py(&f, v);
        if (x1 - x0 - gap <= 0)
            x1 = x0 + gap + 0.5;
        fprintf(out, "M%.1f %.1fH%.1fV%.1fH%.1fz", x0 + gap / 2, MT + PH, x1 - gap / 2, y, x0 + gap / 2);
        drawn++;
    }
    fputs("\"/>", out);
    if (n_steps)
        svg_path(out, &f, steps, n_steps, 0, "rl", NULL, NULL);
    if (clipped) {
        fprintf(out, "<text class=\"cn\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%zu above the axis, max %.4g ",
                ML + PW, MT + 16, clipped, max_clipped);
        report_xml_escape_str(out, p->y_unit);
        fputs("</text>", out);
    }
    if (!drawn)
        svg_empty(out, empty_text);
    const char *cls[] = {"bar", "rl"}, *labels[] = {"SUT", "reference"};
    svg_legend(out, cls, labels, n_steps ? 2 : 0);
    fputs("</svg>", out);
    free(steps);
    free(bars);
}

void svg_event_plot(FILE *out, const struct svg_plot *p, const struct svg_event *ev, size_t n,
                    const struct svg_row *rows, size_t n_rows, const char *empty_text)
{
    struct frame f = frame_of(p, 1);
    svg_open(out, p);
    svg_axes(out, &f, false, 1);
    if (n_rows == 0)
        n_rows = 1;
    double row_h = PH / (double)n_rows;
    /* Per row and pixel column: how many events, and the first one's index. */
    size_t *count = calloc(n_rows * COLS, sizeof *count);
    size_t *first = calloc(n_rows * COLS, sizeof *first);
    size_t shown = 0;
    for (size_t i = 0; count && first && i < n; i++) {
        if (ev[i].row >= n_rows || !isfinite(ev[i].t))
            continue;
        size_t k = ev[i].row * COLS + (size_t)column(&f, ev[i].t);
        if (count[k]++ == 0)
            first[k] = i;
        shown++;
    }
    for (size_t r = 0; r < n_rows && rows; r++) {
        double cy = MT + row_h * ((double)r + 0.5);
        fprintf(out, "<line class=\"gr\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", ML, cy, ML + PW, cy);
        fprintf(out, "<text class=\"tk\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", ML - 5, cy + 3.5);
        report_xml_escape_str(out, rows[r].label);
        fputs("</text>", out);
        if (!count || !first)
            continue;
        /* Neighbouring columns with events merge into one mark, so a burst
         * of thousands of losses stays one element with one tooltip. */
        double h = row_h * 0.6 < 18 ? row_h * 0.6 : 18;
        for (int c = 0; c < COLS; c++) {
            size_t k = r * COLS + (size_t)c;
            if (!count[k])
                continue;
            int end = c;
            size_t total = count[k];
            while (end + 1 < COLS && count[k + (size_t)(end + 1 - c)]) {
                end++;
                total += count[k + (size_t)(end - c)];
            }
            double w = (double)(end - c + 1);
            fprintf(out, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>",
                    rows[r].cls, ML + c - (w < 2 ? 0.5 : 0), cy - h / 2, w < 2 ? 2 : w, h);
            report_xml_escape_str(out, ev[first[k]].tip);
            if (total > 1)
                fprintf(out, "%s(%zu events here)", ev[first[k]].tip ? " " : "", total);
            fputs("</title></rect>", out);
            c = end;
        }
    }
    free(count);
    free(first);
    if (!shown)
        svg_empty(out, empty_text);
    /* Legend: every row with its count. */
    const char *cls[8], *labels[8];
    char text[8][64];
    size_t nl = 0;
    for (size_t r = 0; rows && r < n_rows && nl < 8; r++) {
        snprintf(text[nl], sizeof text[nl], "%s %zu", rows[r].label ? rows[r].label : "", rows[r].count);
        cls[nl] = rows[r].cls;
        labels[nl] = text[nl];
        nl++;
    }
    svg_legend(out, cls, labels, nl);
    fputs("</svg>", out);
}
