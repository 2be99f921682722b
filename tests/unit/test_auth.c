/* Unit tests for server-side RTSP authentication (harness/server/auth.h):
 * auth_init errors, the Basic and Digest challenges (and stale=TRUE),
 * Basic checks, Digest checks against responses computed here with nettle
 * MD5 (RFC 2617 3.5 vector), stateless nonces (issued, tampered, expired),
 * wrong uri/method/realm/user/password, qop and RFC 2069 forms as ffmpeg,
 * GStreamer and live555 send them. */
#include <nettle/md5.h>

#include "check.h"
#include "rtsp_hdr.h"
#include "server/auth.h"

#define CHECK_REASON(e, s) CHECK_STR((e).reason, (e).reason ? strlen((e).reason) : 0, s)
#define CHECK_WHY(s) CHECK_STR(why, why ? strlen(why) : 0, s)

static struct wire_str S(const char *s) { return rtsp_str(s); }

static const char *const URL = "rtsp://127.0.0.1:8554/movie.Mjpeg";

/* MD5 of a C string in lowercase hex, computed here independently. */
static void md5hex(const char *s, char out[33])
{
    struct md5_ctx c;
    uint8_t d[MD5_DIGEST_SIZE];
    md5_init(&c);
    md5_update(&c, strlen(s), (const uint8_t *)s);
    md5_digest(&c, sizeof(d), d);
    for (size_t i = 0; i < sizeof(d); i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* RFC 2617 request-digest computed the textbook way; qop NULL for RFC 2069. */
static void expected_response(const char *user, const char *realm, const char *pass,
                              const char *method, const char *uri, const char *nonce,
                              const char *nc, const char *cnonce, const char *qop,
                              char out[33])
{
    char buf[1024], ha1[33], ha2[33];
    snprintf(buf, sizeof(buf), "%s:%s:%s", user, realm, pass);
    md5hex(buf, ha1);
    snprintf(buf, sizeof(buf), "%s:%s", method, uri);
    md5hex(buf, ha2);
    if (qop)
        snprintf(buf, sizeof(buf), "%s:%s:%s:%s:%s:%s", ha1, nonce, nc, cnonce, qop, ha2);
    else
        snprintf(buf, sizeof(buf), "%s:%s:%s", ha1, nonce, ha2);
    md5hex(buf, out);
}

static void init_ok(struct auth *a, const char *up, enum auth_scheme scheme, const char *realm)
{
    struct wire_error e = {0, NULL};
    int r = auth_init(a, up, scheme, realm, &e);
    CHECK_EQ_INT(r, 0);
    if (r)
        fprintf(stderr, "auth_init: %s\n", e.reason ? e.reason : "?");
}

/* The nonce of a Digest challenge issued at now, read back with the wire
 * WWW-Authenticate parser. */
static void issue_nonce(const struct auth *a, uint64_t now, char out[64])
{
    char ch[512];
    struct rtsp_challenge c;
    out[0] = '\0';
    int n = auth_challenge(a, now, false, ch, sizeof(ch));
    CHECK(n > 0);
    if (n <= 0)
        return;
    CHECK_EQ_INT(rtsp_parse_www_authenticate((struct wire_str){ch, (size_t)n}, &c, NULL), n);
    CHECK(c.nonce.len > 0 && c.nonce.len < 64);
    if (c.nonce.len == 0 || c.nonce.len >= 64)
        return;
    memcpy(out, c.nonce.ptr, c.nonce.len);
    out[c.nonce.len] = '\0';
}

/* --- auth_init --- */

static void test_init_copies_user_password_realm(void)
{
    struct auth a;
    init_ok(&a, "alice:pa:ss", AUTH_DIGEST, "lab");
    CHECK_STR(a.user, a.user_len, "alice");
    CHECK_STR(a.password, a.password_len, "pa:ss");
    CHECK_STR(a.realm, strlen(a.realm), "lab");
    CHECK_EQ_INT(a.scheme, AUTH_DIGEST);
    init_ok(&a, "bob:", AUTH_BASIC, NULL);
    CHECK_STR(a.user, a.user_len, "bob");
    CHECK_EQ_INT(a.password_len, 0);
    CHECK_STR(a.realm, strlen(a.realm), "rtsp-harness");
    CHECK_EQ_INT(a.scheme, AUTH_BASIC);
}

static void test_init_errors(void)
{
    struct auth a;
    struct wire_error e;
    char longer[300];

    CHECK_EQ_INT(auth_init(&a, NULL, AUTH_BASIC, NULL, &e), WIRE_ERROR);
    CHECK_REASON(e, "no credentials given (expected USER:PASSWORD)");
    CHECK_EQ_INT(auth_init(&a, "alice", AUTH_BASIC, NULL, &e), WIRE_ERROR);
    CHECK_REASON(e, "credentials have no ':' (expected USER:PASSWORD)");
    CHECK_EQ_INT(e.offset, 5);
    CHECK_EQ_INT(auth_init(&a, ":secret", AUTH_DIGEST, NULL, &e), WIRE_ERROR);
    CHECK_REASON(e, "user name is empty");
    CHECK_EQ_INT(auth_init(&a, "", AUTH_DIGEST, NULL, &e), WIRE_ERROR);
    CHECK_REASON(e, "credentials have no ':' (expected USER:PASSWORD)");

    memset(longer, 'u', sizeof(longer));
    longer[AUTH_USER_MAX] = ':';
    longer[AUTH_USER_MAX + 1] = '\0';
    CHECK_EQ_INT(auth_init(&a, longer, AUTH_BASIC, NULL, &e), 0); /* exactly the limit */
    longer[AUTH_USER_MAX] = 'u';
    longer[AUTH_USER_MAX + 1] = ':';
    longer[AUTH_USER_MAX + 2] = '\0';
    CHECK_EQ_INT(auth_init(&a, longer, AUTH_BASIC, NULL, &e), WIRE_ERROR);
    CHECK_REASON(e, "user name is longer than 128 bytes");

    memset(longer, 'p', sizeof(longer));
    memcpy(longer, "u:", 2);
    longer[2 + AUTH_PASSWORD_MAX] = '\0';
    CHECK_EQ_INT(auth_init(&a, longer, AUTH_BASIC, NULL, &e), 0);
    longer[2 + AUTH_PASSWORD_MAX] = 'p';
    longer[3 + AUTH_PASSWORD_MAX] = '\0';
    CHECK_EQ_INT(auth_init(&a, longer, AUTH_BASIC, NULL, &e), WIRE_ERROR);
    CHECK_REASON(e, "password is longer than 128 bytes");

    memset(longer, 'r', sizeof(longer));
    longer[AUTH_REALM_MAX + 1] = '\0';
    CHECK_EQ_INT(auth_init(&a, "u:p", AUTH_BASIC, longer, &e), WIRE_ERROR);
    CHECK_REASON(e, "realm is longer than 128 bytes");
    CHECK_EQ_INT(auth_init(&a, "u:p", AUTH_BASIC, "", &e), WIRE_ERROR);
    CHECK_REASON(e, "realm is empty");
    CHECK_EQ_INT(auth_init(&a, "u:p", AUTH_BASIC, "a\"b", &e), WIRE_ERROR);
    CHECK_REASON(e, "'\"' or '\\' in realm");
    CHECK_EQ_INT(e.offset, 1);
    CHECK_EQ_INT(auth_init(&a, "u:p", AUTH_DIGEST, "a\\b", &e), WIRE_ERROR);
    CHECK_EQ_INT(auth_init(&a, "u:p", AUTH_DIGEST, "a\rb", &e), WIRE_ERROR);
    CHECK_REASON(e, "control character in realm");
    CHECK_EQ_INT(auth_init(&a, "u\n:p", AUTH_BASIC, NULL, &e), WIRE_ERROR);
    CHECK_REASON(e, "control character in user name");
    CHECK_EQ_INT(auth_init(&a, "u:p\x01", AUTH_BASIC, NULL, &e), WIRE_ERROR);
    CHECK_REASON(e, "control character in password");
    CHECK_EQ_INT(e.offset, 3);
    CHECK_EQ_INT(auth_init(&a, "a\"b:p", AUTH_DIGEST, NULL, &e), WIRE_ERROR);
    CHECK_REASON(e, "'\"' or '\\' in a Digest user name");
    CHECK_EQ_INT(auth_init(&a, "a\"b:p", AUTH_BASIC, NULL, &e), 0); /* Basic has no quoting */
    CHECK_EQ_INT(auth_init(&a, "u:p", (enum auth_scheme)7, NULL, &e), WIRE_ERROR);
    CHECK_REASON(e, "unknown auth scheme");
    CHECK_EQ_INT(auth_init(&a, "u:p", AUTH_BASIC, NULL, NULL), 0); /* err may be NULL */
    CHECK_EQ_INT(auth_init(&a, "u", AUTH_BASIC, NULL, NULL), WIRE_ERROR);
}

/* --- challenges --- */

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void test_challenge_basic_format(void)
{
    struct auth a;
    char buf[256];
    init_ok(&a, "u:p", AUTH_BASIC, "my realm");
    int n = auth_challenge(&a, 5, false, buf, sizeof(buf));
    CHECK_STR(buf, n > 0 ? n : 0, "Basic realm=\"my realm\"");
    CHECK_EQ_INT(n, strlen(buf));
    n = auth_challenge(&a, 5, true, buf, sizeof(buf)); /* stale means nothing to Basic */
    CHECK_STR(buf, n > 0 ? n : 0, "Basic realm=\"my realm\"");
}

static void test_challenge_digest_format(void)
{
    struct auth a;
    char buf[256];
    init_ok(&a, "u:p", AUTH_DIGEST, "rtsp-harness");
    int n = auth_challenge(&a, 0x1234, false, buf, sizeof(buf));
    const char *pre = "Digest realm=\"rtsp-harness\", nonce=\"";
    const char *post = "\", algorithm=MD5, qop=\"auth\"";
    size_t lpre = strlen(pre), lpost = strlen(post);
    CHECK_EQ_INT(n, lpre + AUTH_NONCE_LEN + lpost);
    CHECK_EQ_INT(strlen(buf), n);
    CHECK(strncmp(buf, pre, lpre) == 0);
    CHECK(all_hex(buf + lpre, AUTH_NONCE_LEN));
    CHECK(strncmp(buf + lpre, "0000000000001234", 16) == 0); /* issue time first */
    CHECK(strcmp(buf + lpre + AUTH_NONCE_LEN, post) == 0);

    /* the wire parser reads it back as the clients will */
    struct rtsp_challenge c;
    CHECK_EQ_INT(rtsp_parse_www_authenticate((struct wire_str){buf, (size_t)n}, &c, NULL), n);
    CHECK_EQ_INT(c.scheme, RTSP_AUTH_DIGEST);
    CHECK_STR(c.realm.ptr, c.realm.len, "rtsp-harness");
    CHECK_STR(c.algorithm.ptr, c.algorithm.len, "MD5");
    CHECK_STR(c.qop.ptr, c.qop.len, "auth");
    CHECK(!c.stale);

    /* same time, same nonce; another time, another nonce */
    char again[256];
    CHECK_EQ_INT(auth_challenge(&a, 0x1234, false, again, sizeof(again)), n);
    CHECK(strcmp(buf, again) == 0);
    CHECK_EQ_INT(auth_challenge(&a, 0x1235, false, again, sizeof(again)), n);
    CHECK(strcmp(buf, again) != 0);
}

static void test_challenge_digest_stale_flag(void)
{
    struct auth a;
    char buf[256], fresh[256];
    init_ok(&a, "u:p", AUTH_DIGEST, NULL);
    int nf = auth_challenge(&a, 77, false, fresh, sizeof(fresh));
    int n = auth_challenge(&a, 77, true, buf, sizeof(buf));
    CHECK(nf > 0);
    CHECK_EQ_INT(n, nf + (int)strlen(", stale=TRUE"));
    CHECK(strncmp(buf, fresh, (size_t)(nf > 0 ? nf : 0)) == 0);
    CHECK(strcmp(buf + (nf > 0 ? nf : 0), ", stale=TRUE") == 0);
    struct rtsp_challenge c;
    CHECK_EQ_INT(rtsp_parse_www_authenticate((struct wire_str){buf, (size_t)n}, &c, NULL), n);
    CHECK(c.stale);
}

static void test_challenge_buffer_too_small(void)
{
    struct auth a;
    char buf[256];
    init_ok(&a, "u:p", AUTH_DIGEST, NULL);
    int n = auth_challenge(&a, 9, true, buf, sizeof(buf));
    CHECK(n > 0);
    for (size_t cap = 0; cap <= (size_t)n; cap++) {
        memset(buf, 'x', sizeof(buf));
        CHECK_EQ_INT(auth_challenge(&a, 9, true, buf, cap), WIRE_ERROR);
        if (cap)
            CHECK_EQ_INT(buf[0], '\0');
        CHECK_EQ_INT(buf[cap], 'x'); /* nothing written past cap */
    }
    CHECK_EQ_INT(auth_challenge(&a, 9, true, buf, (size_t)n + 1), n);
    CHECK_EQ_INT(auth_challenge(&a, 9, true, NULL, 0), WIRE_ERROR);

    init_ok(&a, "u:p", AUTH_BASIC, "r");
    CHECK_EQ_INT(auth_challenge(&a, 9, false, buf, strlen("Basic realm=\"r\"")), WIRE_ERROR);
    CHECK_EQ_INT(auth_challenge(&a, 9, false, buf, strlen("Basic realm=\"r\"") + 1), 15);
}

/* --- Basic --- */

static enum auth_result check(const struct auth *a, const char *method, const char *uri,
                              const char *authz, uint64_t now, const char **why)
{
    return auth_check(a, method, S(uri), authz ? S(authz) : (struct wire_str){NULL, 0}, now,
                      why);
}

/* "Basic " + base64 of "Aladdin:open sesame" */
static const char *const ALADDIN = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==";

static void test_basic_ok(void)
{
    struct auth a;
    const char *why = "unset";
    init_ok(&a, "Aladdin:open sesame", AUTH_BASIC, NULL);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, ALADDIN, 1, &why), AUTH_OK);
    CHECK(why == NULL);
    CHECK_EQ_INT(check(&a, "SETUP", "*", ALADDIN, 1, NULL), AUTH_OK); /* why may be NULL */
    /* scheme name case-insensitive, as RFC 2617 says */
    CHECK_EQ_INT(check(&a, "PLAY", URL, "basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", 1, &why), AUTH_OK);
    /* empty password: "u:" */
    init_ok(&a, "u:", AUTH_BASIC, NULL);
    CHECK_EQ_INT(check(&a, "PLAY", URL, "Basic dTo=", 1, &why), AUTH_OK);
}

static void test_basic_wrong_password(void)
{
    struct auth a;
    const char *why = NULL;
    init_ok(&a, "Aladdin:open sesame!", AUTH_BASIC, NULL); /* a longer password */
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, ALADDIN, 1, &why), AUTH_BAD);
    CHECK_WHY("wrong password");
    init_ok(&a, "Aladdin:open sesam", AUTH_BASIC, NULL); /* a prefix of it */
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, ALADDIN, 1, &why), AUTH_BAD);
    CHECK_WHY("wrong password");
    init_ok(&a, "Aladdin:Open sesame", AUTH_BASIC, NULL); /* case matters */
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, ALADDIN, 1, &why), AUTH_BAD);
    init_ok(&a, "u:", AUTH_BASIC, NULL);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, "Basic dTpw", 1, &why), AUTH_BAD); /* u:p */
}

static void test_basic_wrong_user(void)
{
    struct auth a;
    const char *why = NULL;
    init_ok(&a, "aladdin:open sesame", AUTH_BASIC, NULL);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, ALADDIN, 1, &why), AUTH_BAD);
    CHECK_WHY("wrong user");
    init_ok(&a, "Aladdin2:open sesame", AUTH_BASIC, NULL);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, ALADDIN, 1, &why), AUTH_BAD);
    CHECK_WHY("wrong user");
}

static void test_basic_garbage_base64(void)
{
    struct auth a;
    const char *why = NULL;
    init_ok(&a, "Aladdin:open sesame", AUTH_BASIC, NULL);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, "Basic QWx!ZGRpbjpvcGVuIHNlc2FtZQ==", 1, &why),
                 AUTH_BAD);
    CHECK_WHY("Authorization header does not parse");
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, "Basic QWxhZGRpbg==", 1, &why), AUTH_BAD); /* no : */
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, "Basic", 1, &why), AUTH_BAD);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, "", 1, &why), AUTH_BAD);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, "Bearer abc", 1, &why), AUTH_BAD);
    /* far longer than any configured credential still fails cleanly */
    char big[1200] = "Basic ";
    memset(big + 6, 'A', 1000);
    big[1006] = '\0';
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, big, 1, &why), AUTH_BAD);
}

static void test_basic_missing(void)
{
    struct auth a;
    const char *why = NULL;
    init_ok(&a, "Aladdin:open sesame", AUTH_BASIC, NULL);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, NULL, 1, &why), AUTH_MISSING);
    CHECK_WHY("no Authorization header");
    init_ok(&a, "Aladdin:open sesame", AUTH_DIGEST, NULL);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, NULL, 1, &why), AUTH_MISSING);
}

static void test_scheme_mismatch_is_bad(void)
{
    struct auth a;
    const char *why = NULL;
    init_ok(&a, "Aladdin:open sesame", AUTH_DIGEST, NULL);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, ALADDIN, 1, &why), AUTH_BAD);
    CHECK_WHY("credentials are not Digest, as required");

    init_ok(&a, "Mufasa:Circle Of Life", AUTH_BASIC, "testrealm@host.com");
    const char *d = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
                    "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
                    "qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
                    "response=\"6629fae49393a05397450978507c4ef1\"";
    CHECK_EQ_INT(check(&a, "GET", "/dir/index.html", d, 1, &why), AUTH_BAD);
    CHECK_WHY("credentials are not Basic, as required");
}

/* --- Digest --- */

static void test_digest_rfc2617_vector(void)
{
    char out[AUTH_DIGEST_HEX_LEN + 1], mine[33];
    struct auth_digest_input in = {
        .user = S("Mufasa"),
        .realm = S("testrealm@host.com"),
        .password = S("Circle Of Life"),
        .method = S("GET"),
        .uri = S("/dir/index.html"),
        .nonce = S("dcd98b7102dd2f0e8b11d0f600bfb0c093"),
        .qop = S("auth"),
        .nc = S("00000001"),
        .cnonce = S("0a4f113b"),
    };
    auth_digest_response(&in, out);
    CHECK_STR(out, strlen(out), "6629fae49393a05397450978507c4ef1");
    /* the test's own MD5 helper agrees with the RFC */
    expected_response("Mufasa", "testrealm@host.com", "Circle Of Life", "GET",
                      "/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001",
                      "0a4f113b", "auth", mine);
    CHECK_STR(mine, strlen(mine), "6629fae49393a05397450978507c4ef1");

    /* RFC 2069 form (no qop) against the independent computation */
    in.qop = (struct wire_str){NULL, 0};
    auth_digest_response(&in, out);
    expected_response("Mufasa", "testrealm@host.com", "Circle Of Life", "GET",
                      "/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093", NULL, NULL,
                      NULL, mine);
    CHECK_STR(out, strlen(out), mine);
    CHECK(strcmp(out, "6629fae49393a05397450978507c4ef1") != 0);
}

/* A Digest Authorization value in ffmpeg's shape (quoted algorithm and qop). */
static void ffmpeg_header(char *buf, size_t cap, const char *user, const char *realm,
                          const char *nonce, const char *uri, const char *response,
                          const char *qop)
{
    if (qop)
        snprintf(buf, cap,
                 "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                 "response=\"%s\", algorithm=\"MD5\", qop=\"%s\", cnonce=\"4e1b3d5a0c9f7e21\", "
                 "nc=00000001",
                 user, realm, nonce, uri, response, qop);
    else
        snprintf(buf, cap,
                 "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                 "response=\"%s\"",
                 user, realm, nonce, uri, response);
}

/* Authorization for user/pass over a fresh nonce, with or without qop. */
static void digest_header(const struct auth *a, uint64_t issued, const char *pass,
                          const char *method, const char *uri, bool qop, char *buf, size_t cap)
{
    char nonce[64], rsp[33];
    issue_nonce(a, issued, nonce);
    expected_response(a->user, a->realm, pass, method, uri, nonce, "00000001",
                      "4e1b3d5a0c9f7e21", qop ? "auth" : NULL, rsp);
    ffmpeg_header(buf, cap, a->user, a->realm, nonce, uri, rsp, qop ? "auth" : NULL);
}

static void test_digest_issued_nonce_verifies_with_qop(void)
{
    struct auth a;
    char h[1024];
    const char *why = "unset";
    init_ok(&a, "admin:s3cret", AUTH_DIGEST, NULL);
    digest_header(&a, 1000, "s3cret", "DESCRIBE", URL, true, h, sizeof(h));
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 1000, &why), AUTH_OK);
    CHECK(why == NULL);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 1100, &why), AUTH_OK);
}

static void test_digest_no_qop_form(void)
{
    /* live555 and GStreamer ignore qop and answer in the RFC 2069 form */
    struct auth a;
    char h[1024], nonce[64], rsp[33];
    const char *why = NULL;
    init_ok(&a, "admin:s3cret", AUTH_DIGEST, "cam");
    issue_nonce(&a, 50, nonce);
    expected_response("admin", "cam", "s3cret", "SETUP", "rtsp://h/s/track0", nonce, NULL, NULL,
                      NULL, rsp);
    snprintf(h, sizeof(h),
             "Digest username=\"admin\", realm=\"cam\", nonce=\"%s\", "
             "uri=\"rtsp://h/s/track0\", response=\"%s\"",
             nonce, rsp);
    CHECK_EQ_INT(check(&a, "SETUP", "rtsp://h/s/track0", h, 60, &why), AUTH_OK);
    /* the same response sent claiming qop=auth does not verify */
    snprintf(h, sizeof(h),
             "Digest username=\"admin\", realm=\"cam\", nonce=\"%s\", "
             "uri=\"rtsp://h/s/track0\", response=\"%s\", qop=auth, nc=00000001, "
             "cnonce=\"abc\"",
             nonce, rsp);
    CHECK_EQ_INT(check(&a, "SETUP", "rtsp://h/s/track0", h, 60, &why), AUTH_BAD);
    CHECK_WHY("wrong password (digest response does not match)");
}

static void test_digest_qop_unquoted_and_uppercase_response(void)
{
    struct auth a;
    char h[1024], nonce[64], rsp[33];
    const char *why = NULL;
    init_ok(&a, "admin:s3cret", AUTH_DIGEST, NULL);
    issue_nonce(&a, 5, nonce);
    expected_response("admin", "rtsp-harness", "s3cret", "PLAY", URL, nonce, "0000000a", "xyz",
                      "auth", rsp);
    for (char *p = rsp; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    snprintf(h, sizeof(h),
             "Digest username=\"admin\",realm=\"rtsp-harness\",nonce=\"%s\",uri=\"%s\","
             "qop=auth,nc=0000000a,cnonce=\"xyz\",response=\"%s\",algorithm=md5,"
             "opaque=\"ignored\"",
             nonce, URL, rsp);
    CHECK_EQ_INT(check(&a, "PLAY", URL, h, 6, &why), AUTH_OK);
}

static void test_digest_tampered_nonce_is_bad(void)
{
    struct auth a;
    char h[1024], nonce[64], rsp[33];
    const char *why = NULL;
    init_ok(&a, "admin:s3cret", AUTH_DIGEST, NULL);
    issue_nonce(&a, 1000, nonce);
    CHECK_EQ_INT(strlen(nonce), AUTH_NONCE_LEN);
    const size_t flips[] = {15, 16, AUTH_NONCE_LEN - 1}; /* time digit, MAC digits */
    for (size_t k = 0; k < sizeof(flips) / sizeof(flips[0]); k++) {
        char bad[64];
        strcpy(bad, nonce);
        bad[flips[k]] = bad[flips[k]] == '0' ? '1' : '0';
        /* the response is right for the tampered nonce: only the MAC can catch it */
        expected_response("admin", "rtsp-harness", "s3cret", "DESCRIBE", URL, bad, NULL, NULL,
                          NULL, rsp);
        ffmpeg_header(h, sizeof(h), "admin", "rtsp-harness", bad, URL, rsp, NULL);
        CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 1000, &why), AUTH_BAD);
        CHECK_WHY("nonce was not issued by this server");
    }
    /* the RFC's nonce, a truncated one and an empty one */
    const char *others[] = {"dcd98b7102dd2f0e8b11d0f600bfb0c093", "", "00000000000003e8"};
    for (size_t k = 0; k < sizeof(others) / sizeof(others[0]); k++) {
        expected_response("admin", "rtsp-harness", "s3cret", "DESCRIBE", URL, others[k], NULL,
                          NULL, NULL, rsp);
        ffmpeg_header(h, sizeof(h), "admin", "rtsp-harness", others[k], URL, rsp, NULL);
        CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 1000, &why), AUTH_BAD);
    }
    /* a nonce from another server instance (another secret) */
    struct auth other;
    init_ok(&other, "admin:s3cret", AUTH_DIGEST, NULL);
    digest_header(&other, 1000, "s3cret", "DESCRIBE", URL, true, h, sizeof(h));
    CHECK_EQ_INT(check(&other, "DESCRIBE", URL, h, 1000, &why), AUTH_OK);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 1000, &why), AUTH_BAD);
    CHECK_WHY("nonce was not issued by this server");
}

static void test_digest_expired_nonce_is_stale(void)
{
    struct auth a;
    char h[1024];
    const char *why = NULL;
    init_ok(&a, "admin:s3cret", AUTH_DIGEST, NULL);
    digest_header(&a, 1000, "s3cret", "DESCRIBE", URL, true, h, sizeof(h));
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 1000 + AUTH_NONCE_LIFETIME_S, &why), AUTH_OK);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 1000 + AUTH_NONCE_LIFETIME_S + 1, &why),
                 AUTH_STALE);
    CHECK_WHY("nonce expired");
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 1000 + 100000, &why), AUTH_STALE);
    /* an expired nonce with a wrong password is not merely stale */
    digest_header(&a, 1000, "wrong", "DESCRIBE", URL, true, h, sizeof(h));
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 1301, &why), AUTH_BAD);
    /* a nonce dated after now is not one we issued */
    digest_header(&a, 1000, "s3cret", "DESCRIBE", URL, false, h, sizeof(h));
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 999, &why), AUTH_BAD);
    CHECK_WHY("nonce issued in the future");
}

static void test_digest_wrong_uri(void)
{
    struct auth a;
    char h[1024];
    const char *why = NULL;
    init_ok(&a, "admin:s3cret", AUTH_DIGEST, NULL);
    digest_header(&a, 10, "s3cret", "SETUP", URL, true, h, sizeof(h));
    CHECK_EQ_INT(check(&a, "SETUP", URL, h, 10, &why), AUTH_OK);
    CHECK_EQ_INT(check(&a, "SETUP", "rtsp://127.0.0.1:8554/movie.Mjpeg/track0", h, 10, &why),
                 AUTH_BAD);
    CHECK_WHY("digest uri does not match request");
    CHECK_EQ_INT(check(&a, "SETUP", "/movie.Mjpeg", h, 10, &why), AUTH_BAD);
    CHECK_EQ_INT(check(&a, "SETUP", "rtsp://127.0.0.1:8554/movie.Mjpe", h, 10, &why), AUTH_BAD);
    /* a relative digest uri against an absolute request uri: exact match only */
    digest_header(&a, 10, "s3cret", "SETUP", "/movie.Mjpeg", true, h, sizeof(h));
    CHECK_EQ_INT(check(&a, "SETUP", "/movie.Mjpeg", h, 10, &why), AUTH_OK);
    CHECK_EQ_INT(check(&a, "SETUP", URL, h, 10, &why), AUTH_BAD);
    CHECK_WHY("digest uri does not match request");
}

static void test_digest_wrong_method(void)
{
    struct auth a;
    char h[1024];
    const char *why = NULL;
    init_ok(&a, "admin:s3cret", AUTH_DIGEST, NULL);
    digest_header(&a, 10, "s3cret", "DESCRIBE", URL, true, h, sizeof(h));
    CHECK_EQ_INT(check(&a, "PLAY", URL, h, 10, &why), AUTH_BAD);
    CHECK_WHY("wrong password (digest response does not match)");
    CHECK_EQ_INT(check(&a, "describe", URL, h, 10, &why), AUTH_BAD);
    digest_header(&a, 10, "s3cret", "DESCRIBE", URL, false, h, sizeof(h));
    CHECK_EQ_INT(check(&a, "OPTIONS", URL, h, 10, &why), AUTH_BAD);
}

static void test_digest_wrong_password_or_user(void)
{
    struct auth a;
    char h[1024], nonce[64], rsp[33];
    const char *why = NULL;
    init_ok(&a, "admin:s3cret", AUTH_DIGEST, NULL);
    digest_header(&a, 10, "s3cre", "DESCRIBE", URL, true, h, sizeof(h));
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 10, &why), AUTH_BAD);
    CHECK_WHY("wrong password (digest response does not match)");
    digest_header(&a, 10, "s3cret", "DESCRIBE", URL, false, h, sizeof(h));
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 10, &why), AUTH_OK);

    issue_nonce(&a, 10, nonce);
    expected_response("Admin", "rtsp-harness", "s3cret", "DESCRIBE", URL, nonce, NULL, NULL,
                      NULL, rsp);
    ffmpeg_header(h, sizeof(h), "Admin", "rtsp-harness", nonce, URL, rsp, NULL);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 10, &why), AUTH_BAD);
    CHECK_WHY("wrong user");
}

static void test_digest_wrong_realm(void)
{
    struct auth a;
    char h[1024], nonce[64], rsp[33];
    const char *why = NULL;
    init_ok(&a, "admin:s3cret", AUTH_DIGEST, "cam");
    issue_nonce(&a, 10, nonce);
    expected_response("admin", "Cam", "s3cret", "DESCRIBE", URL, nonce, NULL, NULL, NULL, rsp);
    ffmpeg_header(h, sizeof(h), "admin", "Cam", nonce, URL, rsp, NULL);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 10, &why), AUTH_BAD);
    CHECK_WHY("wrong realm");
    /* the right realm in the header but the response hashed over another */
    expected_response("admin", "other", "s3cret", "DESCRIBE", URL, nonce, NULL, NULL, NULL, rsp);
    ffmpeg_header(h, sizeof(h), "admin", "cam", nonce, URL, rsp, NULL);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 10, &why), AUTH_BAD);
    CHECK_WHY("wrong password (digest response does not match)");
}

static void test_digest_bad_parameters(void)
{
    struct auth a;
    char h[1024], nonce[64], rsp[33];
    const char *why = NULL;
    init_ok(&a, "admin:s3cret", AUTH_DIGEST, NULL);
    issue_nonce(&a, 10, nonce);
    expected_response("admin", "rtsp-harness", "s3cret", "DESCRIBE", URL, nonce, "00000001", "c",
                      "auth", rsp);

    snprintf(h, sizeof(h),
             "Digest username=\"admin\", realm=\"rtsp-harness\", nonce=\"%s\", uri=\"%s\", "
             "qop=auth, nc=00000001, cnonce=\"c\", response=\"%s\"",
             nonce, URL, rsp);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 10, &why), AUTH_OK); /* the baseline passes */

    snprintf(h, sizeof(h),
             "Digest username=\"admin\", realm=\"rtsp-harness\", nonce=\"%s\", uri=\"%s\", "
             "qop=auth, nc=00000001, cnonce=\"c\", response=\"%s\", algorithm=MD5-sess",
             nonce, URL, rsp);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 10, &why), AUTH_BAD);
    CHECK_WHY("digest algorithm is not MD5");

    snprintf(h, sizeof(h),
             "Digest username=\"admin\", realm=\"rtsp-harness\", nonce=\"%s\", uri=\"%s\", "
             "qop=auth-int, nc=00000001, cnonce=\"c\", response=\"%s\"",
             nonce, URL, rsp);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 10, &why), AUTH_BAD);
    CHECK_WHY("digest qop is not auth");

    snprintf(h, sizeof(h),
             "Digest username=\"admin\", realm=\"rtsp-harness\", nonce=\"%s\", uri=\"%s\", "
             "qop=auth, nc=00000001, response=\"%s\"",
             nonce, URL, rsp);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 10, &why), AUTH_BAD);
    CHECK_WHY("digest qop=auth without nc or cnonce");

    snprintf(h, sizeof(h),
             "Digest username=\"admin\", realm=\"rtsp-harness\", nonce=\"%s\", uri=\"%s\", "
             "qop=auth, nc=00000001, cnonce=\"c\", response=\"%.31s\"",
             nonce, URL, rsp);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 10, &why), AUTH_BAD);
    CHECK_WHY("digest response is not 32 hex digits");

    char bad[33];
    strcpy(bad, rsp);
    bad[0] = 'g';
    snprintf(h, sizeof(h),
             "Digest username=\"admin\", realm=\"rtsp-harness\", nonce=\"%s\", uri=\"%s\", "
             "qop=auth, nc=00000001, cnonce=\"c\", response=\"%s\"",
             nonce, URL, bad);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 10, &why), AUTH_BAD);
    CHECK_WHY("digest response is not 32 hex digits");

    /* lacking response: the wire parser refuses it */
    snprintf(h, sizeof(h),
             "Digest username=\"admin\", realm=\"rtsp-harness\", nonce=\"%s\", uri=\"%s\"",
             nonce, URL);
    CHECK_EQ_INT(check(&a, "DESCRIBE", URL, h, 10, &why), AUTH_BAD);
    CHECK_WHY("Authorization header does not parse");
}

int main(void)
{
    RUN(test_init_copies_user_password_realm);
    RUN(test_init_errors);
    RUN(test_challenge_basic_format);
    RUN(test_challenge_digest_format);
    RUN(test_challenge_digest_stale_flag);
    RUN(test_challenge_buffer_too_small);
    RUN(test_basic_ok);
    RUN(test_basic_wrong_password);
    RUN(test_basic_wrong_user);
    RUN(test_basic_garbage_base64);
    RUN(test_basic_missing);
    RUN(test_scheme_mismatch_is_bad);
    RUN(test_digest_rfc2617_vector);
    RUN(test_digest_issued_nonce_verifies_with_qop);
    RUN(test_digest_no_qop_form);
    RUN(test_digest_qop_unquoted_and_uppercase_response);
    RUN(test_digest_tampered_nonce_is_bad);
    RUN(test_digest_expired_nonce_is_stale);
    RUN(test_digest_wrong_uri);
    RUN(test_digest_wrong_method);
    RUN(test_digest_wrong_password_or_user);
    RUN(test_digest_wrong_realm);
    RUN(test_digest_bad_parameters);
    CHECK_DONE();
}
