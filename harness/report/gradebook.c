/* The class's gradebook (gradebook.csv) and summary (class.json) from the
 * grades of a run report (report.h; docs/grading.md): written by
 * `rtsp-harness grade`, and by `report merge` when the slices it joins
 * carry grades. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "wire.h"

/* CSV field: quoted when it needs to be. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_grade(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(report_str(json_object_get(x, "submission"), "name", ""),
                  report_str(json_object_get(y, "submission"), "name", ""));
}

/* The points of item id in grade g, NAN when it has none. */
static double item_points(const json_t *g, const char *id)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(g, "items"), i, it)
    {
        if (strcmp(report_str(it, "id", ""), id) == 0)
            return report_num(it, "points", NAN);
    }
    return NAN;
}

static bool item_lost(const json_t *g, const char *id)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(g, "items"), i, it)
    {
        if (strcmp(report_str(it, "id", ""), id) == 0)
            return strcmp(report_str(it, "status", "fail"), "pass") != 0;
    }
    return false;
}

int report_gradebook_write(const json_t *grades, const char *dir, const char *folder, char *err, size_t cap)
{
    size_t n = json_array_size(grades);
    if (n == 0)
        return wire_errf(err, cap, "no grades to write");
    /* Rows in submission order, whatever order the slices came in. */
    json_t **rows = calloc(n, sizeof *rows);
    if (!rows)
        return wire_errf(err, cap, "out of memory");
    for (size_t i = 0; i < n; i++)
        rows[i] = json_array_get(grades, i);
    qsort(rows, n, sizeof *rows, cmp_grade);
    /* The columns: the items of the first grade, in rubric order. */
    const json_t *items = json_object_get(rows[0], "items");
    size_t n_items = json_array_size(items);
    double max = report_num(rows[0], "max", 0), max_bonus = report_num(rows[0], "max_bonus", 0);

    char path[PATH_MAX];
    snprintf(path, sizeof path, "%.3000s/gradebook.csv", dir);
    FILE *csv = fopen(path, "w");
    if (!csv) {
        free(rows);
        return wire_errf(err, cap, "cannot write %s: %s", path, strerror(errno));
    }
    fputs("submission,dialect", csv);
    for (size_t k = 0; k < n_items; k++) {
        fputc(',', csv);
        csv_field(csv, report_str(json_array_get(items, k), "id", "?"));
    }
    fputs(",total,max,bonus\n", csv);
    double *totals = calloc(n, sizeof *totals);
    unsigned *lost = calloc(n_items ? n_items : 1, sizeof *lost);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        const json_t *g = rows[i], *sub = json_object_get(g, "submission");
        const char *name = report_str(sub, "name", "?");
        csv_field(csv, name);
        fputc(',', csv);
        csv_field(csv, report_str(sub, "dialect", ""));
        for (size_t k = 0; k < n_items; k++) {
            const char *id = report_str(json_array_get(items, k), "id", "?");
            double p = item_points(g, id);
            if (isfinite(p))
                fprintf(csv, ",%g", p);
            else
                fputc(',', csv);
            if (lost && item_lost(g, id))
                lost[k]++;
        }
        double total = report_num(g, "points", 0);
        if (totals)
            totals[i] = total;
        fprintf(csv, ",%g,%g,%g\n", total, max, report_num(g, "bonus", 0));
        json_array_append_new(list, json_pack("{s:s,s:f,s:f,s:s}", "submission", name, "points", total, "bonus",
                                              report_num(g, "bonus", 0), "dialect", report_str(sub, "dialect", "")));
    }
    bool bad = fclose(csv) != 0;

    json_t *dist = json_object();
    if (totals) {
        qsort(totals, n, sizeof *totals, cmp_double);
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += totals[i];
        json_t *hist = json_array();
        for (int b = 0; b < 10; b++) {
            unsigned c = 0;
            for (size_t i = 0; i < n; i++) {
                double pct = max > 0 ? totals[i] / max * 100 : 0;
                int bucket = pct >= 100 ? 9 : (int)(pct / 10);
                c += bucket == b;
            }
            json_array_append_new(hist, json_pack("{s:i,s:i,s:i}", "from_percent", b * 10, "to_percent",
                                                  b == 9 ? 100 : b * 10 + 9, "submissions", c));
        }
        json_object_set_new(dist, "min", json_real(totals[0]));
        json_object_set_new(dist, "max", json_real(totals[n - 1]));
        json_object_set_new(dist, "mean", json_real(sum / (double)n));
        json_object_set_new(dist, "median", json_real(n % 2 ? totals[n / 2] : (totals[n / 2 - 1] + totals[n / 2]) / 2));
        json_object_set_new(dist, "histogram", hist);
    }
    /* Items by how many submissions lost them, most first. */
    json_t *common = json_array();
    for (size_t round = 0; lost && round < n_items; round++) {
        size_t best = n_items;
        for (size_t k = 0; k < n_items; k++)
            if (lost[k] && (best == n_items || lost[k] > lost[best]))
                best = k;
        if (best == n_items)
            break;
        const json_t *it = json_array_get(items, best);
        json_array_append_new(common, json_pack("{s:s,s:s,s:i}", "item", report_str(it, "id", "?"), "title",
                                                report_str(it, "title", ""), "submissions", lost[best]));
        lost[best] = 0;
    }
    json_t *cls = json_pack("{s:s,s:i,s:s,s:f,s:f,s:o,s:o,s:o}", "rubric", report_str(rows[0], "rubric", ""),
                            "submissions", (int)n, "folder", folder ? folder : "", "max", max, "max_bonus",
                            max_bonus, "distribution", dist, "most_common_failures", common, "grades", list);
    snprintf(path, sizeof path, "%.3000s/class.json", dir);
    char serr[512];
    if (report_save(cls, path, serr, sizeof serr) != 0) {
        bad = true;
        wire_errf(err, cap, "%s", serr);
    } else if (bad)
        wire_errf(err, cap, "cannot write %.3000s/gradebook.csv", dir);
    json_decref(cls);
    free(totals);
    free(lost);
    free(rows);
    return bad ? -1 : 0;
}
