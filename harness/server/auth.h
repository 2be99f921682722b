/* Server-side RTSP authentication for `rtsp-harness serve --auth`: RFC 2617
 * Basic and Digest (MD5, qop=auth or the RFC 2069 form without qop) as
 * ffmpeg, GStreamer rtspsrc and live555 send them.
 *
 * The server builds the WWW-Authenticate value of a 401 with auth_challenge
 * and checks each request's Authorization value with auth_check. Digest
 * nonces are stateless: a nonce is the issue time (16 hex digits) followed
 * by HMAC-MD5(secret, time) (32 hex digits), so the server verifies its own
 * nonces without storing them and nothing is shared between connections or
 * threads; a struct auth is read-only after auth_init. Because no state is
 * kept, a nonce may be replayed until it expires (nc is not tracked), which
 * is acceptable for a test harness. No allocation.
 */
#ifndef RTSP_HARNESS_SERVER_AUTH_H
#define RTSP_HARNESS_SERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define AUTH_USER_MAX 128        /* longest user name in bytes */
#define AUTH_PASSWORD_MAX 128    /* longest password in bytes */
#define AUTH_REALM_MAX 128       /* longest realm in bytes */
#define AUTH_SECRET_LEN 32       /* bytes of nonce key from getrandom() */
#define AUTH_NONCE_LIFETIME_S 300 /* a Digest nonce older than this is stale */
#define AUTH_NONCE_LEN 48        /* 16 hex digits of time + 32 hex digits of MAC */
#define AUTH_DIGEST_HEX_LEN 32   /* an MD5 digest in hex */
#define AUTH_DEFAULT_REALM "rtsp-harness" /* realm when auth_init gets NULL */

enum auth_scheme {
    AUTH_BASIC,  /* RFC 2617 Basic: base64 user:password */
    AUTH_DIGEST, /* RFC 2617 Digest, algorithm MD5 */
};

/* One configured credential; read-only after auth_init. */
struct auth {
    char user[AUTH_USER_MAX + 1];         /* user name, NUL-terminated */
    size_t user_len;                      /* its length */
    char password[AUTH_PASSWORD_MAX + 1]; /* password, NUL-terminated, may be empty */
    size_t password_len;                  /* its length */
    char realm[AUTH_REALM_MAX + 1];       /* realm sent in challenges, NUL-terminated */
    enum auth_scheme scheme;              /* scheme challenged for and accepted */
    uint8_t secret[AUTH_SECRET_LEN];      /* HMAC key for Digest nonces */
};

/* Set up a from "user:password" (split at the first ':'; the password may
 * be empty and may hold ':'). realm NULL means AUTH_DEFAULT_REALM. Errors
 * (WIRE_ERROR, err->reason naming the problem, err->offset into
 * user_password or realm): NULL or missing ':', empty user, user, password
 * or realm too long, control characters, '"' or '\' in the realm (or in a
 * Digest user name, which clients put unescaped in a quoted string), an
 * empty realm, getrandom() failing. Returns 0 on success. */
int auth_init(struct auth *a, const char *user_password, enum auth_scheme scheme,
              const char *realm, struct wire_error *err);

/* WWW-Authenticate value for a 401 into buf (NUL-terminated); returns its
 * length, or WIRE_ERROR when cap is too small. Basic: `Basic realm="R"`.
 * Digest: `Digest realm="R", nonce="N", algorithm=MD5, qop="auth"`, then
 * `, stale=TRUE` when stale (ignored for Basic). now_s is a monotonic
 * seconds clock (the same one given to auth_check); the nonce encodes it. */
int auth_challenge(const struct auth *a, uint64_t now_s, bool stale, char *buf, size_t cap);

enum auth_result {
    AUTH_OK,      /* credentials are right */
    AUTH_MISSING, /* no Authorization header: send 401 with a challenge */
    AUTH_BAD,     /* wrong or malformed credentials: send 401 with a challenge */
    AUTH_STALE,   /* Digest right but its nonce expired: send 401 with stale=TRUE */
};

/* Check one request. authorization is the Authorization header value
 * (ptr NULL when absent), method the request method as sent ("DESCRIBE"),
 * uri the request-URI as sent. *why (why may be NULL) gets a short static
 * English reason when the result is not AUTH_OK ("wrong password", "digest
 * uri does not match request", "nonce expired", ...), NULL when OK. A Digest
 * nonce must be one this struct auth issued (same secret) at most
 * AUTH_NONCE_LIFETIME_S seconds before now_s; an older one whose response
 * is otherwise right is AUTH_STALE, a wrong response is AUTH_BAD. */
enum auth_result auth_check(const struct auth *a, const char *method, struct wire_str uri,
                            struct wire_str authorization, uint64_t now_s, const char **why);

/* The values a Digest response is computed from, all plain (unquoted). */
struct auth_digest_input {
    struct wire_str user;     /* username */
    struct wire_str realm;    /* realm */
    struct wire_str password; /* password */
    struct wire_str method;   /* request method, e.g. "DESCRIBE" */
    struct wire_str uri;      /* digest-uri */
    struct wire_str nonce;    /* server nonce */
    struct wire_str qop;      /* "auth", or ptr NULL for the RFC 2069 form */
    struct wire_str nc;       /* nonce count, e.g. "00000001" (qop form only) */
    struct wire_str cnonce;   /* client nonce (qop form only) */
};

/* RFC 2617 request-digest in lowercase hex into out (33 bytes with the NUL):
 * HA1 = MD5(user:realm:password), HA2 = MD5(method:uri); with qop
 * MD5(HA1:nonce:nc:cnonce:qop:HA2), without MD5(HA1:nonce:HA2). */
void auth_digest_response(const struct auth_digest_input *in,
                          char out[AUTH_DIGEST_HEX_LEN + 1]);

#endif
