/* The run report as one self-contained HTML page (report.h): inline CSS,
 * inline SVG plots (svg.c), thumbnails as data: URIs, no network. It reads
 * only the JSON, tolerates absent and wrongly-typed fields (what is missing
 * is left out), and escapes every string from the report, since responses
 * come from the server under test. The page reads fully without scripts:
 * sections are <details>; the small script at the end only adds
 * expand/collapse buttons, opens everything for printing, and records a
 * self-check (plots, thumbnails, broken images) on <body data-check> for
 * the tests. */
#include "report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "svg.h"
#include "wire.h"

/* Colours from docs/reports.md: pass, fail, error, skipped; the plot line. */
static const char page_css[] =
    ".items tr.lost td{background:#fff8f8}.why{color:var(--fail);margin-top:.2em}"
    ".hint{margin-top:.3em;padding:.35em .6em;border-left:3px solid var(--line);background:#f6f8fa}"
    ".b.partial{background:var(--error)}.cnt.other b{color:var(--line)}\n"
    ":root{--pass:#1a7f37;--fail:#cf222e;--error:#bc4c00;--skip:#6e7781;--line:#0969da;--ref:#8c959f;"
    "--fg:#1f2328;--mu:#656d76;--bd:#d0d7de;--bg2:#f6f8fa;--hl:#ffebe9}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;font:14px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif;"
    "color:var(--fg);background:#fff;font-variant-numeric:tabular-nums}\n"
    "main,header.top,footer{max-width:1200px;margin:0 auto;padding:0 24px}\n"
    "header.top{padding-top:28px}\n"
    "h1{font-size:26px;margin:2px 0 14px;word-break:break-all}\n"
    "h2{font-size:18px;margin:32px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--bd)}\n"
    "h3{font-size:15px;margin:20px 0 8px}\n"
    "h4{font-size:14px;margin:16px 0 8px}\n"
    "a{color:var(--line);text-decoration:none}a:hover{text-decoration:underline}\n"
    "code,pre,.mono{font-family:ui-monospace,SFMono-Regular,\"SF Mono\",Menlo,Consolas,\"Liberation Mono\",monospace;"
    "font-size:12.5px}\n"
    ".brand{color:var(--mu);font-size:12px;letter-spacing:.08em;text-transform:uppercase}\n"
    ".mu{color:var(--mu)}.sm{font-size:12px}\n"
    ".facts{display:flex;flex-wrap:wrap;gap:2px 20px;margin:10px 0}"
    ".facts i{font-style:normal;color:var(--mu);margin-right:6px}\n"
    ".counts{display:flex;gap:12px;flex-wrap:wrap;margin:0 0 18px}\n"
    ".cnt{border:1px solid var(--bd);border-radius:8px;padding:10px 18px;min-width:120px;background:#fff}\n"
    ".cnt b{display:block;font-size:30px;line-height:1.1}\n"
    ".cnt.pass b{color:var(--pass)}.cnt.fail b{color:var(--fail)}.cnt.error b{color:var(--error)}\n"
    ".cnt.zero b{color:var(--skip)}\n"
    ".cnt.pass{border-top:4px solid var(--pass)}.cnt.fail{border-top:4px solid var(--fail)}"
    ".cnt.error{border-top:4px solid var(--error)}.cnt.total{border-top:4px solid var(--skip)}\n"
    "dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:0 0 8px}\n"
    "dl.meta dt{color:var(--mu)}dl.meta dd{margin:0;word-break:break-word}\n"
    ".b{display:inline-block;min-width:44px;text-align:center;padding:1px 8px;border-radius:10px;font-size:12px;"
    "font-weight:600;color:#fff;background:var(--skip);line-height:18px}\n"
    ".b.pass{background:var(--pass)}.b.fail{background:var(--fail)}.b.error{background:var(--error)}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--bd);vertical-align:top}\n"
    "th{font-size:12px;color:var(--mu);font-weight:600;background:var(--bg2)}\n"
    "td.n,th.n{text-align:right;white-space:nowrap}\n"
    "table.ck td{padding:2px 8px;font-size:13px}table.ck tr.bad td{background:var(--hl)}\n"
    "table.ck .b{min-width:40px;font-size:11px;line-height:16px}\n"
    ".tw{overflow-x:auto}\n"
    "table.sum td{vertical-align:middle}\n"
    ".ref{display:block;color:var(--mu);font-size:11.5px}\n"
    ".worse{color:var(--fail)}\n"
    "ul.fl{padding-left:20px}ul.fl li{margin:4px 0}\n"
    ".chk{background:var(--bg2);border:1px solid var(--bd);border-radius:4px;padding:0 4px}\n"
    "details.sc{border:1px solid var(--bd);border-radius:8px;margin:10px 0;background:#fff}\n"
    "details.sc>summary{padding:10px 14px;cursor:pointer;display:flex;gap:10px;align-items:baseline;"
    "flex-wrap:wrap;list-style:none}\n"
    "details.sc>summary::-webkit-details-marker{display:none}\n"
    "details.sc>summary::before{content:\"\\25B8\";color:var(--mu);width:10px}\n"
    "details.sc[open]>summary::before{content:\"\\25BE\"}\n"
    "details.sc[open]>summary{border-bottom:1px solid var(--bd)}\n"
    "details.sc.fail{border-left:4px solid var(--fail)}details.sc.error{border-left:4px solid var(--error)}\n"
    "details.sc.pass{border-left:4px solid var(--pass)}\n"
    ".sn{font-weight:600}.sf{color:var(--mu);font-size:12px}.st{margin-left:auto;color:var(--mu);font-size:12px}\n"
    ".sb{padding:4px 16px 16px}\n"
    "details.sub{margin:12px 0}details.sub>summary{cursor:pointer;font-weight:600;margin:6px 0}\n"
    ".call{border-left:4px solid var(--error);background:#fff1e5;padding:8px 12px;margin:10px 0;border-radius:4px;"
    "white-space:pre-wrap;word-break:break-word}\n"
    "ol.fails{padding-left:22px}ol.fails li{margin:6px 0}\n"
    ".ev{color:var(--mu);font-size:12px}\n"
    ".ex{display:grid;grid-template-columns:minmax(0,1fr) 300px;gap:12px;border-left:4px solid transparent;"
    "padding:8px 10px;margin:6px 0;border-radius:4px;background:#fff}\n"
    ".ex:not(.hl){grid-template-columns:minmax(0,1fr)}\n"
    ".ex.hl{border-left-color:var(--fail);background:var(--hl)}\n"
    ".exh{font-size:12.5px;margin-bottom:4px}.exh .mth{font-weight:700}\n"
    ".code{display:inline-block;padding:0 6px;border-radius:4px;border:1px solid var(--bd);background:#fff;"
    "font-weight:600}\n"
    "pre.msg{margin:4px 0;padding:6px 10px;background:var(--bg2);border:1px solid var(--bd);border-radius:4px;"
    "white-space:pre-wrap;word-break:break-all;max-height:420px;overflow:auto}\n"
    "pre.msg.resp{background:#fff}\n"
    ".pair{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:8px;align-items:start}.pair pre.msg{margin:0}\n"
    "pre mark{background:#ffcecb;color:inherit;border-radius:2px}\n"
    "aside.fnd{font-size:12.5px}aside.fnd>div{border:1px solid #ffcecb;background:#fff;border-radius:4px;"
    "padding:6px 8px;margin-bottom:6px}\n"
    "pre.out{background:#0d1117;color:#e6edf3;padding:8px 10px;border-radius:4px;white-space:pre-wrap;"
    "word-break:break-all;max-height:300px;overflow:auto}\n"
    ".stream{border-top:1px dashed var(--bd);margin-top:14px}\n"
    ".kv{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:6px;margin:8px 0 12px}\n"
    ".kv div{background:var(--bg2);border-radius:6px;padding:5px 9px}\n"
    ".kv span{display:block;color:var(--mu);font-size:11.5px}\n"
    ".kv b{font-weight:600}\n"
    ".plots{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:12px}\n"
    "svg.plot{width:100%;height:auto;border:1px solid var(--bd);border-radius:6px;background:#fff}\n"
    "svg .pt{font-size:13px;font-weight:600;fill:var(--fg)}\n"
    "svg .tk,svg .al,svg .lg{font-size:10.5px;fill:var(--mu)}\n"
    "svg .cn{font-size:10px;fill:var(--error)}\n"
    "svg .em{font-size:13px;fill:var(--mu)}\n"
    "svg .gr{stroke:#eaeef2;stroke-width:1}svg .ax{stroke:#8c959f;stroke-width:1;fill:none}\n"
    "svg .ln{stroke:var(--line);stroke-width:1.6;fill:none;stroke-linejoin:round;stroke-linecap:round}\n"
    "svg .rl{stroke:var(--ref);stroke-width:1.4;fill:none;stroke-linejoin:round;stroke-linecap:round;"
    "opacity:.85}\n"
    "svg .nom{stroke:var(--pass);stroke-width:1.2;stroke-dasharray:5 4;fill:none}\n"
    "svg .bar{fill:var(--line)}\n"
    "svg .clip{fill:var(--error)}\n"
    "svg .ev-net{fill:var(--fail)}svg .ev-never{fill:var(--error)}svg .ev-unk{fill:var(--skip)}\n"
    "svg .ln-k,svg .bar-k{fill:var(--line)}svg .rl-k{fill:var(--ref)}svg .ev-net-k{fill:var(--fail)}"
    "svg .ev-never-k{fill:var(--error)}svg .ev-unk-k{fill:var(--skip)}svg .nom-k{fill:var(--pass)}\n"
    ".thumbs{display:flex;gap:10px;overflow-x:auto;padding:6px 0}\n"
    ".thumbs figure{margin:0;flex:none}\n"
    ".thumbs img{display:block;border:1px solid var(--bd);border-radius:4px;image-rendering:auto}\n"
    ".thumbs figcaption{font-size:11.5px;color:var(--mu);margin-top:3px}\n"
    ".thumbs figure.corrupt img,.thumbs figure.before-loss img,.thumbs figure.after-loss img"
    "{border-color:var(--error)}\n"
    "#tools{position:fixed;right:16px;bottom:16px;display:flex;gap:6px}\n"
    "#tools button{font:inherit;font-size:12px;border:1px solid var(--bd);background:#fff;border-radius:6px;"
    "padding:4px 10px;cursor:pointer;box-shadow:0 1px 3px rgba(0,0,0,.08)}\n"
    "footer{color:var(--mu);font-size:12.5px;margin-top:36px;padding-top:12px;padding-bottom:40px;"
    "border-top:1px solid var(--bd)}\n"
    "@media (max-width:900px){.ex.hl,.pair{grid-template-columns:minmax(0,1fr)}.plots{grid-template-columns:1fr}}\n"
    "@media print{#tools{display:none}details.sc{break-inside:avoid-page}pre.msg,pre.out{max-height:none}"
    "body{font-size:12px}}\n";

/* Expand/collapse buttons, everything open for printing, and the
 * self-check the tests read with --dump-dom. */
static const char page_script[] =
    "(function(){"
    "function all(o){document.querySelectorAll('details').forEach(function(d){d.open=o;});}"
    "var t=document.getElementById('tools');"
    "if(t){t.hidden=false;t.querySelector('[data-a=open]').onclick=function(){all(true);};"
    "t.querySelector('[data-a=close]').onclick=function(){all(false);};}"
    "addEventListener('beforeprint',function(){all(true);});"
    "addEventListener('load',function(){var im=document.querySelectorAll('img.thumb'),b=0;"
    "for(var i=0;i<im.length;i++)if(!im[i].naturalWidth)b++;"
    "document.body.dataset.check=JSON.stringify({plots:document.querySelectorAll('svg.plot').length,"
    "thumbs:im.length,broken_images:b});});"
    "})();";

static void esc(FILE *out, const char *s)
{
    report_xml_escape_str(out, s);
}

/* A known status as a CSS class, anything else as "other". */
static const char *status_class(const char *s)
{
    static const char *const known[] = {"pass", "fail", "error", "skipped", "not-run", "partial"};
    for (size_t i = 0; s && i < sizeof known / sizeof *known; i++)
        if (strcmp(s, known[i]) == 0)
            return known[i];
    return "other";
}

static void badge(FILE *out, const char *status)
{
    fprintf(out, "<span class=\"b %s\">", status_class(status));
    esc(out, status ? status : "?");
    fputs("</span>", out);
}

/* A number with d decimals, or a dash when the report has none. */
static void num(FILE *out, double v, int d)
{
    if (isfinite(v))
        fprintf(out, "%.*f", d, v);
    else
        fputs("&ndash;", out);
}

static void seconds(FILE *out, double s)
{
    if (!isfinite(s))
        fputs("&ndash;", out);
    else if (s >= 60)
        fprintf(out, "%.0f min %.0f s", floor(s / 60), fmod(s, 60));
    else
        fprintf(out, "%.*f s", s < 10 ? 2 : 1, s);
}

/* The length of s without the line ends that close an RTSP message. */
static size_t trimmed_len(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    return n;
}

/* n bytes of text with CR LF shown as plain line breaks. */
static void esc_text(FILE *out, const char *s, size_t n)
{
    size_t i = 0;
    for (size_t k = 0; k + 1 < n; k++)
        if (s[k] == '\r' && s[k + 1] == '\n') {
            report_xml_escape(out, s + i, k - i);
            i = k + 1;
        }
    report_xml_escape(out, s + i, n - i);
}

/* A figure of the SUT with the reference's below it, muted, and the
 * difference; worse_if_higher colours a worsening. */
static void figure_cell(FILE *out, double v, double ref, bool have_ref, int d, double scale, bool worse_if_higher)
{
    fputs("<td class=\"n\">", out);
    num(out, v * scale, d);
    if (have_ref) {
        double delta = (v - ref) * scale;
        bool worse = isfinite(delta) && (worse_if_higher ? delta > 0 : delta < 0) && fabs(delta) >= pow(10, -d);
        fputs("<span class=\"ref\">ref ", out);
        num(out, ref * scale, d);
        if (isfinite(delta)) {
            fprintf(out, " <span class=\"%s\">(%s", worse ? "worse" : "", delta >= 0 ? "+" : "");
            num(out, delta, d);
            fputs(")</span>", out);
        }
        fputs("</span>", out);
    }
    fputs("</td>", out);
}

/* "loss 1%" or, when the directions differ, each with its arrow. */
static void impairment_asked(FILE *out, const json_t *sc)
{
    json_t *asked = json_object_get(json_object_get(sc, "impairment"), "asked");
    const char *to_sut = report_str(asked, "to_sut", NULL), *to_peer = report_str(asked, "to_peer", NULL);
    if (!to_sut && !to_peer) {
        fputs("&ndash;", out);
        return;
    }
    if (to_sut && to_peer && strcmp(to_sut, to_peer) == 0) {
        esc(out, *to_sut ? to_sut : "none");
        return;
    }
    fputs("&rarr;SUT: ", out);
    esc(out, to_sut && *to_sut ? to_sut : "none");
    fputs("<br>&rarr;peer: ", out);
    esc(out, to_peer && *to_peer ? to_peer : "none");
}

/* ---- header ---- */

static void count_card(FILE *out, const char *cls, long long n, const char *label)
{
    fprintf(out, "<div class=\"cnt %s%s\"><b>%lld</b>%s</div>", cls, n == 0 && strcmp(cls, "total") ? " zero" : "",
            n, label);
}

static void meta_row(FILE *out, const char *label, const char *value)
{
    if (!value)
        return;
    fprintf(out, "<dt>%s</dt><dd>", label);
    esc(out, value);
    fputs("</dd>", out);
}

static void utc_time(FILE *out, const json_t *run)
{
    json_t *v = json_object_get(run, "started");
    if (!json_is_number(v)) {
        fputs("&ndash;", out);
        return;
    }
    time_t t = (time_t)json_number_value(v);
    struct tm tm;
    char buf[64];
    if (gmtime_r(&t, &tm) && strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm))
        fputs(buf, out);
    else
        fputs("&ndash;", out);
}

static void command_line(FILE *out, const json_t *run)
{
    json_t *cmd = json_object_get(run, "command");
    size_t i;
    json_t *a;
    fputs("<code>rtsp-harness", out);
    json_array_foreach(cmd, i, a)
    {
        const char *s = json_string_value(a);
        if (!s)
            continue;
        bool quote = !*s || strpbrk(s, " \t\"'{}$;&|<>*?") != NULL;
        fputs(quote ? " '" : " ", out);
        esc(out, s);
        if (quote)
            fputs("'", out);
    }
    fputs("</code>", out);
}

static void page_header(FILE *out, const json_t *report)
{
    json_t *run = json_object_get(report, "run"), *sum = json_object_get(report, "summary");
    fputs("<header class=\"top\"><div class=\"brand\">rtsp-harness run report</div><h1>", out);
    esc(out, report_str(run, "name", "(unnamed run)"));
    fputs("</h1><div class=\"counts\">", out);
    count_card(out, "pass", report_int(sum, "passed", 0), "passed");
    count_card(out, "fail", report_int(sum, "failed", 0), "failed");
    count_card(out, "error", report_int(sum, "errors", 0), "errors");
    fprintf(out, "<div class=\"cnt total\"><b>%lld</b>scenarios", report_int(sum, "scenarios", 0));
    if (report_bool(sum, "interrupted", false))
        fprintf(out, " &middot; <span class=\"worse\">interrupted after %lld</span>", report_int(sum, "ran", 0));
    fputs("</div></div><dl class=\"meta\">", out);
    fputs("<dt>started</dt><dd>", out);
    utc_time(out, run);
    fputs(" &middot; took ", out);
    seconds(out, report_num(run, "duration_s", NAN));
    fputs("</dd>", out);
    meta_row(out, "tool", report_str(run, "version", NULL));
    fputs("<dt>command</dt><dd>", out);
    command_line(out, run);
    fputs("</dd>", out);
    json_t *seed = json_object_get(run, "seed");
    if (json_is_integer(seed))
        fprintf(out, "<dt>seed</dt><dd>%lld</dd>", (long long)json_integer_value(seed));
    fputs("<dt>backend</dt><dd>", out);
    esc(out, report_str(run, "backend_requested", "?"));
    if (json_is_false(json_object_get(run, "netem_available"))) {
        fputs(" <span class=\"mu\">&middot; netem not used", out);
        const char *why = report_str(run, "netem_unavailable_because", NULL);
        if (why) {
            fputs(": ", out);
            esc(out, why);
        }
        fputs("</span>", out);
    }
    fputs("</dd><dt>default impairment</dt><dd>", out);
    const char *imp = report_str(run, "impair_default", NULL);
    esc(out, imp && *imp ? imp : "none");
    fputs("</dd>", out);
    json_t *tot = json_object_get(run, "measured");
    if (json_is_object(tot)) {
        fputs("<dt>measured on the wire</dt><dd>", out);
        static const char *const dirs[2][2] = {{"to_sut", "to the SUT"}, {"to_peer", "to the harness"}};
        for (int d = 0; d < 2; d++) {
            json_t *m = json_object_get(tot, dirs[d][0]);
            fprintf(out, "%s%s: ", d ? " &middot; " : "", dirs[d][1]);
            num(out, report_num(m, "loss", NAN) * 100, 2);
            fprintf(out, "%% lost of %lld packets", report_int(m, "sent", 0));
        }
        fputs("</dd>", out);
    }
    meta_row(out, "target", report_str(run, "target", NULL));
    meta_row(out, "server command", report_str(run, "server_cmd", NULL));
    meta_row(out, "client command", report_str(run, "client_cmd", NULL));
    if (report_str(run, "baseline", NULL)) {
        fputs("<dt>baseline</dt><dd>", out);
        esc(out, report_str(run, "baseline", ""));
        const char *bc = report_str(run, "baseline_cmd", NULL);
        if (bc) {
            fputs(" <span class=\"mu\">(", out);
            esc(out, bc);
            fputs(")</span>", out);
        }
        fputs("</dd>", out);
    }
    meta_row(out, "cleaned up", report_str(run, "cleaned_up", NULL));
    fputs("</dl>", out);
    json_t *from = json_object_get(run, "merged_from");
    if (json_array_size(from)) {
        fprintf(out, "<h3>Merged from %zu runs</h3><div class=\"tw\"><table><tr><th>run</th><th>started</th>"
                     "<th>tool</th><th>impairment</th><th>backend</th><th class=\"n\">took</th></tr>",
                json_array_size(from));
        size_t i;
        json_t *r;
        json_array_foreach(from, i, r)
        {
            fputs("<tr><td>", out);
            esc(out, report_str(r, "name", "?"));
            fputs("</td><td>", out);
            utc_time(out, r);
            fputs("</td><td>", out);
            esc(out, report_str(r, "version", ""));
            fputs("</td><td>", out);
            esc(out, report_str(r, "impair_default", ""));
            fputs("</td><td>", out);
            esc(out, report_str(r, "backend_requested", ""));
            fputs("</td><td class=\"n\">", out);
            seconds(out, report_num(r, "duration_s", NAN));
            fputs("</td></tr>", out);
        }
        fputs("</table></div>", out);
    }
    fputs("</header>", out);
}

/* ---- summary ---- */

static const char *verdict_of(const json_t *sc)
{
    return report_str(sc, "verdict", "?");
}

static bool is_bad(const json_t *sc)
{
    const char *v = verdict_of(sc);
    return strcmp(v, "pass") != 0;
}

/* file:line[:column] of a failure. */
static void where(FILE *out, const json_t *sc, const json_t *f)
{
    esc(out, report_str(sc, "file", "?"));
    long long line = report_int(f, "line", 0), col = report_int(f, "column", 0);
    if (line > 0)
        fprintf(out, ":%lld", line);
    if (line > 0 && col > 0)
        fprintf(out, ":%lld", col);
}

static void summary(FILE *out, const json_t *report)
{
    json_t *scs = json_object_get(report, "scenarios");
    bool merged = json_array_size(json_object_get(json_object_get(report, "run"), "merged_from")) > 0;
    fputs("<h2>Scenarios</h2><div class=\"tw\"><table class=\"sum\"><tr>", out);
    if (merged)
        fputs("<th>run</th>", out);
    fputs("<th>verdict</th><th>scenario</th><th>impairment</th><th class=\"n\">loss %</th>"
          "<th class=\"n\">kbit/s</th><th class=\"n\" title=\"the slowest stream\">fps</th>"
          "<th class=\"n\" title=\"the highest of all streams\">max jitter ms</th><th class=\"n\">time</th></tr>",
          out);
    size_t i;
    json_t *sc;
    json_array_foreach(scs, i, sc)
    {
        struct report_figures f = report_scenario_figures(sc);
        const json_t *base = json_object_get(sc, "baseline");
        struct report_figures r = report_scenario_figures(base);
        bool ref = json_is_object(base) && r.have;
        fputs("<tr>", out);
        if (merged) {
            fputs("<td>", out);
            esc(out, report_str(sc, "run", ""));
            fputs("</td>", out);
        }
        fputs("<td>", out);
        badge(out, verdict_of(sc));
        fprintf(out, "</td><td><a href=\"#s%zu\">", i);
        esc(out, report_str(sc, "name", "?"));
        fputs("</a><span class=\"ref\">", out);
        esc(out, report_str(sc, "file", ""));
        fputs("</span></td><td class=\"sm\">", out);
        impairment_asked(out, sc);
        fputs("</td>", out);
        if (f.have || ref) {
            figure_cell(out, f.loss, r.loss, ref, 2, 100, true);
            figure_cell(out, f.kbps, r.kbps, ref, 0, 1, false);
            figure_cell(out, f.fps, r.fps, ref, 1, 1, false);
            figure_cell(out, f.jitter, r.jitter, ref, 1, 1, true);
        } else
            fputs("<td class=\"n mu\">&ndash;</td><td class=\"n mu\">&ndash;</td><td class=\"n mu\">&ndash;</td>"
                  "<td class=\"n mu\">&ndash;</td>",
                  out);
        fputs("<td class=\"n\">", out);
        seconds(out, report_num(sc, "duration_s", NAN));
        fputs("</td></tr>", out);
    }
    fputs("</table></div>", out);

    size_t bad = 0;
    json_array_foreach(scs, i, sc) bad += is_bad(sc);
    if (!bad)
        return;
    fprintf(out, "<h2>Failures</h2><ul class=\"fl\">");
    json_array_foreach(scs, i, sc)
    {
        if (!is_bad(sc))
            continue;
        fputs("<li>", out);
        badge(out, verdict_of(sc));
        fprintf(out, " <a href=\"#s%zu\">", i);
        esc(out, report_str(sc, "name", "?"));
        fputs("</a>: ", out);
        json_t *f0 = json_array_get(json_object_get(sc, "failures"), 0);
        const char *error = report_str(sc, "error", NULL);
        if (error && !json_is_object(f0)) {
            esc(out, error);
        } else if (json_is_object(f0)) {
            fputs("<code class=\"chk\">", out);
            esc(out, report_str(f0, "check", "?"));
            fprintf(out, "</code> <a href=\"#s%zu-f0\" class=\"mono\">", i);
            where(out, sc, f0);
            fputs("</a> ", out);
            esc(out, report_str(f0, "message", ""));
            size_t more = json_array_size(json_object_get(sc, "failures")) - 1;
            if (more)
                fprintf(out, " <span class=\"mu\">(+%zu more)</span>", more);
        } else
            fputs("<span class=\"mu\">no failure recorded</span>", out);
        fputs("</li>", out);
    }
    fputs("</ul>", out);
}

/* ---- a scenario's section ---- */

static void dist_cell(FILE *out, const json_t *dist, const char *key)
{
    fputs("<td class=\"n\">", out);
    num(out, report_num(dist, key, NAN), 1);
    fputs("</td>", out);
}

static void impairment_section(FILE *out, const json_t *sc)
{
    json_t *imp = json_object_get(sc, "impairment");
    if (!json_is_object(imp))
        return;
    json_t *asked = json_object_get(imp, "asked"), *meas = json_object_get(imp, "measured");
    fputs("<h3>Impairment</h3><p class=\"sm\">backend <b>", out);
    esc(out, report_str(imp, "backend", "?"));
    fputs("</b>", out);
    const char *note = report_str(imp, "note", NULL), *merr = report_str(imp, "measured_error", NULL);
    if (note) {
        fputs(" &middot; ", out);
        esc(out, note);
    }
    if (merr) {
        fputs(" &middot; <span class=\"worse\">not measured: ", out);
        esc(out, merr);
        fputs("</span>", out);
    }
    fputs("</p><div class=\"tw\"><table><tr><th>direction</th><th>asked</th><th class=\"n\">sent</th>"
          "<th class=\"n\">received</th><th class=\"n\">lost</th><th class=\"n\">loss %</th>"
          "<th class=\"n\">delay p50 ms</th><th class=\"n\">delay p99 ms</th></tr>",
          out);
    static const char *const dirs[][2] = {{"to_sut", "to the SUT"}, {"to_peer", "to the peer (harness)"}};
    for (size_t d = 0; d < 2; d++) {
        json_t *m = json_object_get(meas, dirs[d][0]);
        json_t *delay = json_object_get(m, "delay_ms");
        fprintf(out, "<tr><td>%s</td><td>", dirs[d][1]);
        const char *a = report_str(asked, dirs[d][0], NULL);
        esc(out, a && *a ? a : "none");
        fputs("</td><td class=\"n\">", out);
        num(out, report_num(m, "sent", NAN), 0);
        fputs("</td><td class=\"n\">", out);
        num(out, report_num(m, "received", NAN), 0);
        fputs("</td><td class=\"n\">", out);
        num(out, report_num(m, "lost", NAN), 0);
        fputs("</td><td class=\"n\">", out);
        num(out, report_num(m, "loss", NAN) * 100, 2);
        fputs("</td>", out);
        dist_cell(out, delay, "p50");
        dist_cell(out, delay, "p99");
        fputs("</tr>", out);
    }
    fputs("</table></div>", out);
    json_t *phases = json_object_get(imp, "phases");
    if (!json_array_size(phases))
        return;
    fputs("<p class=\"sm\">Phases:</p><ul class=\"sm\">", out);
    size_t i;
    json_t *ph;
    json_array_foreach(phases, i, ph)
    {
        fprintf(out, "<li>line %lld: at ", report_int(ph, "line", 0));
        num(out, report_num(ph, "at_ms", NAN), 0);
        fputs(" ms (applied at ", out);
        num(out, report_num(ph, "applied_ms", NAN), 0);
        fputs(" ms)", out);
        const char *dir = report_str(ph, "direction", NULL), *what = report_str(ph, "impair", NULL);
        if (dir) {
            fputs(", ", out);
            esc(out, dir);
        }
        if (what) {
            fputs(": ", out);
            esc(out, what);
        }
        double bo = report_num(ph, "blackout_ms", NAN);
        if (isfinite(bo)) {
            fputs(", blackout ", out);
            num(out, bo, 0);
            fputs(" ms", out);
        }
        const char *e = report_str(ph, "error", NULL);
        if (e) {
            fputs(" <span class=\"worse\">", out);
            esc(out, e);
            fputs("</span>", out);
        }
        fputs("</li>", out);
    }
    fputs("</ul>", out);
}

/* The exchange a failure is about: its "exchange" index, else the first
 * exchange on the failure's line. -1 when none. */
static long long failure_exchange(const json_t *f, const json_t *exchanges)
{
    json_t *x = json_object_get(f, "exchange");
    if (json_is_integer(x)) {
        long long k = (long long)json_integer_value(x);
        return k >= 0 && (size_t)k < json_array_size(exchanges) ? k : -1;
    }
    long long line = report_int(f, "line", 0);
    if (line <= 0)
        return -1;
    size_t i;
    json_t *e;
    json_array_foreach(exchanges, i, e) if (report_int(e, "line", -1) == line) return (long long)i;
    return -1;
}

/* The evidence of a failure: RFC section, where, pcap and frame. */
static void evidence(FILE *out, const json_t *f)
{
    const char *parts[] = {report_str(f, "rfc", NULL), report_str(f, "where", NULL)};
    const char *pcap = report_str(f, "pcap", NULL);
    if (!parts[0] && !parts[1] && !pcap)
        return;
    fputs("<div class=\"ev\">", out);
    const char *sep = "";
    for (size_t i = 0; i < 2; i++)
        if (parts[i]) {
            fputs(sep, out);
            esc(out, parts[i]);
            sep = " &middot; ";
        }
    if (pcap) {
        fprintf(out, "%s<span class=\"mono\">", sep);
        esc(out, pcap);
        fputs("</span>", out);
        long long frame = report_int(f, "frame", 0);
        if (frame > 0)
            fprintf(out, " frame %lld", frame);
    }
    fputs("</div>", out);
}

static void failures_section(FILE *out, const json_t *sc, size_t si)
{
    json_t *fails = json_object_get(sc, "failures"), *exchanges = json_object_get(sc, "exchanges");
    if (!json_array_size(fails))
        return;
    fprintf(out, "<h3>Failures (%zu)</h3><ol class=\"fails\">", json_array_size(fails));
    size_t i;
    json_t *f;
    json_array_foreach(fails, i, f)
    {
        fprintf(out, "<li id=\"s%zu-f%zu\"><code class=\"chk\">", si, i);
        esc(out, report_str(f, "check", "?"));
        fputs("</code> <span class=\"mu sm\">", out);
        esc(out, report_str(f, "source", ""));
        fputs("</span> <span class=\"mono sm\">", out);
        where(out, sc, f);
        fputs("</span> ", out);
        esc(out, report_str(f, "message", ""));
        double t = report_num(f, "time_s", NAN);
        if (isfinite(t))
            fprintf(out, " <span class=\"mu sm\">@ %.3f s</span>", t);
        long long x = failure_exchange(f, exchanges);
        if (x >= 0)
            fprintf(out, " <a class=\"sm\" href=\"#s%zu-x%lld\">exchange &rarr;</a>", si, x);
        evidence(out, f);
        fputs("</li>", out);
    }
    fputs("</ol>", out);
}

static void checks_section(FILE *out, const json_t *sc)
{
    json_t *checks = json_object_get(sc, "checks");
    if (!json_array_size(checks))
        return;
    size_t n[4] = {0}; /* pass, fail, error, skipped */
    size_t i;
    json_t *c;
    json_array_foreach(checks, i, c)
    {
        const char *st = report_str(c, "status", "");
        n[strcmp(st, "pass") == 0 ? 0 : strcmp(st, "fail") == 0 ? 1 : strcmp(st, "error") == 0 ? 2 : 3]++;
    }
    fprintf(out, "<details class=\"sub\"%s><summary>Checks: %zu (%zu passed, %zu failed, %zu errors, %zu skipped)"
                 "</summary><div class=\"tw\"><table class=\"ck\"><tr><th>status</th><th>check</th><th>source</th>"
                 "<th>what must hold</th><th>RFC</th><th class=\"n\">time</th></tr>",
            n[1] || n[2] ? " open" : "", json_array_size(checks), n[0], n[1], n[2], n[3]);
    json_array_foreach(checks, i, c)
    {
        const char *st = report_str(c, "status", "?");
        bool bad = strcmp(st, "fail") == 0 || strcmp(st, "error") == 0;
        fprintf(out, "<tr%s><td>", bad ? " class=\"bad\"" : "");
        badge(out, st);
        fputs("</td><td><code>", out);
        esc(out, report_str(c, "name", report_str(c, "id", "?")));
        fputs("</code></td><td class=\"mu sm\">", out);
        esc(out, report_str(c, "source", ""));
        fputs("</td><td>", out);
        esc(out, report_str(c, "description", ""));
        const char *msg = report_str(c, "message", NULL);
        if (msg && *msg) {
            fputs(bad ? "<div class=\"worse sm\">" : " <span class=\"mu sm\">&middot; ", out);
            esc(out, msg);
            fputs(bad ? "</div>" : "</span>", out);
        }
        fputs("</td><td class=\"mu sm\">", out);
        esc(out, report_str(c, "rfc", ""));
        fputs("</td><td class=\"n mu sm\">", out);
        double t = report_num(c, "time_s", NAN);
        if (isfinite(t))
            fprintf(out, "%.1f ms", t * 1000);
        fputs("</td></tr>", out);
    }
    fputs("</table></div></details>", out);
}

/* ---- the transcript ---- */

/* Which parts of a response the findings on an exchange name: the status
 * line, and up to a few header names. */
struct marks {
    bool status_line;
    char headers[8][64];
    size_t n;
};

static void mark_header(struct marks *m, const char *name, size_t len)
{
    if (len == 0 || len >= sizeof m->headers[0])
        return;
    for (size_t i = 0; i < m->n; i++)
        if (strlen(m->headers[i]) == len && strncasecmp(m->headers[i], name, len) == 0)
            return;
    if (m->n < sizeof m->headers / sizeof *m->headers)
        snprintf(m->headers[m->n++], sizeof m->headers[0], "%.*s", (int)len, name);
}

/* The header a check id is about (rtsp.cseq.echo: CSeq), if any. */
static const char *header_of_check(const char *check)
{
    static const char *const map[][2] = {
        {"rtsp.cseq.", "CSeq"},         {"rtsp.session.", "Session"}, {"rtsp.transport.", "Transport"},
        {"rtsp.content-length", "Content-Length"}, {"rtsp.public", "Public"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strncmp(check, map[i][0], strlen(map[i][0])) == 0)
            return map[i][1];
    return NULL;
}

static bool name_char(char c)
{
    return c == '-' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* True when msg holds name (len bytes) as a whole word, ignoring case. */
static bool names_word(const char *msg, const char *name, size_t len)
{
    for (const char *p = msg; *p; p++)
        if (strncasecmp(p, name, len) == 0 && (p == msg || !name_char(p[-1])) && !name_char(p[len]))
            return true;
    return false;
}

/* Header names of the response that a failure's message names as a word
 * (scenario.header and scenario.absent quote the header they judged). */
static void mark_named_headers(struct marks *m, const char *msg, const char *response)
{
    if (!msg || !response)
        return;
    const char *line = strchr(response, '\n'); /* the status line has no name */
    while (line && *++line) {
        const char *colon = strchr(line, ':'), *eol = strchr(line, '\n');
        size_t len = colon && (!eol || colon < eol) ? (size_t)(colon - line) : 0;
        if (len > 0 && len < sizeof m->headers[0] && names_word(msg, line, len))
            mark_header(m, line, len);
        line = eol;
    }
}

/* A response with the marked lines in <mark>. */
static void response_text(FILE *out, const char *resp, const struct marks *m)
{
    size_t n = trimmed_len(resp);
    for (size_t at = 0; at < n;) {
        const char *line = resp + at;
        const char *eol = memchr(line, '\n', n - at);
        size_t len = eol ? (size_t)(eol - line) : n - at;
        bool mark = at == 0 && m->status_line;
        for (size_t i = 0; !mark && i < m->n; i++) {
            size_t hl = strlen(m->headers[i]);
            mark = len > hl && strncasecmp(line, m->headers[i], hl) == 0 && line[hl] == ':';
        }
        size_t body = len > 0 && line[len - 1] == '\r' ? len - 1 : len;
        if (mark)
            fputs("<mark>", out);
        report_xml_escape(out, line, body);
        if (mark)
            fputs("</mark>", out);
        if (eol)
            fputs("\n", out);
        at += len + (eol != NULL);
    }
}

static void transcript_section(FILE *out, const json_t *sc, size_t si)
{
    json_t *exchanges = json_object_get(sc, "exchanges"), *fails = json_object_get(sc, "failures");
    size_t n = json_array_size(exchanges);
    if (!n)
        return;
    fprintf(out, "<details class=\"sub\" open><summary>RTSP transcript (%zu exchange%s)</summary>", n,
            n == 1 ? "" : "s");
    size_t i;
    json_t *x;
    json_array_foreach(exchanges, i, x)
    {
        size_t nf = 0, k;
        json_t *f;
        json_array_foreach(fails, k, f) nf += failure_exchange(f, exchanges) == (long long)i;
        fprintf(out, "<div class=\"ex%s\" id=\"s%zu-x%zu\"><div class=\"exm\"><div class=\"exh\"><span class=\"mth\">",
                nf ? " hl" : "", si, i);
        esc(out, report_str(x, "method", "?"));
        fputs("</span> &rarr; ", out);
        long long status = report_int(x, "status", 0);
        if (status > 0)
            fprintf(out, "<span class=\"code\">%lld</span>", status);
        else
            fputs("<span class=\"code mu\">no reply</span>", out);
        fprintf(out, " <span class=\"mu\">&middot; line %lld &middot; ", report_int(x, "line", 0));
        double rq = report_num(x, "request_s", NAN), rs = report_num(x, "response_s", NAN);
        num(out, rq, 3);
        if (isfinite(rs)) {
            fputs(" &rarr; ", out);
            num(out, rs, 3);
            fprintf(out, " s (%.1f ms)", (rs - rq) * 1000);
        } else
            fputs(" s", out);
        json_t *cseq = json_object_get(x, "cseq");
        if (json_is_integer(cseq))
            fprintf(out, " &middot; CSeq %lld", (long long)json_integer_value(cseq));
        fprintf(out, " &middot; conn %lld ", report_int(x, "conn", 0));
        esc(out, report_str(x, "local", ""));
        fputs(" &harr; ", out);
        esc(out, report_str(x, "remote", ""));
        long long frame = report_int(x, "frame", 0);
        if (frame > 0)
            fprintf(out, " &middot; frame %lld", frame);
        fputs("</span></div>", out);
        const char *req = report_str(x, "request", NULL), *resp = report_str(x, "response", NULL);
        fputs("<div class=\"pair\"><pre class=\"msg req\">", out);
        if (req)
            esc_text(out, req, trimmed_len(req));
        else
            fputs("<span class=\"mu\">(no request sent)</span>", out);
        fputs("</pre><pre class=\"msg resp\">", out);
        struct marks m = {0};
        json_array_foreach(fails, k, f)
        {
            if (failure_exchange(f, exchanges) != (long long)i)
                continue;
            const char *check = report_str(f, "check", "");
            const char *h = header_of_check(check);
            if (h)
                mark_header(&m, h, strlen(h));
            if (strcmp(check, "scenario.status") == 0 || strcmp(check, "rtsp.status") == 0)
                m.status_line = true;
            if (strcmp(check, "scenario.header") == 0 || strcmp(check, "scenario.absent") == 0)
                mark_named_headers(&m, report_str(f, "message", NULL), resp);
        }
        if (resp)
            response_text(out, resp, &m);
        else
            fputs("<span class=\"mu\">(no response)</span>", out);
        fputs("</pre></div></div>", out);
        if (nf) {
            fputs("<aside class=\"fnd\">", out);
            json_array_foreach(fails, k, f)
            {
                if (failure_exchange(f, exchanges) != (long long)i)
                    continue;
                fprintf(out, "<div><a href=\"#s%zu-f%zu\"><code class=\"chk\">", si, k);
                esc(out, report_str(f, "check", "?"));
                fputs("</code></a> ", out);
                esc(out, report_str(f, "message", ""));
                evidence(out, f);
                fputs("</div>", out);
            }
            fputs("</aside>", out);
        }
        fputs("</div>", out);
    }
    fputs("</details>", out);
}

static void windows_section(FILE *out, const json_t *sc)
{
    json_t *wins = json_object_get(sc, "rtp_windows");
    if (!json_array_size(wins))
        return;
    fputs("<h3>RTP windows</h3><div class=\"tw\"><table><tr><th>line</th><th>window</th>"
          "<th class=\"n\">packets</th><th class=\"n\">bytes</th><th>metric</th><th>expected</th><th>measured</th>"
          "<th>result</th></tr>",
          out);
    size_t i;
    json_t *w;
    json_array_foreach(wins, i, w)
    {
        json_t *conds = json_object_get(w, "conditions");
        size_t nc = json_array_size(conds);
        const char *error = report_str(w, "error", NULL);
        size_t rows = nc + (error != NULL);
        if (!rows)
            rows = 1;
        fprintf(out, "<tr><td rowspan=\"%zu\">%lld</td><td rowspan=\"%zu\">", rows, report_int(w, "line", 0), rows);
        num(out, report_num(w, "start_s", NAN), 2);
        fputs(" &ndash; ", out);
        num(out, report_num(w, "end_s", NAN), 2);
        fprintf(out, " s</td><td class=\"n\" rowspan=\"%zu\">", rows);
        num(out, report_num(w, "live_packets", NAN), 0);
        fprintf(out, "</td><td class=\"n\" rowspan=\"%zu\">", rows);
        num(out, report_num(w, "live_bytes", NAN), 0);
        fputs("</td>", out);
        if (!nc && !error)
            fputs("<td colspan=\"4\" class=\"mu\">no conditions</td></tr>", out);
        size_t k;
        json_t *c;
        json_array_foreach(conds, k, c)
        {
            if (k)
                fputs("<tr>", out);
            fputs("<td>", out);
            esc(out, report_str(c, "metric", "?"));
            fputs("</td><td class=\"mono\">", out);
            esc(out, report_str(c, "expected", ""));
            fputs("</td><td class=\"mono\">", out);
            esc(out, report_str(c, "measured", ""));
            fputs("</td><td>", out);
            json_t *pass = json_object_get(c, "pass");
            badge(out, json_is_boolean(pass) ? (json_is_true(pass) ? "pass" : "fail") : "?");
            fputs("</td></tr>", out);
        }
        if (error) {
            if (nc)
                fputs("<tr>", out);
            fputs("<td colspan=\"4\" class=\"worse\">", out);
            esc(out, error);
            fputs("</td></tr>", out);
        }
    }
    fputs("</table></div>", out);
}

/* ---- streams ---- */

/* A figure of a stream for the metrics grid: key (or key.sub), label,
 * scale and decimals. */
struct metric {
    const char *key, *sub, *label;
    double scale;
    int d;
};

static const struct metric stream_metrics[] = {
    {"packets", NULL, "packets", 1, 0},
    {"expected", NULL, "expected", 1, 0},
    {"lost", NULL, "lost", 1, 0},
    {"loss", NULL, "loss %", 100, 2},
    {"duplicates", NULL, "duplicates", 1, 0},
    {"reordered", NULL, "reordered", 1, 0},
    {"bytes", NULL, "bytes", 1, 0},
    {"bitrate_bps", NULL, "kbit/s", 0.001, 1},
    {"fps", NULL, "fps", 1, 2},
    {"frames_complete", NULL, "frames complete", 1, 0},
    {"frames_incomplete", NULL, "frames incomplete", 1, 0},
    {"frames_decoded", NULL, "frames decoded", 1, 0},
    {"frames_undecodable", NULL, "frames undecodable", 1, 0},
    {"mean_jitter_ms", NULL, "mean jitter ms", 1, 2},
    {"max_jitter_ms", NULL, "max jitter ms", 1, 2},
    {"min_delta_ms", NULL, "min packet gap ms", 1, 2},
    {"mean_delta_ms", NULL, "mean packet gap ms", 1, 2},
    {"max_delta_ms", NULL, "max packet gap ms", 1, 2},
    {"interval_ms", "p50", "frame interval p50 ms", 1, 1},
    {"interval_ms", "p95", "frame interval p95 ms", 1, 1},
    {"interval_ms", "p99", "frame interval p99 ms", 1, 1},
    {"interval_ms", "max", "frame interval max ms", 1, 1},
    {"nominal_interval_ms", NULL, "nominal interval ms", 1, 1},
    {"stalls", NULL, "stalls", 1, 0},
    {"payload_type", NULL, "payload type", 1, 0},
};

static double metric_value(const json_t *st, const struct metric *m)
{
    const json_t *o = m->sub ? json_object_get(st, m->key) : st;
    return report_num(o, m->sub ? m->sub : m->key, NAN) * m->scale;
}

static void stream_grid(FILE *out, const json_t *st, const json_t *ref)
{
    fputs("<div class=\"kv\">", out);
    for (size_t i = 0; i < sizeof stream_metrics / sizeof *stream_metrics; i++) {
        const struct metric *m = &stream_metrics[i];
        double v = metric_value(st, m);
        if (!isfinite(v))
            continue;
        fprintf(out, "<div><span>%s</span><b>", m->label);
        num(out, v, m->d);
        fputs("</b>", out);
        double r = metric_value(ref, m);
        if (isfinite(r)) {
            fputs(" <small class=\"mu\">ref ", out);
            num(out, r, m->d);
            fputs("</small>", out);
        }
        fputs("</div>", out);
    }
    const char *pcap = report_str(st, "pcap", NULL);
    if (pcap) {
        fputs("<div style=\"grid-column:1/-1\"><span>capture</span><b class=\"mono\">", out);
        esc(out, pcap);
        fputs("</b></div>", out);
    }
    fputs("</div>", out);
}

/* A stream's series as points: frames[i] = [t_s, interval_ms|null,
 * jitter_ms]; col picks the interval (1) or the jitter (2). Entries of the
 * wrong shape are skipped; a null value is a gap. */
static struct svg_xy *series_points(const json_t *st, size_t col, size_t *n)
{
    json_t *frames = json_object_get(json_object_get(st, "series"), "frames");
    size_t cap = json_array_size(frames);
    *n = 0;
    if (!cap)
        return NULL;
    struct svg_xy *pts = malloc(cap * sizeof *pts);
    if (!pts)
        return NULL;
    size_t i;
    json_t *fr;
    json_array_foreach(frames, i, fr)
    {
        json_t *t = json_array_get(fr, 0), *v = json_array_get(fr, col);
        if (!json_is_number(t))
            continue;
        pts[(*n)++] = (struct svg_xy){json_number_value(t), json_is_number(v) ? json_number_value(v) : NAN};
    }
    return pts;
}

/* The bit rate per second in kbit/s. */
static double *bitrate_kbps(const json_t *st, size_t *n, double *t0)
{
    json_t *series = json_object_get(st, "series");
    json_t *b = json_object_get(series, "bitrate_bps");
    size_t cap = json_array_size(b);
    *n = 0;
    *t0 = report_num(series, "t0_s", 0);
    if (!cap)
        return NULL;
    double *v = malloc(cap * sizeof *v);
    if (!v)
        return NULL;
    size_t i;
    json_t *x;
    json_array_foreach(b, i, x) v[(*n)++] = json_is_number(x) ? json_number_value(x) / 1000 : NAN;
    return v;
}

/* The time the stream's plots span: from the first packet to the last
 * frame, second of bit rate or loss, of the SUT and the reference. */
static void stream_span(const json_t *st, double *x0, double *x1)
{
    json_t *series = json_object_get(st, "series");
    if (!json_is_object(series))
        return;
    double t0 = report_num(series, "t0_s", NAN);
    if (isfinite(t0)) {
        if (!(t0 >= *x0))
            *x0 = t0;
        double end = t0 + (double)json_array_size(json_object_get(series, "bitrate_bps"));
        if (!(end <= *x1))
            *x1 = end;
    }
    json_t *frames = json_object_get(series, "frames");
    json_t *last = json_array_get(frames, json_array_size(frames) - 1);
    double lt = json_number_value(json_array_get(last, 0));
    if (json_is_number(json_array_get(last, 0)) && !(lt <= *x1))
        *x1 = lt;
    if (json_is_number(json_array_get(json_array_get(frames, 0), 0)) &&
        !(json_number_value(json_array_get(json_array_get(frames, 0), 0)) >= *x0))
        *x0 = json_number_value(json_array_get(json_array_get(frames, 0), 0));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(st, "loss_events"), i, e)
    {
        double t = report_num(e, "t_s", NAN);
        if (isfinite(t) && !(t <= *x1))
            *x1 = t;
        if (isfinite(t) && !(t >= *x0))
            *x0 = t;
    }
}

static void loss_plot(FILE *out, const json_t *st, double x0, double x1)
{
    json_t *events = json_object_get(st, "loss_events");
    size_t n = json_array_size(events);
    struct svg_event *ev = n ? calloc(n, sizeof *ev) : NULL;
    char(*tips)[128] = n ? calloc(n, sizeof *tips) : NULL;
    struct svg_row rows[3] = {
        {"network", "ev-net", 0},
        {"never sent", "ev-never", 0},
        {"unknown", "ev-unk", 0},
    };
    size_t m = 0, i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        if (!ev || !tips)
            break;
        const char *kind = report_str(e, "kind", "unknown");
        size_t row = strcmp(kind, "network") == 0 ? 0 : strcmp(kind, "never-sent") == 0 ? 1 : 2;
        double t = report_num(e, "t_s", NAN);
        if (!isfinite(t))
            continue;
        rows[row].count++;
        int len = snprintf(tips[m], sizeof tips[m], "%s: seq %lld at %.3f s", rows[row].label,
                           report_int(e, "seq", -1), t);
        long long frame = report_int(e, "frame", 0);
        if (frame > 0 && len > 0 && (size_t)len < sizeof tips[m])
            snprintf(tips[m] + len, sizeof tips[m] - (size_t)len, ", pcap frame %lld", frame);
        ev[m] = (struct svg_event){t, row, tips[m]};
        m++;
    }
    bool truncated = report_bool(st, "loss_events_truncated", false);
    struct svg_plot p = {"loss", truncated ? "Lost packets (first ones only)" : "Lost packets", "", x0, x1};
    svg_event_plot(out, &p, ev, m, rows, rows[2].count ? 3 : 2, "no loss");
    free(ev);
    free(tips);
}

/* Frames further apart than this are not joined by a line: the stream
 * stalled or was paused in between. */
#define SERIES_GAP_S 1.0

static void stream_plots(FILE *out, const json_t *st, const json_t *ref)
{
    double x0 = NAN, x1 = NAN;
    stream_span(st, &x0, &x1);
    stream_span(ref, &x0, &x1);
    if (!isfinite(x0))
        x0 = 0;
    if (!isfinite(x1) || x1 <= x0)
        x1 = x0 + 1;
    bool have_series = json_is_object(json_object_get(st, "series"));
    const char *empty = have_series ? "no complete frame" : "no series in the report";
    fputs("<div class=\"plots\">", out);

    size_t n_iv, n_riv;
    struct svg_xy *iv = series_points(st, 1, &n_iv), *riv = series_points(ref, 1, &n_riv);
    size_t n_iv_values = 0;
    for (size_t i = 0; i < n_iv; i++)
        n_iv_values += isfinite(iv[i].y);
    struct svg_plot p = {"interval", "Frame interval (ms)", "ms", x0, x1};
    svg_line_plot(out, &p, (struct svg_line){iv, n_iv, SERIES_GAP_S}, (struct svg_line){riv, n_riv, SERIES_GAP_S},
                  report_num(st, "nominal_interval_ms", NAN), "nominal",
                  n_iv == 1 || (n_iv && !n_iv_values) ? "one frame: no interval" : empty);
    free(iv);
    free(riv);

    size_t n_b, n_rb;
    double t0, rt0;
    double *b = bitrate_kbps(st, &n_b, &t0), *rb = bitrate_kbps(ref, &n_rb, &rt0);
    p = (struct svg_plot){"bitrate", "Bit rate per second (kbit/s)", "kbit/s", x0, x1};
    svg_bar_plot(out, &p, (struct svg_bars){t0, b, n_b}, (struct svg_bars){rt0, rb, n_rb},
                 have_series ? "no data" : empty);
    free(b);
    free(rb);

    loss_plot(out, st, x0, x1);

    size_t n_j, n_rj;
    struct svg_xy *j = series_points(st, 2, &n_j), *rj = series_points(ref, 2, &n_rj);
    p = (struct svg_plot){"jitter", "Jitter, RFC 3550 (ms)", "ms", x0, x1};
    svg_line_plot(out, &p, (struct svg_line){j, n_j, SERIES_GAP_S}, (struct svg_line){rj, n_rj, SERIES_GAP_S}, NAN, NULL, empty);
    free(j);
    free(rj);
    fputs("</div>", out);
    if (report_bool(json_object_get(st, "series"), "frames_truncated", false))
        fputs("<p class=\"mu sm\">The per-frame series was cut at its limit; the plots show its start.</p>", out);
}

/* True for a non-empty, padded base64 text: only A-Z a-z 0-9 + / and at
 * most two '=' at the end. Anything else is not inlined into the page. */
static bool is_base64(const char *s)
{
    size_t n = s ? strlen(s) : 0, pad = 0;
    if (n == 0 || n % 4 != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '=') {
            pad++;
            if (pad > 2 || i < n - 2)
                return false;
        } else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '+' || c == '/'))
            return false;
    }
    return true;
}

static const char *reason_text(const char *reason)
{
    static const char *const map[][2] = {
        {"first", "first"}, {"last", "last"}, {"before-loss", "before loss"}, {"after-loss", "after loss"},
        {"corrupt", "corrupt"},
    };
    for (size_t i = 0; reason && i < sizeof map / sizeof *map; i++)
        if (strcmp(reason, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static void thumbnails(FILE *out, const json_t *st)
{
    json_t *thumbs = json_object_get(st, "thumbnails");
    size_t i, shown = 0;
    json_t *t;
    json_array_foreach(thumbs, i, t)
    {
        const char *jpeg = report_str(t, "jpeg", NULL);
        if (!is_base64(jpeg))
            continue;
        if (!shown++)
            fputs("<div class=\"thumbs\">", out);
        const char *reason = reason_text(report_str(t, "reason", NULL));
        fprintf(out, "<figure class=\"%s\"><img class=\"thumb\" alt=\"frame", reason ? report_str(t, "reason", "") : "");
        long long frame = report_int(t, "frame", 0), w = report_int(t, "width", 0), h = report_int(t, "height", 0);
        if (frame > 0)
            fprintf(out, " %lld", frame);
        fputs("\"", out);
        if (w > 0 && w <= 4096 && h > 0 && h <= 4096)
            fprintf(out, " width=\"%lld\" height=\"%lld\"", w, h);
        fprintf(out, " src=\"data:image/jpeg;base64,%s\"><figcaption>", jpeg);
        esc(out, reason ? reason : "frame");
        double ts = report_num(t, "t_s", NAN);
        if (isfinite(ts))
            fprintf(out, " @ %.2f s", ts);
        if (frame > 0)
            fprintf(out, "<br>pcap frame %lld", frame);
        fputs("</figcaption></figure>", out);
    }
    if (shown)
        fputs("</div>", out);
}

static void streams_section(FILE *out, const json_t *sc)
{
    json_t *streams = json_object_get(sc, "streams");
    json_t *ref_streams = json_object_get(json_object_get(sc, "baseline"), "streams");
    size_t n = json_array_size(streams);
    if (!n) {
        if (json_is_array(streams) && json_array_size(json_object_get(sc, "rtp_windows")))
            fputs("<h3>RTP</h3><p class=\"mu\">No RTP stream was received.</p>", out);
        return;
    }
    fprintf(out, "<h3>RTP stream%s</h3>", n == 1 ? "" : "s");
    if (json_array_size(ref_streams))
        fputs("<p class=\"mu sm\">Grey: the reference server, same scenario and seed.</p>", out);
    size_t i;
    json_t *st;
    json_array_foreach(streams, i, st)
    {
        json_t *ref = json_array_get(ref_streams, i);
        fprintf(out, "<div class=\"stream\"><h4>Stream %zu: ", i + 1);
        esc(out, report_str(st, "src", "?"));
        fputs(" &rarr; ", out);
        esc(out, report_str(st, "dst", "?"));
        json_t *ssrc = json_object_get(st, "ssrc");
        if (json_is_integer(ssrc))
            fprintf(out, " <span class=\"mu\">&middot; SSRC 0x%08llx", (unsigned long long)json_integer_value(ssrc));
        else
            fputs(" <span class=\"mu\">", out);
        json_t *il = json_object_get(st, "interleaved");
        if (json_is_boolean(il))
            fputs(json_is_true(il) ? " &middot; TCP interleaved" : " &middot; UDP", out);
        fputs("</span></h4>", out);
        stream_grid(out, st, ref);
        stream_plots(out, st, ref);
        thumbnails(out, st);
        fputs("</div>", out);
    }
}

static void tail(FILE *out, const char *label, const char *text)
{
    fprintf(out, "<p class=\"sm mu\">%s</p><pre class=\"out\">", label);
    if (text && *text)
        esc(out, text);
    else
        fputs("(empty)", out);
    fputs("</pre>", out);
}

static void sut_section(FILE *out, const json_t *sc)
{
    json_t *sut = json_object_get(sc, "sut");
    if (!json_is_object(sut))
        return;
    fputs("<details class=\"sub\"><summary>System under test: ", out);
    esc(out, report_str(sut, "exit", "?"));
    if (report_bool(sut, "ended_early", false))
        fputs(" <span class=\"worse\">(ended early)</span>", out);
    fputs("</summary><p class=\"mono sm\">", out);
    esc(out, report_str(sut, "command", ""));
    fputs("</p>", out);
    tail(out, "stdout (tail)", report_str(sut, "stdout_tail", NULL));
    tail(out, "stderr (tail)", report_str(sut, "stderr_tail", NULL));
    fputs("</details>", out);
}

static void baseline_section(FILE *out, const json_t *sc)
{
    json_t *base = json_object_get(sc, "baseline");
    const char *note = report_str(sc, "baseline_note", NULL);
    if (!json_is_object(base)) {
        if (note) {
            fputs("<p class=\"mu sm\">Baseline: ", out);
            esc(out, note);
            fputs("</p>", out);
        }
        return;
    }
    fputs("<h3>Reference server, same scenario and seed</h3><p>", out);
    badge(out, report_str(base, "verdict", "?"));
    fputs(" <span class=\"mu\">in ", out);
    seconds(out, report_num(base, "duration_s", NAN));
    fprintf(out, ", %zu failure%s</span>", json_array_size(json_object_get(base, "failures")),
            json_array_size(json_object_get(base, "failures")) == 1 ? "" : "s");
    fputs("</p>", out);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(base, "failures"), i, f)
    {
        fputs("<div class=\"ev\"><code class=\"chk\">", out);
        esc(out, report_str(f, "check", "?"));
        fputs("</code> ", out);
        where(out, base, f);
        fputs(" ", out);
        esc(out, report_str(f, "message", ""));
        fputs("</div>", out);
    }
}

static void scenario_section(FILE *out, const json_t *sc, size_t i)
{
    const char *v = verdict_of(sc);
    fprintf(out, "<details class=\"sc %s\" id=\"s%zu\"%s><summary>", status_class(v), i, is_bad(sc) ? " open" : "");
    badge(out, v);
    fputs(" <span class=\"sn\">", out);
    esc(out, report_str(sc, "name", "?"));
    fputs("</span> <span class=\"sf\">", out);
    esc(out, report_str(sc, "file", ""));
    fputs("</span><span class=\"st\">", out);
    seconds(out, report_num(sc, "duration_s", NAN));
    fputs("</span></summary><div class=\"sb\">", out);
    static const char *const calls[][2] = {{"error", "Could not run: "}, {"analysis_error", "Capture not analyzed: "}};
    for (size_t k = 0; k < 2; k++) {
        const char *e = report_str(sc, calls[k][0], NULL);
        if (e) {
            fprintf(out, "<div class=\"call\">%s", calls[k][1]);
            esc(out, e);
            fputs("</div>", out);
        }
    }
    fputs("<p class=\"facts\">", out);
    static const char *const facts[] = {"run", "role", "profile"};
    for (size_t k = 0; k < sizeof facts / sizeof *facts; k++) {
        const char *fact = report_str(sc, facts[k], NULL);
        if (fact) {
            fprintf(out, "<span><i>%s</i>", facts[k]);
            esc(out, fact);
            fputs("</span>", out);
        }
    }
    fprintf(out, "<span><i>steps</i>%lld run, %lld skipped</span>", report_int(sc, "steps_run", 0),
            report_int(sc, "steps_skipped", 0));
    json_t *caps = json_object_get(sc, "captures");
    static const char *const sides[][2] = {{"sut", "SUT capture"}, {"peer", "peer capture"}};
    for (size_t k = 0; k < 2; k++) {
        const char *fact = report_str(caps, sides[k][0], NULL);
        if (fact) {
            fprintf(out, "<span><i>%s</i><span class=\"mono sm\">", sides[k][1]);
            esc(out, fact);
            fputs("</span></span>", out);
        }
    }
    fputs("</p>", out);
    impairment_section(out, sc);
    failures_section(out, sc, i);
    checks_section(out, sc);
    transcript_section(out, sc, i);
    windows_section(out, sc);
    streams_section(out, sc);
    baseline_section(out, sc);
    sut_section(out, sc);
    fputs("</div></details>", out);
}

/* The scenario section a rubric's evidence names (by file stem), -1 none. */
static long long scenario_index(const json_t *report, const char *stem)
{
    size_t i;
    json_t *sc;
    json_array_foreach(json_object_get(report, "scenarios"), i, sc)
    {
        const char *file = report_str(sc, "file", "");
        const char *b = strrchr(file, '/');
        b = b ? b + 1 : file;
        size_t n = strlen(stem);
        if (strncmp(b, stem, n) == 0 && strcmp(b + n, ".rtsp") == 0)
            return (long long)i;
    }
    return -1;
}

/* `rtsp-harness grade`: the points, what the grader found, and per item
 * the verdict with, for a lost one, why, what to learn, and the evidence. */
static void grade_section(FILE *out, const json_t *report)
{
    json_t *g = json_object_get(report, "grade");
    if (!json_is_object(g))
        return;
    json_t *sub = json_object_get(g, "submission");
    fputs("<section class=\"grade\"><h2>Grade</h2><div class=\"counts\">", out);
    double pts = report_num(g, "points", NAN), max = report_num(g, "max", NAN);
    double bonus = report_num(g, "bonus", 0), max_bonus = report_num(g, "max_bonus", 0);
    const char *cls = isfinite(pts) && isfinite(max) && pts >= max ? "pass" : "fail";
    fprintf(out, "<div class=\"cnt %s\"><b>", cls);
    num(out, pts, pts == floor(pts) ? 0 : 1);
    fputs("</b><span>of ", out);
    num(out, max, max == floor(max) ? 0 : 1);
    fputs(" points</span></div>", out);
    if (max_bonus > 0) {
        fputs("<div class=\"cnt other\"><b>+", out);
        num(out, bonus, bonus == floor(bonus) ? 0 : 1);
        fputs("</b><span>bonus of ", out);
        num(out, max_bonus, 0);
        fputs("</span></div>", out);
    }
    fputs("</div><dl class=\"meta\">", out);
    meta_row(out, "submission", report_str(sub, "name", NULL));
    meta_row(out, "rubric", report_str(g, "rubric", NULL));
    if (report_str(sub, "dialect", NULL)) {
        fputs("<dt>request dialect</dt><dd>", out);
        esc(out, report_str(sub, "dialect", ""));
        fputs(" <span class=\"mu\">(", out);
        esc(out, report_str(sub, "dialect_why", ""));
        fputs(")</span></dd>", out);
    }
    meta_row(out, "entry point", report_str(sub, "entry", NULL));
    meta_row(out, "command", report_str(sub, "command", NULL));
    meta_row(out, "display", report_str(sub, "display", NULL));
    meta_row(out, "movie", report_str(sub, "movie", NULL));
    meta_row(out, "problem", report_str(sub, "problem", NULL));
    meta_row(out, "missing modules", report_str(sub, "missing_modules", NULL));
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(sub, "notes"), i, n) meta_row(out, "note", json_string_value(n));
    fputs("</dl>", out);
    const char *log = report_str(sub, "compile_log", NULL);
    if (log) {
        fputs("<details><summary>compiler output</summary><pre>", out);
        esc(out, log);
        fputs("</pre></details>", out);
    }
    fputs("<div class=\"tw\"><table class=\"items\"><tr><th>result</th><th>item</th><th>what is graded</th>"
          "<th class=\"n\">points</th></tr>",
          out);
    json_t *it;
    json_array_foreach(json_object_get(g, "items"), i, it)
    {
        const char *st = report_str(it, "status", "fail");
        bool lost = strcmp(st, "pass") != 0;
        fprintf(out, "<tr class=\"%s\"><td>", lost ? "lost" : "");
        badge(out, strcmp(st, "partial") == 0 ? "partial" : st);
        fputs("</td><td><code>", out);
        esc(out, report_str(it, "id", "?"));
        fputs("</code>", out);
        if (report_bool(it, "bonus", false))
            fputs(" <span class=\"mu sm\">bonus</span>", out);
        fputs("</td><td>", out);
        esc(out, report_str(it, "title", ""));
        if (lost) {
            size_t k;
            json_t *r;
            json_array_foreach(json_object_get(it, "reasons"), k, r)
            {
                fputs("<div class=\"why\">", out);
                esc(out, json_string_value(r));
                fputs("</div>", out);
            }
            const char *hint = report_str(it, "hint", NULL);
            if (hint) {
                fputs("<div class=\"hint\"><b>What to fix:</b> ", out);
                esc(out, hint);
                const char *rfc = report_str(it, "rfc", NULL);
                if (rfc) {
                    fputs(" <span class=\"mu\">(", out);
                    esc(out, rfc);
                    fputs(")</span>", out);
                }
                fputs("</div>", out);
            }
            json_t *e;
            json_array_foreach(json_object_get(it, "evidence"), k, e)
            {
                fputs("<div class=\"ev\">", out);
                long long si = scenario_index(report, report_str(e, "scenario", ""));
                if (si >= 0)
                    fprintf(out, "<a href=\"#s%lld\">", si);
                esc(out, report_str(e, "scenario", "?"));
                long long line = report_int(e, "line", 0);
                if (line > 0)
                    fprintf(out, ":%lld", line);
                if (si >= 0)
                    fputs("</a>", out);
                fputs(" <code class=\"chk\">", out);
                esc(out, report_str(e, "check", "?"));
                fputs("</code> ", out);
                esc(out, report_str(e, "message", ""));
                const char *pcap = report_str(e, "pcap", NULL);
                long long frame = report_int(e, "frame", 0);
                if (pcap && frame > 0) {
                    fputs(" <span class=\"mono\">", out);
                    esc(out, pcap);
                    fprintf(out, "</span> frame %lld", frame);
                }
                fputs("</div>", out);
            }
        }
        fputs("</td><td class=\"n\">", out);
        double p = report_num(it, "points", NAN), m = report_num(it, "max", NAN);
        num(out, p, p == floor(p) ? 0 : 1);
        fputs(" / ", out);
        num(out, m, m == floor(m) ? 0 : 1);
        fputs("</td></tr>", out);
    }
    fputs("</table></div></section>", out);
}

static int page(FILE *out, const json_t *report)
{
    json_t *run = json_object_get(report, "run");
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
          "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
          "<meta name=\"generator\" content=\"rtsp-harness\"><title>",
          out);
    esc(out, report_str(run, "name", "run"));
    fprintf(out, " &middot; rtsp-harness</title><style>\n%s</style></head><body>", page_css);
    page_header(out, report);
    fputs("<main>", out);
    grade_section(out, report);
    summary(out, report);
    json_t *scs = json_object_get(report, "scenarios");
    if (json_array_size(scs))
        fputs("<h2>Details</h2>", out);
    size_t i;
    json_t *sc;
    json_array_foreach(scs, i, sc) scenario_section(out, sc, i);
    fputs("</main><footer><p>Captures: <span class=\"mono\">", out);
    esc(out, report_str(run, "captures", "?"));
    fputs("</span> (each scenario's pcaps are named in its section; open them in Wireshark at the frame "
          "given).</p><p>Re-render this page from the JSON beside it: <code>rtsp-harness report html "
          "report.json</code>; the terminal summary: <code>rtsp-harness report report.json</code>.</p><p>",
          out);
    esc(out, report_str(run, "tool", "rtsp-harness"));
    fputs(" ", out);
    esc(out, report_str(run, "version", ""));
    fputs("</p></footer><div id=\"tools\" hidden><button type=\"button\" data-a=\"open\">Expand all</button>"
          "<button type=\"button\" data-a=\"close\">Collapse all</button></div>",
          out);
    fprintf(out, "<script>%s</script></body></html>\n", page_script);
    return 0;
}

int report_html_write(const json_t *report, const char *path, char *err, size_t cap)
{
    return report_write_atomic(path, page, report, err, cap);
}
