/* Unit tests of the netem-syntax impairment parser and formatter, the loss
 * models' stationary loss rates and the exact binomial interval
 * (harness/wire/impair.c). */
#include <math.h>
#include <time.h>

#include "check.h"
#include "impair.h"

static struct wire_error perr;

static int parse(const char *text, struct impair_spec *s)
{
    perr.offset = 0;
    perr.reason = NULL;
    return impair_parse(text, strlen(text), s, &perr);
}

static bool spec_eq(const struct impair_spec *a, const struct impair_spec *b)
{
    return a->limit_packets == b->limit_packets && a->delay_us == b->delay_us &&
           a->jitter_us == b->jitter_us && a->delay_corr_ppm == b->delay_corr_ppm &&
           a->dist == b->dist && a->dist_given == b->dist_given && a->loss_model == b->loss_model &&
           a->loss_ppm == b->loss_ppm && a->loss_corr_ppm == b->loss_corr_ppm &&
           a->ge_r_ppm == b->ge_r_ppm && a->ge_1h_ppm == b->ge_1h_ppm && a->ge_1k_ppm == b->ge_1k_ppm &&
           a->st_p13_ppm == b->st_p13_ppm && a->st_p31_ppm == b->st_p31_ppm &&
           a->st_p32_ppm == b->st_p32_ppm && a->st_p23_ppm == b->st_p23_ppm &&
           a->st_p14_ppm == b->st_p14_ppm && a->ecn == b->ecn && a->corrupt_ppm == b->corrupt_ppm &&
           a->corrupt_corr_ppm == b->corrupt_corr_ppm && a->duplicate_ppm == b->duplicate_ppm &&
           a->duplicate_corr_ppm == b->duplicate_corr_ppm && a->reorder_ppm == b->reorder_ppm &&
           a->reorder_corr_ppm == b->reorder_corr_ppm && a->reorder_gap == b->reorder_gap &&
           a->rate_bps == b->rate_bps && a->rate_packet_overhead == b->rate_packet_overhead &&
           a->rate_cell_size == b->rate_cell_size && a->rate_cell_overhead == b->rate_cell_overhead &&
           a->slot_min_us == b->slot_min_us && a->slot_max_us == b->slot_max_us &&
           a->slot_packets == b->slot_packets && a->slot_bytes == b->slot_bytes && a->seed == b->seed &&
           a->seed_given == b->seed_given;
}

/* Parses text, formats it, and checks the text is `canonical` and that the
 * canonical text parses back to the same struct. */
static void check_round_trip(const char *text, const char *canonical)
{
    struct impair_spec a, b;
    char buf[512];
    int rc = parse(text, &a);
    if (rc != 0) {
        fprintf(stderr, "  '%s' failed at %zu: %s\n", text, perr.offset, perr.reason);
        CHECK_EQ_INT(rc, 0);
        return;
    }
    int n = impair_format(&a, buf, sizeof buf);
    CHECK_EQ_INT(n, (long long)strlen(canonical));
    CHECK_STR(buf, strlen(buf), canonical);
    CHECK_EQ_INT(parse(buf, &b), 0);
    CHECK(spec_eq(&a, &b));
}

static void every_keyword_round_trips(void)
{
    static const char *const canonical[] = {
        "",
        "limit 500",
        "delay 30ms",
        "delay 30ms 10ms",
        "delay 30ms 10ms 25%",
        "delay 100ms 20ms distribution normal",
        "delay 100ms 20ms distribution pareto",
        "delay 100ms 20ms distribution paretonormal",
        "delay 100ms 20ms distribution uniform",
        "delay 1s 1500us",
        "loss 2%",
        "loss 0%",
        "loss 5% 25%",
        "loss 0.0001%",
        "loss 12.345%",
        "loss gemodel 1%",
        "loss gemodel 1% 10%",
        "loss gemodel 1% 10% 70%",
        "loss gemodel 1% 10% 70% 0.1%",
        "loss gemodel 1% 99% 100% 0.1%",
        "loss state 5%",
        "loss state 5% 50%",
        "loss state 5% 50% 10%",
        "loss state 5% 50% 10% 40%",
        "loss state 5% 50% 10% 40% 1%",
        "loss 3% ecn",
        "corrupt 0.1%",
        "corrupt 1% 20%",
        "duplicate 1%",
        "duplicate 1% 50%",
        "delay 10ms reorder 25%",
        "delay 10ms reorder 25% 50%",
        "delay 10ms reorder 25% 50% gap 5",
        "delay 10ms reorder 100% gap 5",
        "rate 2mbit",
        "rate 1500kbit",
        "rate 10gbit",
        "rate 1234bit",
        "rate 5kbit 20",
        "rate 5kbit 20 100",
        "rate 5kbit 20 100 5",
        "rate 5kbit -14",
        "rate 5kbit 0 48 5",
        "slot 800us",
        "slot 1ms 5ms",
        "slot 1ms 5ms packets 4",
        "slot 1ms 5ms bytes 3000",
        "slot 1ms packets 4 bytes 3000",
        "seed 0",
        "seed 18446744073709551615",
        "limit 2000 delay 40ms 10ms loss 5% 25% duplicate 1% reorder 10% rate 2mbit seed 7",
        "delay 30ms 10ms loss 2% seed 7",
    };
    for (size_t i = 0; i < sizeof canonical / sizeof canonical[0]; i++)
        check_round_trip(canonical[i], canonical[i]);
}

static void other_spellings_format_canonically(void)
{
    check_round_trip("none", "");
    check_round_trip("   ", "");
    check_round_trip("loss random 5%", "loss 5%");
    check_round_trip("loss 5", "loss 5%");
    check_round_trip("delay 30000", "delay 30ms");
    check_round_trip("delay 30000us", "delay 30ms");
    check_round_trip("delay 30MSEC", "delay 30ms");
    check_round_trip("delay 1.5ms", "delay 1500us");
    check_round_trip("delay 0.25s 10msecs", "delay 250ms 10ms");
    check_round_trip("delay 2sec", "delay 2s");
    check_round_trip("rate 250kbps", "rate 2mbit");
    check_round_trip("rate 1kibit", "rate 1024bit");
    check_round_trip("rate 1.5mbit", "rate 1500kbit");
    check_round_trip("rate 2000000", "rate 2mbit");
    check_round_trip("loss gemodel 1% 99% 100% 0%", "loss gemodel 1%");
    check_round_trip("loss state 5% 95% 0% 100% 0%", "loss state 5%");
    check_round_trip("loss .5%", "loss 0.5%");
    check_round_trip("loss 5.%", "loss 5%");
    check_round_trip("slot 2ms 2ms", "slot 2ms");
    check_round_trip("seed 7 loss 1%\tdelay\n5ms", "delay 5ms loss 1% seed 7");
    check_round_trip("gap 3 reorder 10% delay 1ms", "delay 1ms reorder 10% gap 3");
    check_round_trip("delay 10ms 0 25%", "delay 10ms 0us 25%");
}

static void parsed_values_are_netems(void)
{
    struct impair_spec s;
    CHECK_EQ_INT(parse("delay 40ms 10ms 25% loss 5% 25% reorder 10% duplicate 1% rate 2mbit", &s), 0);
    CHECK_EQ_INT(s.delay_us, 40000);
    CHECK_EQ_INT(s.jitter_us, 10000);
    CHECK_EQ_INT(s.delay_corr_ppm, 250000);
    CHECK_EQ_INT(s.dist, IMPAIR_DIST_UNIFORM);
    CHECK(!s.dist_given);
    CHECK_EQ_INT(s.loss_model, IMPAIR_LOSS_RANDOM);
    CHECK_EQ_INT(s.loss_ppm, 50000);
    CHECK_EQ_INT(s.loss_corr_ppm, 250000);
    CHECK_EQ_INT(s.reorder_ppm, 100000);
    CHECK_EQ_INT(s.reorder_gap, 0);
    CHECK_EQ_INT(s.duplicate_ppm, 10000);
    CHECK_EQ_INT(s.rate_bps, 2000000);
    CHECK(!s.seed_given);
    CHECK_EQ_INT(s.limit_packets, 0);

    /* tc's gemodel defaults: r = 1 - p, 1-h = 100%, 1-k = 0 */
    CHECK_EQ_INT(parse("loss gemodel 2%", &s), 0);
    CHECK_EQ_INT(s.loss_model, IMPAIR_LOSS_GEMODEL);
    CHECK_EQ_INT(s.loss_ppm, 20000);
    CHECK_EQ_INT(s.ge_r_ppm, 980000);
    CHECK_EQ_INT(s.ge_1h_ppm, 1000000);
    CHECK_EQ_INT(s.ge_1k_ppm, 0);
    CHECK_EQ_INT(parse("loss gemodel 2% 30% 80% 1%", &s), 0);
    CHECK_EQ_INT(s.ge_r_ppm, 300000);
    CHECK_EQ_INT(s.ge_1h_ppm, 800000);
    CHECK_EQ_INT(s.ge_1k_ppm, 10000);

    /* tc's 4-state defaults: p31 = 1 - p13, p32 = 0, p23 = 100%, p14 = 0 */
    CHECK_EQ_INT(parse("loss state 3%", &s), 0);
    CHECK_EQ_INT(s.loss_model, IMPAIR_LOSS_STATE);
    CHECK_EQ_INT(s.st_p13_ppm, 30000);
    CHECK_EQ_INT(s.st_p31_ppm, 970000);
    CHECK_EQ_INT(s.st_p32_ppm, 0);
    CHECK_EQ_INT(s.st_p23_ppm, 1000000);
    CHECK_EQ_INT(s.st_p14_ppm, 0);

    CHECK_EQ_INT(parse("rate 1mbps -14 48 5 slot 1ms 3ms packets 8 bytes 9000 seed 42 ecn loss 1%", &s), 0);
    CHECK_EQ_INT(s.rate_bps, 8000000);
    CHECK_EQ_INT(s.rate_packet_overhead, -14);
    CHECK_EQ_INT(s.rate_cell_size, 48);
    CHECK_EQ_INT(s.rate_cell_overhead, 5);
    CHECK_EQ_INT(s.slot_min_us, 1000);
    CHECK_EQ_INT(s.slot_max_us, 3000);
    CHECK_EQ_INT(s.slot_packets, 8);
    CHECK_EQ_INT(s.slot_bytes, 9000);
    CHECK(s.seed_given);
    CHECK_EQ_INT(s.seed, 42);
    CHECK(s.ecn);

    CHECK_EQ_INT(parse("delay 5ms 1ms distribution pareto limit 10", &s), 0);
    CHECK_EQ_INT(s.dist, IMPAIR_DIST_PARETO);
    CHECK(s.dist_given);
    CHECK_EQ_INT(s.limit_packets, 10);

    /* Not NUL-terminated: only len bytes are read. */
    const char part[] = "loss 5%garbage";
    CHECK_EQ_INT(impair_parse(part, 7, &s, &perr), 0);
    CHECK_EQ_INT(s.loss_ppm, 50000);
    CHECK_EQ_INT(impair_parse(NULL, 0, &s, &perr), 0);
    CHECK(impair_is_none(&s));
}

/* Each bad spec fails at the given offset with a reason holding `word`. */
static void check_error(const char *text, size_t offset, const char *word)
{
    struct impair_spec s;
    int rc = parse(text, &s);
    CHECK_EQ_INT(rc, WIRE_ERROR);
    if (rc != WIRE_ERROR) {
        fprintf(stderr, "  '%s' was accepted\n", text);
        return;
    }
    CHECK(perr.reason != NULL);
    if (perr.offset != offset || !perr.reason || !strstr(perr.reason, word))
        fprintf(stderr, "  '%s': offset %zu reason '%s', expected offset %zu and '%s'\n", text,
                perr.offset, perr.reason ? perr.reason : "(null)", offset, word);
    CHECK_EQ_INT(perr.offset, offset);
    CHECK(perr.reason && strstr(perr.reason, word));
}

static void errors_name_the_offset_and_the_word(void)
{
    check_error("lose 5%", 0, "unknown keyword 'lose'");
    check_error("delay 10ms lose 5%", 11, "unknown keyword 'lose'");
    check_error("delay", 0, "delay needs a time");
    check_error("delay loss", 6, "delay needs a time, got 'loss'");
    check_error("delay 10xs", 8, "unknown time unit in '10xs'");
    check_error("delay 0.5us", 6, "finer than a microsecond");
    check_error("delay 0.0001ms", 6, "finer than a microsecond");
    check_error("delay 5000s", 6, "too large");
    check_error("loss 101%", 5, "loss '101%' is above 100%");
    check_error("loss 5%%", 6, "'5%%' is not a percentage");
    check_error("loss -5%", 5, "loss needs random, state, gemodel or a percentage, got '-5%'");
    check_error("loss 0.00001%", 5, "finer than 0.0001%");
    check_error("loss 5% 200%", 8, "loss correlation '200%' is above 100%");
    check_error("loss", 0, "loss needs random, state, gemodel or a percentage");
    check_error("loss gemodel", 5, "gemodel needs a percentage p");
    check_error("loss gemodel 1% 10% 170%", 20, "loss gemodel 1-h '170%' is above 100%");
    check_error("loss state 60% 50% 10% 40% 50%", 5, "p13 + p14 is above 100%");
    check_error("loss state 5% 60% 50%", 5, "p31 + p32 is above 100%");
    check_error("loss 1% delay 1ms loss 2%", 18, "'loss' given twice (first at offset 0)");
    check_error("delay 1ms 1ms distribution gaussian", 27, "unknown distribution 'gaussian'");
    check_error("delay 1ms distribution normal", 10, "distribution needs a delay with a jitter");
    check_error("reorder 10%", 0, "reorder needs a delay");
    check_error("delay 1ms gap 5", 10, "gap needs a reorder percentage");
    check_error("delay 1ms reorder 5% gap 0", 25, "gap must be at least 1");
    check_error("ecn delay 1ms", 0, "ecn needs a loss model");
    check_error("rate 2mbits", 6, "rate: unknown unit in '2mbits'");
    check_error("rate 0mbit", 5, "must be above 0");
    check_error("rate 0.1bit", 5, "not a whole number of bits");
    check_error("rate fast", 5, "rate needs a rate such as 2mbit, got 'fast'");
    check_error("rate 1mbit -", 11, "unknown keyword '-'");
    check_error("limit 0", 6, "limit must be at least 1");
    check_error("limit many", 6, "limit: 'many' is not a whole number");
    check_error("limit 4294967296", 6, "not a whole number up to 4294967295");
    check_error("seed 18446744073709551616", 5, "seed: '18446744073709551616' is not a whole number");
    check_error("slot 5ms 1ms", 9, "slot maximum delay is below the minimum delay");
    check_error("slot 0", 0, "slot needs a delay above 0");
    check_error("slot 1ms packets 0", 17, "slot packets must be at least 1");
    check_error("slot 1ms packets 2 packets 3", 19, "slot packets given twice");
    check_error("none delay 1ms", 5, "'none' cannot be combined with 'delay'");
    check_error("delay 1ms none", 10, "'none' cannot be combined");
    check_error("delay 10ms,", 8, "unknown time unit in '10ms,'");
    check_error("loss 5%\x01", 6, "'5%?' is not a percentage");
    check_error("Delay 10ms", 0, "unknown keyword 'Delay'");
}

static void format_reports_a_small_buffer(void)
{
    struct impair_spec s;
    char buf[64];
    CHECK_EQ_INT(parse("delay 30ms 10ms loss 2% seed 7", &s), 0);
    CHECK_EQ_INT(impair_format(&s, buf, sizeof buf), 30);
    CHECK_EQ_INT(impair_format(&s, buf, 30), -1);
    CHECK_STR(buf, strlen(buf), "");
    CHECK_EQ_INT(impair_format(&s, buf, 31), 30);
    CHECK_EQ_INT(impair_format(&s, buf, 0), -1);
}

static void none_means_nothing_changes(void)
{
    struct impair_spec s;
    static const char *const none[] = {"", "none", "limit 50", "seed 3", "loss 0%",
                                        "loss gemodel 0%", "loss state 0%", "delay 0"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        CHECK_EQ_INT(parse(none[i], &s), 0);
        CHECK(impair_is_none(&s));
    }
    static const char *const some[] = {"delay 1us", "loss 0.0001%", "loss gemodel 0% 10% 100% 1%",
                                        "loss state 0% 100% 0% 100% 1%", "corrupt 1%",
                                        "duplicate 1%", "rate 1gbit", "slot 1ms", "delay 0 1ms"};
    for (size_t i = 0; i < sizeof some / sizeof some[0]; i++) {
        CHECK_EQ_INT(parse(some[i], &s), 0);
        CHECK(!impair_is_none(&s));
    }
}

static double expected(const char *text)
{
    struct impair_spec s;
    if (parse(text, &s) != 0) {
        fprintf(stderr, "  '%s' failed: %s\n", text, perr.reason);
        return -1;
    }
    return impair_expected_loss(&s);
}

#define CHECK_NEAR(a, b) CHECK(fabs((a) - (b)) < 1e-12)

static void expected_loss_is_the_stationary_rate(void)
{
    CHECK_NEAR(expected(""), 0);
    CHECK_NEAR(expected("loss 10%"), 0.1);
    CHECK_NEAR(expected("loss 10% 25%"), 0.1);
    CHECK_NEAR(expected("loss 100%"), 1);
    /* Gilbert-Elliott: pi_bad = p / (p + r); loss = pi_good (1-k) + pi_bad (1-h) */
    CHECK_NEAR(expected("loss gemodel 1%"), 0.01 / (0.01 + 0.99));
    CHECK_NEAR(expected("loss gemodel 5% 20%"), 0.05 / 0.25);
    CHECK_NEAR(expected("loss gemodel 5% 20% 50%"), 0.2 * 0.5);
    CHECK_NEAR(expected("loss gemodel 5% 20% 50% 1%"), 0.8 * 0.01 + 0.2 * 0.5);
    CHECK_NEAR(expected("loss gemodel 0% 20% 50% 1%"), 0.01);   /* never leaves good */
    CHECK_NEAR(expected("loss gemodel 5% 0% 50% 1%"), 0.5);     /* never leaves bad */
    /* 4-state, Bernoulli case: p13 alone with p31 = 1 - p13 loses p13 */
    CHECK_NEAR(expected("loss state 5%"), 0.05);
    /* two states: pi3 / (pi1 + pi3) with pi3 = p13 / p31 */
    CHECK_NEAR(expected("loss state 5% 50%"), (0.05 / 0.5) / (1 + 0.05 / 0.5));
    /* full model: pi1 = 1, pi3 = p13/p31, pi2 = p32 pi3 / p23, pi4 = p14 */
    {
        double p13 = 0.05, p31 = 0.5, p32 = 0.1, p23 = 0.4, p14 = 0.01;
        double pi3 = p13 / p31, pi2 = p32 * pi3 / p23, pi4 = p14;
        CHECK_NEAR(expected("loss state 5% 50% 10% 40% 1%"), (pi3 + pi4) / (1 + pi2 + pi3 + pi4));
    }
    CHECK_NEAR(expected("loss state 0% 100% 0% 100% 2%"), 0.02 / 1.02); /* isolated losses only */
    CHECK_NEAR(expected("loss state 5% 0%"), 1);                         /* burst never ends */
    CHECK_NEAR(expected("loss state 5% 0% 20% 30%"), 0.3 / 0.5);         /* between 2 and 3 */
    CHECK_NEAR(expected("loss state 5% 50% 10% 0%"), 0);                 /* absorbed in 2 */
}

static void binomial_interval_is_exact(void)
{
    /* Reference values from the exact binomial distribution (Python's
     * math.comb with fractions): lo is the largest k with P(X < k) <= a/2,
     * hi the smallest k with P(X > k) <= a/2. */
    static const struct {
        uint64_t n;        /* trials */
        double p;          /* probability */
        double conf;       /* confidence */
        uint64_t lo, hi;   /* expected interval */
    } cases[] = {
        {1000, 0.1, 0.99, 76, 125},
        {5000, 0.1, 0.99, 446, 555},
        {100, 0.02, 0.99, 0, 6},
        {20, 0.5, 0.95, 6, 14},
        {10, 0.01, 0.99, 0, 1},
        {2000, 0.3, 0.99, 548, 653},
        {1000, 0.1, 0.95, 82, 119},
        {50, 0.05, 0.99, 0, 7},
        {1, 0.5, 0.99, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t lo = 999999, hi = 999999;
        impair_binomial_interval(cases[i].n, cases[i].p, cases[i].conf, &lo, &hi);
        if (lo != cases[i].lo || hi != cases[i].hi)
            fprintf(stderr, "  n=%llu p=%g c=%g: [%llu, %llu], expected [%llu, %llu]\n",
                    (unsigned long long)cases[i].n, cases[i].p, cases[i].conf, (unsigned long long)lo,
                    (unsigned long long)hi, (unsigned long long)cases[i].lo,
                    (unsigned long long)cases[i].hi);
        CHECK_EQ_INT(lo, cases[i].lo);
        CHECK_EQ_INT(hi, cases[i].hi);
    }
    uint64_t lo, hi;
    impair_binomial_interval(0, 0.5, 0.99, &lo, &hi);
    CHECK(lo == 0 && hi == 0);
    impair_binomial_interval(100, 0, 0.99, &lo, &hi);
    CHECK(lo == 0 && hi == 0);
    impair_binomial_interval(100, 1, 0.99, &lo, &hi);
    CHECK(lo == 100 && hi == 100);
    impair_binomial_interval(100, 0.3, 1.0, &lo, &hi);
    CHECK(lo == 0 && hi == 100);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void binomial_interval_is_fast_for_a_million(void)
{
    uint64_t lo, hi;
    double t0 = now_ms();
    impair_binomial_interval(1000000, 0.5, 0.99, &lo, &hi);
    double dt = now_ms() - t0;
    /* symmetric around 500000, about 2.576 sigma (sigma = 500) wide */
    CHECK_EQ_INT(lo + hi, 1000000);
    CHECK(lo > 498700 && lo < 498720);
    impair_binomial_interval(1000000, 0.1, 0.99, &lo, &hi);
    CHECK(lo < 100000 && hi > 100000 && hi - lo > 1500 && hi - lo < 1560);
    impair_binomial_interval(1000000, 1e-7, 0.99, &lo, &hi);
    CHECK(lo == 0 && hi <= 2);
    printf("     n=10^6 interval computed in %.3f ms\n", dt);
    CHECK(dt < 5);
}

static void hand_made_specs_are_checked_like_parsed_ones(void)
{
#define TEXT "loss state 1% 30% 5% 2% 1% delay 10ms slot 5ms 10ms"
    char err[200];
    struct impair_spec s;
    struct wire_error we;
    CHECK_EQ_INT(impair_parse(TEXT, strlen(TEXT), &s, &we), 0);
    CHECK_EQ_INT(impair_check(&s, err, sizeof err), 0);
    struct impair_spec bad = s;
    bad.duplicate_ppm = IMPAIR_PPM + 1;
    CHECK_EQ_INT(impair_check(&bad, err, sizeof err), -1);
    CHECK(strstr(err, "duplicate 1000001 ppm is above 100%") != NULL);
    bad = s;
    bad.st_p31_ppm = 800000;
    bad.st_p32_ppm = 300000;
    CHECK_EQ_INT(impair_check(&bad, err, sizeof err), -1);
    CHECK(strstr(err, "p31 + p32") != NULL);
    bad = s;
    bad.slot_max_us = 1000;
    CHECK_EQ_INT(impair_check(&bad, err, sizeof err), -1);
    CHECK(strstr(err, "slot maximum delay 1000 us is below the minimum delay 5000 us") != NULL);
    bad = s;
    bad.slot_max_us = 0; /* hand-made: max = min */
    CHECK_EQ_INT(impair_check(&bad, NULL, 0), 0);
    bad.loss_model = (enum impair_loss_model)9;
    CHECK_EQ_INT(impair_check(&bad, NULL, 0), -1);
#undef TEXT
}

int main(void)
{
    RUN(every_keyword_round_trips);
    RUN(other_spellings_format_canonically);
    RUN(parsed_values_are_netems);
    RUN(errors_name_the_offset_and_the_word);
    RUN(format_reports_a_small_buffer);
    RUN(none_means_nothing_changes);
    RUN(expected_loss_is_the_stationary_rate);
    RUN(binomial_interval_is_exact);
    RUN(binomial_interval_is_fast_for_a_million);
    RUN(hand_made_specs_are_checked_like_parsed_ones);
    CHECK_DONE();
}
