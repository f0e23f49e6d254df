/*
 * wasmflow/hash: adds the hex SHA-256 of a string field to every item.
 *
 * Params: {"field": "email", "algorithm": "sha256", "target": "email_sha256"}
 *   field      required; a top-level name or a dotted path into nested objects
 *              ("user.email")
 *   algorithm  "sha256" (the default and, for now, the only one)
 *   target     the top-level field that receives the digest; default: field
 *              with dots replaced by '_', plus "_sha256". An existing target
 *              field is replaced.
 * The digest is of the string's UTF-8 bytes after JSON unescaping. An item
 * whose field is missing, null or not a string is passed on unchanged (a
 * warning counts the non-strings). Items are otherwise copied byte for byte.
 *
 * Built as an Extism reactor with clang and wasi-libc; see the Makefile.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "wasmflow.h"

/* ---- SHA-256 (FIPS 180-4) ---- */

typedef struct {
    uint32_t h[8];
    uint64_t bytes;
    unsigned char block[64];
    size_t fill;
} sha256_ctx;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))

static void sha256_block(sha256_ctx *c, const unsigned char *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
    uint32_t e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = cc;
        cc = b;
        b = a;
        a = t1 + t2;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
    c->h[5] += f;
    c->h[6] += g;
    c->h[7] += h;
}

static void sha256_init(sha256_ctx *c) {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, iv, sizeof iv);
    c->bytes = 0;
    c->fill = 0;
}

static void sha256_update(sha256_ctx *c, const unsigned char *p, size_t n) {
    c->bytes += n;
    while (n > 0) {
        size_t k = 64 - c->fill;
        if (k > n) k = n;
        memcpy(c->block + c->fill, p, k);
        c->fill += k;
        p += k;
        n -= k;
        if (c->fill == 64) {
            sha256_block(c, c->block);
            c->fill = 0;
        }
    }
}

static void sha256_final(sha256_ctx *c, unsigned char out[32]) {
    uint64_t bits = c->bytes * 8;
    unsigned char pad[72] = {0x80};
    size_t padlen = (c->fill < 56 ? 56 : 120) - c->fill;
    for (int i = 0; i < 8; i++) pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_update(c, pad, padlen + 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

static void sha256_hex(const char *s, size_t n, char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    unsigned char sum[32];
    sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, (const unsigned char *)s, n);
    sha256_final(&c, sum);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[sum[i] >> 4];
        hex[2 * i + 1] = digits[sum[i] & 15];
    }
    hex[64] = 0;
}

/* ---- the node ---- */

typedef struct {
    char *field; /* decoded field path */
    size_t field_len;
    char *target; /* decoded target name */
    size_t target_len;
} params;

/* Fails the run with prefix + message (+ " at byte N" for document errors). */
static int32_t fail(const char *prefix, const char *msg, const wfj_doc *d) {
    wfj_buf w = {0};
    wfj_puts(&w, prefix);
    if (d) wfj_put_error(&w, d);
    if (msg) wfj_puts(&w, msg);
    wf_error(w.oom ? "out of memory" : w.b);
    free(w.b);
    return 1;
}

/* Reads params from the object span m (or leaves an error message in *err). */
static const char *read_params(wfj_doc *d, const wfj_member *pm, params *p) {
    wfj_member m;
    size_t pos = pm->start;
    int count = 0, r;
    memset(p, 0, sizeof *p);
    if (pm->type == WFJ_NULL) return "invalid params: field is required";
    if (pm->type != WFJ_OBJECT) return "invalid params: params must be an object";
    if (wfj_object_begin(d, &pos) < 0) return "invalid params";
    while ((r = wfj_object_next(d, &pos, &count, &m)) > 0) {
        char **dst;
        size_t *dst_len;
        const char *name;
        if (wfj_string_equals(d, m.key_start, m.key_end, "field", 5)) {
            dst = &p->field, dst_len = &p->field_len, name = "invalid params: field must be a non-empty string";
        } else if (wfj_string_equals(d, m.key_start, m.key_end, "target", 6)) {
            dst = &p->target, dst_len = &p->target_len, name = "invalid params: target must be a non-empty string";
        } else if (wfj_string_equals(d, m.key_start, m.key_end, "algorithm", 9)) {
            if (m.type != WFJ_STRING || !wfj_string_equals(d, m.start, m.end, "sha256", 6))
                return "invalid params: algorithm must be \"sha256\"";
            continue;
        } else {
            return "invalid params: unknown param (allowed: field, algorithm, target)";
        }
        if (m.type != WFJ_STRING || m.end - m.start < 3) return name;
        free(*dst);
        *dst = wfj_string_decode(d, m.start, m.end, dst_len);
        if (*dst == NULL) return "out of memory";
    }
    if (r < 0) return "invalid params";
    if (p->field == NULL) return "invalid params: field is required";
    if (p->target == NULL) {
        /* default target: the path with '.' -> '_', plus "_sha256" */
        p->target = (char *)malloc(p->field_len + 8);
        if (p->target == NULL) return "out of memory";
        for (size_t i = 0; i < p->field_len; i++) p->target[i] = p->field[i] == '.' ? '_' : p->field[i];
        memcpy(p->target + p->field_len, "_sha256", 8);
        p->target_len = p->field_len + 7;
    }
    return NULL;
}

/* Looks the dotted path up in the item object at item->start. Returns 1 and
 * the value in *out, 0 when absent, WFJ_ERROR on bad input. */
static int lookup(wfj_doc *d, const wfj_member *item, const params *p, wfj_member *out) {
    wfj_member cur = *item;
    size_t seg = 0;
    for (;;) {
        if (cur.type != WFJ_OBJECT) return 0;
        size_t end = seg;
        while (end < p->field_len && p->field[end] != '.') end++;
        int r = wfj_object_get(d, cur.start, p->field + seg, end - seg, &cur);
        if (r <= 0) return r;
        if (end >= p->field_len) {
            *out = cur;
            return 1;
        }
        seg = end + 1;
    }
}

/* Copies the item with every member named target dropped and target: hex added. */
static int rewrite(wfj_doc *d, const wfj_member *item, const params *p, const char *hex, wfj_buf *w) {
    wfj_member m;
    size_t pos = item->start;
    int count = 0, written = 0, r;
    if (wfj_object_begin(d, &pos) < 0) return WFJ_ERROR;
    wfj_put(w, "{", 1);
    while ((r = wfj_object_next(d, &pos, &count, &m)) > 0) {
        if (wfj_string_equals(d, m.key_start, m.key_end, p->target, p->target_len)) continue;
        if (written++) wfj_put(w, ",", 1);
        wfj_put(w, d->s + m.key_start, m.key_end - m.key_start);
        wfj_put(w, ":", 1);
        wfj_put(w, d->s + m.start, m.end - m.start);
    }
    if (r < 0) return WFJ_ERROR;
    if (written) wfj_put(w, ",", 1);
    wfj_put_string(w, p->target, p->target_len);
    wfj_put(w, ":\"", 2);
    wfj_put(w, hex, 64);
    wfj_put(w, "\"}", 2);
    return 0;
}

/* hash_items does the work; every buffer it allocates hangs off p and w, which
 * run frees on every path. */
static int32_t hash_items(wfj_doc d, params *p, wfj_buf *w) {
    /* the document: find items and params, validate the rest */
    wfj_member m, items = {0}, pm = {0};
    size_t pos = 0;
    int count = 0, r, have_items = 0, have_params = 0;
    if (wfj_object_begin(&d, &pos) < 0) return fail("invalid input document: ", NULL, &d);
    while ((r = wfj_object_next(&d, &pos, &count, &m)) > 0) {
        if (wfj_string_equals(&d, m.key_start, m.key_end, "items", 5)) items = m, have_items = 1;
        else if (wfj_string_equals(&d, m.key_start, m.key_end, "params", 6)) pm = m, have_params = 1;
    }
    if (r < 0 || wfj_end(&d, pos) < 0) return fail("invalid input document: ", NULL, &d);
    if (have_items && items.type != WFJ_ARRAY && items.type != WFJ_NULL)
        return fail("invalid input document: items must be an array", NULL, NULL);
    if (!have_params) pm.type = WFJ_NULL;

    const char *perr = read_params(&d, &pm, p);
    if (perr) return fail(perr, NULL, NULL);

    uint64_t total = 0, hashed = 0, not_string = 0;
    wfj_puts(w, "{\"items\":[");
    if (have_items && items.type == WFJ_ARRAY) {
        size_t ipos = items.start;
        int n = 0;
        wfj_member item;
        wfj_array_begin(&d, &ipos);
        while ((r = wfj_array_next(&d, &ipos, &n, &item)) > 0) {
            if (item.type != WFJ_OBJECT) {
                wfj_buf e = {0};
                wfj_puts(&e, "invalid input document: items[");
                wfj_put_uint(&e, total);
                wfj_puts(&e, "] is not an object");
                int32_t rc = fail(e.oom ? "out of memory" : e.b, NULL, NULL);
                free(e.b);
                return rc;
            }
            if (total++) wfj_put(w, ",", 1);
            wfj_member v;
            int found = lookup(&d, &item, p, &v);
            if (found < 0) return fail("invalid input document: ", NULL, &d);
            if (found && v.type == WFJ_STRING) {
                size_t slen;
                char *s = wfj_string_decode(&d, v.start, v.end, &slen);
                if (s == NULL) return fail("out of memory", NULL, NULL);
                char hex[65];
                sha256_hex(s, slen, hex);
                free(s);
                if (rewrite(&d, &item, p, hex, w) < 0) return fail("invalid input document: ", NULL, &d);
                hashed++;
            } else {
                if (found && v.type != WFJ_NULL) not_string++;
                wfj_put(w, d.s + item.start, item.end - item.start);
            }
        }
        if (r < 0) return fail("invalid input document: ", NULL, &d);
    }
    wfj_puts(w, "]}");
    if (w->oom) return fail("out of memory building the output", NULL, NULL);
    wf_output(w->b, w->len);

    wfj_buf l = {0};
    wfj_puts(&l, "hashed ");
    wfj_put_uint(&l, hashed);
    wfj_puts(&l, " of ");
    wfj_put_uint(&l, total);
    wfj_puts(&l, " item(s)");
    if (!l.oom) wf_log_info(l.b);
    free(l.b);
    if (not_string) {
        wfj_buf e = {0};
        wfj_put_uint(&e, not_string);
        wfj_puts(&e, " item(s) left unchanged: the field is not a string");
        if (!e.oom) wf_log_warn(e.b);
        free(e.b);
    }
    return 0;
}

WF_EXPORT("run") int32_t run(void) {
    size_t len;
    char *input = wf_input(&len);
    if (input == NULL) return wf_fail("out of memory reading the input");
    params p = {0};
    wfj_buf w = {0};
    int32_t rc = hash_items(wfj_init(input, len), &p, &w);
    free(w.b);
    free(p.field);
    free(p.target);
    free(input);
    return rc;
}
