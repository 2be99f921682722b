/* Unit tests of the shared slice and byte-order helpers in harness/wire/wire.c. */
#include "check.h"
#include "wire.h"

static struct wire_str S(const char *s)
{
    struct wire_str w = {s, strlen(s)};
    return w;
}

static void str_eq_matches_exact_bytes_only(void)
{
    CHECK(wire_str_eq(S("CSeq"), "CSeq"));
    CHECK(!wire_str_eq(S("CSeq"), "cseq"));
    CHECK(!wire_str_eq(S("CSeq"), "CSe"));
    CHECK(!wire_str_eq(S("CSe"), "CSeq"));
    struct wire_str empty = {NULL, 0};
    CHECK(wire_str_eq(empty, ""));
    CHECK(!wire_str_eq(empty, "x"));
    /* A slice is compared by its length, not up to a NUL. */
    struct wire_str prefix = {"Session: 1", 7};
    CHECK(wire_str_eq(prefix, "Session"));
}

static void str_caseeq_ignores_ascii_case(void)
{
    CHECK(wire_str_caseeq(S("Content-Base"), "content-base"));
    CHECK(wire_str_caseeq(S("RTSP"), "rtsp"));
    CHECK(!wire_str_caseeq(S("RTSP"), "rtsx"));
    CHECK(!wire_str_caseeq(S("RTSP"), "rtsp/"));
    CHECK(wire_str_caseeq(S(""), ""));
    /* Only letters fold: '@' (0x40) is not '`' (0x60). */
    CHECK(!wire_str_caseeq(S("@"), "`"));
}

static void trim_removes_spaces_and_tabs_at_both_ends(void)
{
    struct wire_str t = wire_str_trim(S(" \t value 1\t "));
    CHECK_STR(t.ptr, t.len, "value 1");
    t = wire_str_trim(S("   "));
    CHECK_EQ_INT(t.len, 0);
    t = wire_str_trim(S("x"));
    CHECK_STR(t.ptr, t.len, "x");
    /* CR is not whitespace to trim: a parser must see it. */
    t = wire_str_trim(S("x\r"));
    CHECK_EQ_INT(t.len, 2);
}

static void parse_u64_accepts_decimal_up_to_max(void)
{
    uint64_t v = 7;
    CHECK(wire_parse_u64(S("0"), 10, &v));
    CHECK_EQ_INT(v, 0);
    CHECK(wire_parse_u64(S("65535"), 65535, &v));
    CHECK_EQ_INT(v, 65535);
    CHECK(!wire_parse_u64(S("65536"), 65535, &v));
    CHECK(wire_parse_u64(S("0000123"), 1000, &v));
    CHECK_EQ_INT(v, 123);
    CHECK(wire_parse_u64(S("18446744073709551615"), UINT64_MAX, &v));
    CHECK(v == UINT64_MAX);
    v = 7;
    CHECK(!wire_parse_u64(S("18446744073709551616"), UINT64_MAX, &v));
    CHECK(!wire_parse_u64(S("99999999999999999999"), UINT64_MAX, &v));
    CHECK_EQ_INT(v, 7); /* untouched on failure */
}

static void parse_bytes_takes_k_m_g_suffixes(void)
{
    uint64_t v = 7;
    CHECK(wire_parse_bytes("0", &v) && v == 0);
    CHECK(wire_parse_bytes("1500", &v) && v == 1500);
    CHECK(wire_parse_bytes("64k", &v) && v == 65536);
    CHECK(wire_parse_bytes("256M", &v) && v == 256ull << 20);
    CHECK(wire_parse_bytes("2G", &v) && v == 2ull << 30);
    CHECK(wire_parse_bytes("17179869183G", &v) && v == 17179869183ull << 30);
    v = 7;
    CHECK(!wire_parse_bytes("17179869184G", &v)); /* 2^64 */
    CHECK(!wire_parse_bytes("18446744073709551616", &v));
    CHECK(!wire_parse_bytes("", &v));
    CHECK(!wire_parse_bytes("M", &v));
    CHECK(!wire_parse_bytes("-1", &v));
    CHECK(!wire_parse_bytes("10MB", &v));
    CHECK(!wire_parse_bytes("1 M", &v));
    CHECK(!wire_parse_bytes("1T", &v));
    CHECK_EQ_INT(v, 7); /* untouched on failure */
}

static void parse_u64_rejects_empty_sign_and_junk(void)
{
    uint64_t v = 7;
    CHECK(!wire_parse_u64(S(""), 100, &v));
    CHECK(!wire_parse_u64(S("-1"), 100, &v));
    CHECK(!wire_parse_u64(S("+1"), 100, &v));
    CHECK(!wire_parse_u64(S("1 "), 100, &v));
    CHECK(!wire_parse_u64(S(" 1"), 100, &v));
    CHECK(!wire_parse_u64(S("1a"), 100, &v));
    CHECK(!wire_parse_u64(S("0x10"), 100, &v));
    CHECK(!wire_parse_u64(S("101"), 100, &v));
    CHECK(wire_parse_u64(S("100"), 100, &v));
    CHECK_EQ_INT(v, 100);
}

static void big_endian_round_trips(void)
{
    uint8_t b[4] = {0};
    wire_put_be16(b, 0xbeef);
    CHECK_EQ_INT(b[0], 0xbe);
    CHECK_EQ_INT(b[1], 0xef);
    CHECK_EQ_INT(wire_get_be16(b), 0xbeef);

    memset(b, 0, sizeof(b));
    wire_put_be24(b, 0x123456);
    CHECK_EQ_INT(b[0], 0x12);
    CHECK_EQ_INT(b[2], 0x56);
    CHECK_EQ_INT(b[3], 0); /* a 24-bit store writes three bytes only */
    CHECK_EQ_INT(wire_get_be24(b), 0x123456);
    wire_put_be24(b, 0xabcdef12); /* the top byte is dropped */
    CHECK_EQ_INT(wire_get_be24(b), 0xcdef12);

    wire_put_be32(b, 0xdeadbeef);
    CHECK_EQ_INT(b[0], 0xde);
    CHECK_EQ_INT(b[3], 0xef);
    CHECK(wire_get_be32(b) == 0xdeadbeefu);
    const uint32_t samples[] = {0, 1, 0x7fffffff, 0x80000000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        wire_put_be32(b, samples[i]);
        CHECK(wire_get_be32(b) == samples[i]);
    }
}

static void fail_records_offset_and_reason(void)
{
    struct wire_error e = {0, NULL};
    CHECK_EQ_INT(wire_fail(&e, 17, "bad thing"), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 17);
    CHECK(strcmp(e.reason, "bad thing") == 0);
    CHECK_EQ_INT(wire_fail(NULL, 1, "no sink"), WIRE_ERROR);
}

int main(void)
{
    RUN(str_eq_matches_exact_bytes_only);
    RUN(str_caseeq_ignores_ascii_case);
    RUN(trim_removes_spaces_and_tabs_at_both_ends);
    RUN(parse_u64_accepts_decimal_up_to_max);
    RUN(parse_u64_rejects_empty_sign_and_junk);
    RUN(parse_bytes_takes_k_m_g_suffixes);
    RUN(big_endian_round_trips);
    RUN(fail_records_offset_and_reason);
    CHECK_DONE();
}
