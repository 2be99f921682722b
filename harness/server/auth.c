/* Server-side RTSP Basic and Digest authentication (see auth.h). */
#include "auth.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <nettle/hmac.h>
#include <nettle/md5.h>
#include <nettle/memops.h>

#include "rtsp_hdr.h"

/* Scratch for decoded Basic credentials: user, ':', password, with room to
 * spare so an overlong but well-formed header decodes and then mismatches. */
#define BASIC_SCRATCH (AUTH_USER_MAX + AUTH_PASSWORD_MAX + 64)
#define CNONCE_MAX 256 /* longest client nonce accepted */
#define NC_MAX 16      /* longest nonce count accepted (8 in practice) */
#define TIME_HEX 16    /* hex digits of the issue time in a nonce */

static const char hexdig[] = "0123456789abcdef";

static void to_hex(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool has_ctl(const char *s, size_t n, size_t *at)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char u = (unsigned char)s[i];
        if (u < 0x20 || u == 0x7f) {
            *at = i;
            return true;
        }
    }
    return false;
}

static bool has_quote_or_backslash(const char *s, size_t n, size_t *at)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            *at = i;
            return true;
        }
    }
    return false;
}

int auth_init(struct auth *a, const char *user_password, enum auth_scheme scheme,
              const char *realm, struct wire_error *err)
{
    memset(a, 0, sizeof(*a));
    if (!user_password)
        return wire_fail(err, 0, "no credentials given (expected USER:PASSWORD)");
    if (scheme != AUTH_BASIC && scheme != AUTH_DIGEST)
        return wire_fail(err, 0, "unknown auth scheme");
    const char *colon = strchr(user_password, ':');
    if (!colon)
        return wire_fail(err, strlen(user_password),
                         "credentials have no ':' (expected USER:PASSWORD)");
    size_t ulen = (size_t)(colon - user_password);
    size_t plen = strlen(colon + 1);
    size_t at;
    if (ulen == 0)
        return wire_fail(err, 0, "user name is empty");
    if (ulen > AUTH_USER_MAX)
        return wire_fail(err, AUTH_USER_MAX, "user name is longer than 128 bytes");
    if (plen > AUTH_PASSWORD_MAX)
        return wire_fail(err, ulen + 1 + AUTH_PASSWORD_MAX, "password is longer than 128 bytes");
    if (has_ctl(user_password, ulen, &at))
        return wire_fail(err, at, "control character in user name");
    if (has_ctl(colon + 1, plen, &at))
        return wire_fail(err, ulen + 1 + at, "control character in password");
    if (scheme == AUTH_DIGEST && has_quote_or_backslash(user_password, ulen, &at))
        return wire_fail(err, at, "'\"' or '\\' in a Digest user name");

    if (!realm)
        realm = AUTH_DEFAULT_REALM;
    size_t rlen = strlen(realm);
    if (rlen == 0)
        return wire_fail(err, 0, "realm is empty");
    if (rlen > AUTH_REALM_MAX)
        return wire_fail(err, AUTH_REALM_MAX, "realm is longer than 128 bytes");
    if (has_ctl(realm, rlen, &at))
        return wire_fail(err, at, "control character in realm");
    if (has_quote_or_backslash(realm, rlen, &at))
        return wire_fail(err, at, "'\"' or '\\' in realm");

    size_t got = 0;
    while (got < sizeof(a->secret)) {
        ssize_t r = getrandom(a->secret + got, sizeof(a->secret) - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            memset(a, 0, sizeof(*a));
            return wire_fail(err, 0, "getrandom() failed for the nonce secret");
        }
        got += (size_t)r;
    }
    memcpy(a->user, user_password, ulen);
    a->user_len = ulen;
    memcpy(a->password, colon + 1, plen);
    a->password_len = plen;
    memcpy(a->realm, realm, rlen);
    a->scheme = scheme;
    return 0;
}

/* The nonce for issue time t into out (AUTH_NONCE_LEN + 1 bytes). */
static void make_nonce(const struct auth *a, uint64_t t, char *out)
{
    uint8_t tb[8];
    for (int i = 0; i < 8; i++)
        tb[i] = (uint8_t)(t >> (56 - 8 * i));
    struct hmac_md5_ctx h;
    uint8_t mac[MD5_DIGEST_SIZE];
    hmac_md5_set_key(&h, sizeof(a->secret), a->secret);
    hmac_md5_update(&h, sizeof(tb), tb);
    hmac_md5_digest(&h, sizeof(mac), mac);
    to_hex(tb, sizeof(tb), out);
    to_hex(mac, sizeof(mac), out + TIME_HEX);
}

int auth_challenge(const struct auth *a, uint64_t now_s, bool stale, char *buf, size_t cap)
{
    int n;
    if (a->scheme == AUTH_BASIC) {
        n = snprintf(buf, cap, "Basic realm=\"%s\"", a->realm);
    } else {
        char nonce[AUTH_NONCE_LEN + 1];
        make_nonce(a, now_s, nonce);
        n = snprintf(buf, cap, "Digest realm=\"%s\", nonce=\"%s\", algorithm=MD5, qop=\"auth\"%s",
                     a->realm, nonce, stale ? ", stale=TRUE" : "");
    }
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            buf[0] = '\0';
        return WIRE_ERROR;
    }
    return n;
}

static void md5_str(struct md5_ctx *c, struct wire_str s)
{
    if (s.len)
        md5_update(c, s.len, (const uint8_t *)s.ptr);
}

static void md5_sep(struct md5_ctx *c) { md5_update(c, 1, (const uint8_t *)":"); }

static void md5_hex_final(struct md5_ctx *c, char out[AUTH_DIGEST_HEX_LEN + 1])
{
    uint8_t d[MD5_DIGEST_SIZE];
    md5_digest(c, sizeof(d), d);
    to_hex(d, sizeof(d), out);
}

void auth_digest_response(const struct auth_digest_input *in,
                          char out[AUTH_DIGEST_HEX_LEN + 1])
{
    char ha1[AUTH_DIGEST_HEX_LEN + 1], ha2[AUTH_DIGEST_HEX_LEN + 1];
    struct md5_ctx c;
    md5_init(&c);
    md5_str(&c, in->user);
    md5_sep(&c);
    md5_str(&c, in->realm);
    md5_sep(&c);
    md5_str(&c, in->password);
    md5_hex_final(&c, ha1);

    md5_init(&c);
    md5_str(&c, in->method);
    md5_sep(&c);
    md5_str(&c, in->uri);
    md5_hex_final(&c, ha2);

    md5_init(&c);
    md5_update(&c, AUTH_DIGEST_HEX_LEN, (const uint8_t *)ha1);
    md5_sep(&c);
    md5_str(&c, in->nonce);
    md5_sep(&c);
    if (in->qop.ptr) {
        md5_str(&c, in->nc);
        md5_sep(&c);
        md5_str(&c, in->cnonce);
        md5_sep(&c);
        md5_str(&c, in->qop);
        md5_sep(&c);
    }
    md5_update(&c, AUTH_DIGEST_HEX_LEN, (const uint8_t *)ha2);
    md5_hex_final(&c, out);
}

/* Equal in time that depends only on the expected length: got is what the
 * client sent, want the secret. */
static bool ct_eq(struct wire_str got, const char *want, size_t want_len)
{
    unsigned diff = got.len != want_len;
    for (size_t i = 0; i < want_len; i++) {
        unsigned char g = i < got.len ? (unsigned char)got.ptr[i] : 0;
        diff |= (unsigned)(g ^ (unsigned char)want[i]);
    }
    return diff == 0;
}

/* Copy a raw quoted-string value unescaped into out (cap bytes, NUL added);
 * false when absent, too long or malformed. */
static bool unquote_to(struct wire_str raw, char *out, size_t cap, struct wire_str *res)
{
    if (!raw.ptr || cap == 0)
        return false;
    int n = rtsp_unquote(raw, out, cap - 1);
    if (n < 0)
        return false;
    out[n] = '\0';
    *res = (struct wire_str){out, (size_t)n};
    return true;
}

/* The raw quoted-string value, unescaped, equals plain exactly. */
static bool unquoted_eq(struct wire_str raw, struct wire_str plain)
{
    size_t j = 0;
    for (size_t i = 0; i < raw.len; i++) {
        char c = raw.ptr[i];
        if (c == '\\') {
            if (++i == raw.len)
                return false;
            c = raw.ptr[i];
        }
        if (j >= plain.len || plain.ptr[j] != c)
            return false;
        j++;
    }
    return j == plain.len;
}

static enum auth_result fail(const char **why, enum auth_result r, const char *reason)
{
    if (why)
        *why = reason;
    return r;
}

static enum auth_result check_basic(const struct auth *a, const struct rtsp_authorization *cr,
                                    const char **why)
{
    if (!wire_str_eq(cr->username, a->user))
        return fail(why, AUTH_BAD, "wrong user");
    if (!ct_eq(cr->password, a->password, a->password_len))
        return fail(why, AUTH_BAD, "wrong password");
    return AUTH_OK;
}

/* Verify a nonce this server issued; *issued gets its time. */
static bool nonce_ok(const struct auth *a, struct wire_str nonce, uint64_t *issued)
{
    if (nonce.len != AUTH_NONCE_LEN)
        return false;
    uint64_t t = 0;
    for (size_t i = 0; i < TIME_HEX; i++) {
        int d = hexval(nonce.ptr[i]);
        if (d < 0)
            return false;
        t = (t << 4) | (uint64_t)d;
    }
    char want[AUTH_NONCE_LEN + 1];
    make_nonce(a, t, want);
    if (!memeql_sec(nonce.ptr, want, AUTH_NONCE_LEN))
        return false;
    *issued = t;
    return true;
}

static enum auth_result check_digest(const struct auth *a, const char *method,
                                     struct wire_str uri, const struct rtsp_authorization *cr,
                                     uint64_t now_s, const char **why)
{
    char ubuf[AUTH_USER_MAX + 1], rbuf[AUTH_REALM_MAX + 1], nbuf[AUTH_NONCE_LEN + 1];
    struct wire_str user, realm, nonce;
    if (!unquote_to(cr->username, ubuf, sizeof(ubuf), &user) || !wire_str_eq(user, a->user))
        return fail(why, AUTH_BAD, "wrong user");
    if (!unquote_to(cr->realm, rbuf, sizeof(rbuf), &realm) || !wire_str_eq(realm, a->realm))
        return fail(why, AUTH_BAD, "wrong realm");
    if (cr->algorithm.ptr && !wire_str_caseeq(cr->algorithm, "MD5"))
        return fail(why, AUTH_BAD, "digest algorithm is not MD5");
    uint64_t issued = 0;
    if (!unquote_to(cr->nonce, nbuf, sizeof(nbuf), &nonce) || !nonce_ok(a, nonce, &issued))
        return fail(why, AUTH_BAD, "nonce was not issued by this server");
    if (issued > now_s)
        return fail(why, AUTH_BAD, "nonce issued in the future");
    if (!unquoted_eq(cr->uri, uri))
        return fail(why, AUTH_BAD, "digest uri does not match request");

    struct auth_digest_input in = {
        .user = {a->user, a->user_len},
        .realm = {a->realm, strlen(a->realm)},
        .password = {a->password, a->password_len},
        .method = rtsp_str(method),
        .uri = uri,
        .nonce = nonce,
    };
    char qbuf[8], ncbuf[NC_MAX + 1], cnbuf[CNONCE_MAX + 1];
    if (cr->qop.ptr) {
        if (!unquote_to(cr->qop, qbuf, sizeof(qbuf), &in.qop) || !wire_str_caseeq(in.qop, "auth"))
            return fail(why, AUTH_BAD, "digest qop is not auth");
        if (!cr->nc.ptr || !cr->cnonce.ptr)
            return fail(why, AUTH_BAD, "digest qop=auth without nc or cnonce");
        if (!unquote_to(cr->nc, ncbuf, sizeof(ncbuf), &in.nc) || in.nc.len == 0)
            return fail(why, AUTH_BAD, "digest nc is empty or too long");
        if (!unquote_to(cr->cnonce, cnbuf, sizeof(cnbuf), &in.cnonce) || in.cnonce.len == 0)
            return fail(why, AUTH_BAD, "digest cnonce is empty or too long");
    }

    char rsp[AUTH_DIGEST_HEX_LEN + 1];
    struct wire_str got;
    if (!unquote_to(cr->response, rsp, sizeof(rsp), &got) || got.len != AUTH_DIGEST_HEX_LEN)
        return fail(why, AUTH_BAD, "digest response is not 32 hex digits");
    for (size_t i = 0; i < AUTH_DIGEST_HEX_LEN; i++) {
        if (hexval(rsp[i]) < 0)
            return fail(why, AUTH_BAD, "digest response is not 32 hex digits");
        rsp[i] = hexdig[hexval(rsp[i])];
    }
    char want[AUTH_DIGEST_HEX_LEN + 1];
    auth_digest_response(&in, want);
    if (!memeql_sec(rsp, want, AUTH_DIGEST_HEX_LEN))
        return fail(why, AUTH_BAD, "wrong password (digest response does not match)");
    if (now_s - issued > AUTH_NONCE_LIFETIME_S)
        return fail(why, AUTH_STALE, "nonce expired");
    return AUTH_OK;
}

enum auth_result auth_check(const struct auth *a, const char *method, struct wire_str uri,
                            struct wire_str authorization, uint64_t now_s, const char **why)
{
    if (why)
        *why = NULL;
    if (!authorization.ptr)
        return fail(why, AUTH_MISSING, "no Authorization header");
    struct rtsp_authorization cr;
    char scratch[BASIC_SCRATCH];
    if (rtsp_parse_authorization(authorization, &cr, scratch, sizeof(scratch), NULL) < 0)
        return fail(why, AUTH_BAD, "Authorization header does not parse");
    if (a->scheme == AUTH_BASIC) {
        if (cr.scheme != RTSP_AUTH_BASIC)
            return fail(why, AUTH_BAD, "credentials are not Basic, as required");
        return check_basic(a, &cr, why);
    }
    if (cr.scheme != RTSP_AUTH_DIGEST)
        return fail(why, AUTH_BAD, "credentials are not Digest, as required");
    return check_digest(a, method, uri, &cr, now_s, why);
}
