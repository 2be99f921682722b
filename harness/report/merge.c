/* `report merge`: one run report from several (the jobs of a CI matrix;
 * report.h, docs/reports.md). The result is a run report like any other:
 * run is the first input's run renamed, merged_from lists the run object of
 * every input (flattened when an input is itself a merge), each scenario
 * carries the name of the run it came from in "run", and the summary is
 * recomputed. The inputs are deep-copied, never changed. */
#include "report.h"

#include <string.h>

#include "wire.h"

/* A run name not yet used as a tag: name itself, else name#2, name#3, ...
 * used maps each tag to the input that took it first; a rename is said in
 * notes. */
static json_t *unique_tag(json_t *used, json_t *notes, const char *name, const char *input)
{
    json_t *tag = json_string(name);
    for (unsigned k = 2; tag && json_object_get(used, json_string_value(tag)); k++) {
        json_decref(tag);
        tag = json_sprintf("%s#%u", name, k);
    }
    if (!tag)
        return NULL;
    const char *t = json_string_value(tag);
    if (strcmp(t, name) != 0)
        json_array_append_new(notes, json_sprintf("runs of %s and %s are both named \"%s\": the scenarios of %s "
                                                  "are tagged \"%s\"",
                                                  report_str(used, name, "?"), input, name, input, t));
    json_object_set_new(used, t, json_string(input));
    return tag;
}

struct counts {
    long long scenarios, ran, passed, failed, errors;
    bool interrupted;
};

/* Append input's scenarios (tagged) and run objects to the result. */
static int add_input(json_t *out, const json_t *in, const char *input, json_t *used, json_t *notes,
                     struct counts *c)
{
    const json_t *run = json_object_get(in, "run");
    const json_t *from = json_object_get(in, "merged_from");
    json_t *merged_from = json_object_get(out, "merged_from");
    json_t *scenarios = json_object_get(out, "scenarios");
    /* A merged input contributes the runs it was made of. */
    if (json_is_array(from) && json_array_size(from) > 0) {
        size_t i;
        json_t *r;
        json_array_foreach(from, i, r)
        {
            if (json_array_append_new(merged_from, json_deep_copy(r)) != 0)
                return -1;
        }
    } else if (json_array_append_new(merged_from, json_deep_copy(run)) != 0)
        return -1;

    /* Grades (`rtsp-harness grade`): one per submission report, or a class's own list. */
    json_t *grades = json_object_get(out, "grades");
    const json_t *g1 = json_object_get(in, "grade"), *gl = json_object_get(in, "grades");
    if (json_is_object(g1) && json_array_append_new(grades, json_deep_copy(g1)) != 0)
        return -1;
    size_t gi;
    json_t *gv;
    json_array_foreach(gl, gi, gv)
    {
        if (json_is_object(gv) && json_array_append_new(grades, json_deep_copy(gv)) != 0)
            return -1;
    }

    const json_t *in_notes = json_object_get(in, "merge_notes");
    size_t i;
    json_t *s;
    json_array_foreach(in_notes, i, s)
    {
        if (json_is_string(s) && json_array_append_new(notes, json_deep_copy(s)) != 0)
            return -1;
    }

    /* The tag each of this input's run names becomes in the result. */
    json_t *tags = json_object();
    if (!tags)
        return -1;
    const char *own = report_str(run, "name", input);
    const json_t *sc = json_object_get(in, "scenarios");
    int rc = 0;
    json_array_foreach(sc, i, s)
    {
        const char *name = report_str(s, "run", own);
        json_t *tag = json_object_get(tags, name);
        if (!tag) {
            json_object_set_new(tags, name, unique_tag(used, notes, name, input));
            tag = json_object_get(tags, name);
        }
        json_t *copy = json_deep_copy(s);
        if (!copy || !tag || json_object_set(copy, "run", tag) != 0 || json_array_append_new(scenarios, copy) != 0) {
            rc = -1;
            break;
        }
        const char *v = report_str(s, "verdict", "");
        c->ran++;
        if (strcmp(v, "pass") == 0)
            c->passed++;
        else if (strcmp(v, "fail") == 0)
            c->failed++;
        else
            c->errors++;
    }
    /* A run with no scenarios still takes its name. */
    if (rc == 0 && json_array_size(sc) == 0)
        json_decref(unique_tag(used, notes, own, input));
    json_decref(tags);

    /* Scenario files an interrupted run did not reach still count. */
    const json_t *sum = json_object_get(in, "summary");
    long long listed = report_int(sum, "scenarios", 0), have = (long long)json_array_size(sc);
    c->scenarios += listed > have ? listed : have;
    c->interrupted = c->interrupted || report_bool(sum, "interrupted", false);
    return rc;
}

json_t *report_merge(json_t *const *reports, const char *const *names, size_t n, const char *merged_name,
                     char *err, size_t cap)
{
    if (n == 0) {
        wire_errf(err, cap, "no report to merge");
        return NULL;
    }
    char label[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(label, sizeof label, "input %zu", i + 1);
        if (report_check_shape(reports[i], names && names[i] ? names[i] : label, err, cap) != 0)
            return NULL;
    }
    json_t *out = json_object(), *run = json_deep_copy(json_object_get(reports[0], "run"));
    json_t *used = json_object(), *notes = json_array();
    struct counts c = {0};
    bool ok = out && run && used && notes && json_object_set_new(out, "schema", json_string(REPORT_SCHEMA)) == 0 &&
              json_object_set_new(out, "version", json_integer(REPORT_VERSION)) == 0 &&
              json_object_set_new(run, "name",
                                  json_string(merged_name && *merged_name
                                                  ? merged_name
                                                  : report_str(json_object_get(reports[0], "run"), "name",
                                                               "merged"))) == 0 &&
              json_object_set(out, "run", run) == 0 && json_object_set_new(out, "merged_from", json_array()) == 0 &&
              json_object_set_new(out, "scenarios", json_array()) == 0 &&
              json_object_set_new(out, "grades", json_array()) == 0;
    for (size_t i = 0; ok && i < n; i++) {
        snprintf(label, sizeof label, "input %zu", i + 1);
        ok = add_input(out, reports[i], names && names[i] ? names[i] : label, used, notes, &c) == 0;
    }
    ok = ok &&
         json_object_set_new(out, "summary",
                             json_pack("{s:I,s:I,s:I,s:I,s:I,s:b}", "scenarios", (json_int_t)c.scenarios, "ran",
                                       (json_int_t)c.ran, "passed", (json_int_t)c.passed, "failed",
                                       (json_int_t)c.failed, "errors", (json_int_t)c.errors, "interrupted",
                                       c.interrupted)) == 0 &&
         (json_array_size(notes) == 0 || json_object_set(out, "merge_notes", notes) == 0);
    if (ok && json_array_size(json_object_get(out, "grades")) == 0)
        json_object_del(out, "grades");
    json_decref(run);
    json_decref(used);
    json_decref(notes);
    if (!ok) {
        json_decref(out);
        wire_errf(err, cap, "out of memory while merging %zu reports", n);
        return NULL;
    }
    return out;
}
