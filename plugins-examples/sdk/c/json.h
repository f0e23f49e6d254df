/*
 * json.h: a small, header-only, bounds-checked JSON scanner and writer for
 * wasmflow C nodes.
 *
 * It does not build a tree. It validates and walks the text in place and
 * hands out byte spans [start, end) of keys and values, so a node can copy
 * values it does not touch verbatim (numbers keep every digit). Every read is
 * checked against the text length: a malformed or truncated document gives an
 * error with its byte position, never a read out of bounds. Nesting is walked
 * without recursion and limited to WFJ_MAX_DEPTH.
 *
 *   wfj_doc d = wfj_init(text, len);
 *   size_t pos = 0; int n = 0; wfj_member m; int r;
 *   if (wfj_object_begin(&d, &pos) < 0) ...;              // at the '{'
 *   while ((r = wfj_object_next(&d, &pos, &n, &m)) > 0) {  // one member
 *       if (wfj_string_equals(&d, m.key_start, m.key_end, "items", 5)) ...
 *   }
 *   if (r < 0) ... d.err, d.err_pos ...
 *   // then wfj_end(&d, pos) checks nothing but whitespace follows.
 */
#ifndef WASMFLOW_JSON_H
#define WASMFLOW_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef WFJ_MAX_DEPTH
#define WFJ_MAX_DEPTH 1000
#endif

enum {
    WFJ_ERROR = -1,
    WFJ_NULL = 1,
    WFJ_FALSE,
    WFJ_TRUE,
    WFJ_NUMBER,
    WFJ_STRING,
    WFJ_ARRAY,
    WFJ_OBJECT
};

typedef struct {
    const char *s;   /* the text */
    size_t n;        /* its length */
    const char *err; /* first error, or NULL */
    size_t err_pos;  /* byte offset of the first error */
} wfj_doc;

/* A span [start, end) of the text; for strings it includes the quotes. */
typedef struct {
    size_t key_start, key_end; /* objects only */
    size_t start, end;         /* the value */
    int type;                  /* WFJ_* */
} wfj_member;

static inline wfj_doc wfj_init(const char *s, size_t n) {
    wfj_doc d = {s, n, NULL, 0};
    return d;
}

static inline int wfj_fail(wfj_doc *d, size_t pos, const char *msg) {
    if (d->err == NULL) {
        d->err = msg;
        d->err_pos = pos;
    }
    return WFJ_ERROR;
}

static inline size_t wfj_ws(const wfj_doc *d, size_t p) {
    while (p < d->n && (d->s[p] == ' ' || d->s[p] == '\t' || d->s[p] == '\n' || d->s[p] == '\r')) p++;
    return p;
}

static inline int wfj__hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Scans the string starting at *pos (a '"'), leaving *pos after its closing quote. */
static inline int wfj_scan_string(wfj_doc *d, size_t *pos) {
    size_t p = *pos;
    if (p >= d->n || d->s[p] != '"') return wfj_fail(d, p, "expected a string");
    p++;
    for (;;) {
        if (p >= d->n) return wfj_fail(d, p, "unterminated string");
        unsigned char c = (unsigned char)d->s[p];
        if (c == '"') {
            *pos = p + 1;
            return WFJ_STRING;
        }
        if (c < 0x20) return wfj_fail(d, p, "control character in string");
        if (c != '\\') {
            p++;
            continue;
        }
        if (p + 1 >= d->n) return wfj_fail(d, p, "unterminated string");
        char e = d->s[p + 1];
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
            p += 2;
        } else if (e == 'u') {
            if (p + 6 > d->n) return wfj_fail(d, p, "unterminated string");
            for (size_t i = 2; i < 6; i++)
                if (wfj__hex(d->s[p + i]) < 0) return wfj_fail(d, p, "invalid \\u escape");
            p += 6;
        } else {
            return wfj_fail(d, p, "invalid escape in string");
        }
    }
}

static inline int wfj__digits(const wfj_doc *d, size_t *p) {
    size_t start = *p;
    while (*p < d->n && d->s[*p] >= '0' && d->s[*p] <= '9') (*p)++;
    return *p > start;
}

static inline int wfj_scan_number(wfj_doc *d, size_t *pos) {
    size_t p = *pos;
    if (p < d->n && d->s[p] == '-') p++;
    if (p < d->n && d->s[p] == '0') {
        p++;
    } else if (!(p < d->n && d->s[p] >= '1' && d->s[p] <= '9') || !wfj__digits(d, &p)) {
        return wfj_fail(d, *pos, "invalid number");
    }
    if (p < d->n && d->s[p] == '.') {
        p++;
        if (!wfj__digits(d, &p)) return wfj_fail(d, *pos, "invalid number");
    }
    if (p < d->n && (d->s[p] == 'e' || d->s[p] == 'E')) {
        p++;
        if (p < d->n && (d->s[p] == '+' || d->s[p] == '-')) p++;
        if (!wfj__digits(d, &p)) return wfj_fail(d, *pos, "invalid number");
    }
    *pos = p;
    return WFJ_NUMBER;
}

static inline int wfj__literal(wfj_doc *d, size_t *pos, const char *lit, size_t len, int type) {
    if (*pos > d->n || d->n - *pos < len || memcmp(d->s + *pos, lit, len) != 0)
        return wfj_fail(d, *pos, "invalid literal");
    *pos += len;
    return type;
}

/* Validates and skips one value (leading whitespace allowed) starting at *pos;
 * returns its type and leaves *pos just after it. Iterative: the nesting is
 * kept in a small local stack, so deep input cannot overflow the call stack. */
static inline int wfj_skip(wfj_doc *d, size_t *pos) {
    char stack[WFJ_MAX_DEPTH];
    size_t depth = 0;
    int first = 0;
    size_t p = wfj_ws(d, *pos);
    for (;;) {
        /* a value starts at p */
        int t;
        if (p >= d->n) return wfj_fail(d, p, "unexpected end of input");
        char c = d->s[p];
        if (c == '{' || c == '[') {
            t = c == '{' ? WFJ_OBJECT : WFJ_ARRAY;
            if (!first) first = t;
            if (depth >= WFJ_MAX_DEPTH) return wfj_fail(d, p, "nesting too deep");
            stack[depth++] = c;
            p = wfj_ws(d, p + 1);
            if (p < d->n && d->s[p] == (c == '{' ? '}' : ']')) {
                p++;
                depth--;
            } else if (c == '{') {
                if (wfj_scan_string(d, &p) < 0) return WFJ_ERROR;
                p = wfj_ws(d, p);
                if (p >= d->n || d->s[p] != ':') return wfj_fail(d, p, "expected ':'");
                p = wfj_ws(d, p + 1);
                continue;
            } else {
                continue;
            }
        } else {
            if (c == '"') t = wfj_scan_string(d, &p);
            else if (c == 't') t = wfj__literal(d, &p, "true", 4, WFJ_TRUE);
            else if (c == 'f') t = wfj__literal(d, &p, "false", 5, WFJ_FALSE);
            else if (c == 'n') t = wfj__literal(d, &p, "null", 4, WFJ_NULL);
            else if (c == '-' || (c >= '0' && c <= '9')) t = wfj_scan_number(d, &p);
            else return wfj_fail(d, p, "unexpected character");
            if (t < 0) return WFJ_ERROR;
            if (!first) first = t;
        }
        /* after a value: close containers or move to the next element */
        for (;;) {
            if (depth == 0) {
                *pos = p;
                return first;
            }
            p = wfj_ws(d, p);
            char open = stack[depth - 1];
            char close = open == '{' ? '}' : ']';
            if (p < d->n && d->s[p] == close) {
                p++;
                depth--;
                continue;
            }
            if (p >= d->n || d->s[p] != ',') return wfj_fail(d, p, open == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
            p = wfj_ws(d, p + 1);
            if (open == '{') {
                if (wfj_scan_string(d, &p) < 0) return WFJ_ERROR;
                p = wfj_ws(d, p);
                if (p >= d->n || d->s[p] != ':') return wfj_fail(d, p, "expected ':'");
                p = wfj_ws(d, p + 1);
            }
            break;
        }
    }
}

/* Checks that only whitespace follows pos. */
static inline int wfj_end(wfj_doc *d, size_t pos) {
    pos = wfj_ws(d, pos);
    if (pos != d->n) return wfj_fail(d, pos, "unexpected data after the document");
    return 0;
}

/* Expects '{' (after whitespace) at *pos and moves past it. */
static inline int wfj_object_begin(wfj_doc *d, size_t *pos) {
    size_t p = wfj_ws(d, *pos);
    if (p >= d->n || d->s[p] != '{') return wfj_fail(d, p, "expected an object");
    *pos = p + 1;
    return 0;
}

/* Reads the next member of the object being walked; *count starts at 0.
 * Returns 1 with m filled, 0 after the closing '}', WFJ_ERROR on bad input. */
static inline int wfj_object_next(wfj_doc *d, size_t *pos, int *count, wfj_member *m) {
    size_t p = wfj_ws(d, *pos);
    if (p < d->n && d->s[p] == '}') {
        *pos = p + 1;
        return 0;
    }
    if (*count > 0) {
        if (p >= d->n || d->s[p] != ',') return wfj_fail(d, p, "expected ',' or '}'");
        p = wfj_ws(d, p + 1);
    }
    m->key_start = p;
    if (wfj_scan_string(d, &p) < 0) return WFJ_ERROR;
    m->key_end = p;
    p = wfj_ws(d, p);
    if (p >= d->n || d->s[p] != ':') return wfj_fail(d, p, "expected ':'");
    p = wfj_ws(d, p + 1);
    m->start = p;
    m->type = wfj_skip(d, &p);
    if (m->type < 0) return WFJ_ERROR;
    m->end = p;
    *pos = p;
    (*count)++;
    return 1;
}

/* Expects '[' (after whitespace) at *pos and moves past it. */
static inline int wfj_array_begin(wfj_doc *d, size_t *pos) {
    size_t p = wfj_ws(d, *pos);
    if (p >= d->n || d->s[p] != '[') return wfj_fail(d, p, "expected an array");
    *pos = p + 1;
    return 0;
}

/* Reads the next element (m->start, m->end, m->type); like wfj_object_next. */
static inline int wfj_array_next(wfj_doc *d, size_t *pos, int *count, wfj_member *m) {
    size_t p = wfj_ws(d, *pos);
    if (p < d->n && d->s[p] == ']') {
        *pos = p + 1;
        return 0;
    }
    if (*count > 0) {
        if (p >= d->n || d->s[p] != ',') return wfj_fail(d, p, "expected ',' or ']'");
        p = wfj_ws(d, p + 1);
    }
    m->key_start = m->key_end = 0;
    m->start = p;
    m->type = wfj_skip(d, &p);
    if (m->type < 0) return WFJ_ERROR;
    m->end = p;
    *pos = p;
    (*count)++;
    return 1;
}

/* Decodes one character of a scanned string at *p (inside the quotes) into
 * out (UTF-8, 1 to 4 bytes); returns the number of bytes. Escapes are
 * resolved; a lone UTF-16 surrogate becomes U+FFFD, as in Go. */
static inline int wfj__char(const char *s, size_t *p, size_t end, unsigned char out[4]) {
    unsigned char c = (unsigned char)s[*p];
    if (c != '\\') {
        out[0] = c;
        (*p)++;
        return 1;
    }
    char e = s[*p + 1];
    *p += 2;
    switch (e) {
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': break;
    default: out[0] = (unsigned char)e; return 1;
    }
    uint32_t cp = 0;
    for (int i = 0; i < 4; i++) cp = cp << 4 | (uint32_t)wfj__hex(s[*p + i]);
    *p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t lo = 0;
        int ok = *p + 6 <= end && s[*p] == '\\' && s[*p + 1] == 'u';
        if (ok) {
            for (int i = 0; i < 4; i++) {
                int h = wfj__hex(s[*p + 2 + i]);
                if (h < 0) { ok = 0; break; }
                lo = lo << 4 | (uint32_t)h;
            }
        }
        if (ok && lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            *p += 6;
        } else {
            cp = 0xFFFD;
        }
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        cp = 0xFFFD;
    }
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the scanned string span [start, end) (with its quotes) into a new
 * malloc'd, NUL-terminated buffer; *len gets its length. NULL when out of memory. */
static inline char *wfj_string_decode(const wfj_doc *d, size_t start, size_t end, size_t *len) {
    if (end < start + 2 || end > d->n) return NULL;
    /* decoding never grows: an escape of k bytes yields at most k bytes */
    char *out = (char *)malloc(end - start);
    if (out == NULL) return NULL;
    size_t p = start + 1, n = 0;
    unsigned char ch[4];
    while (p < end - 1) {
        int k = wfj__char(d->s, &p, end - 1, ch);
        memcpy(out + n, ch, (size_t)k);
        n += (size_t)k;
    }
    out[n] = 0;
    if (len) *len = n;
    return out;
}

/* Whether the scanned string span [start, end) decodes to lit[0:len). */
static inline int wfj_string_equals(const wfj_doc *d, size_t start, size_t end, const char *lit, size_t len) {
    if (end < start + 2 || end > d->n) return 0;
    size_t p = start + 1, i = 0;
    unsigned char ch[4];
    while (p < end - 1) {
        int k = wfj__char(d->s, &p, end - 1, ch);
        if (i + (size_t)k > len || memcmp(lit + i, ch, (size_t)k) != 0) return 0;
        i += (size_t)k;
    }
    return i == len;
}

/* Finds the last member named key (len bytes) of the object starting at pos
 * (last, as Go's encoding/json does for duplicate keys). Returns 1 found,
 * 0 absent, WFJ_ERROR on bad input or when pos is not an object. */
static inline int wfj_object_get(wfj_doc *d, size_t pos, const char *key, size_t len, wfj_member *out) {
    wfj_member m;
    int count = 0, found = 0, r;
    if (wfj_object_begin(d, &pos) < 0) return WFJ_ERROR;
    while ((r = wfj_object_next(d, &pos, &count, &m)) > 0) {
        if (wfj_string_equals(d, m.key_start, m.key_end, key, len)) {
            *out = m;
            found = 1;
        }
    }
    return r < 0 ? WFJ_ERROR : found;
}

/* ---- writing ---- */

typedef struct {
    char *b;
    size_t len, cap;
    int oom; /* set once an allocation failed; later writes are dropped */
} wfj_buf;

static inline void wfj_put(wfj_buf *w, const void *p, size_t n) {
    if (w->oom) return;
    if (n > SIZE_MAX - w->len - 1) {
        w->oom = 1;
        return;
    }
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n + 1) {
            if (cap > SIZE_MAX / 2) {
                cap = w->len + n + 1;
                break;
            }
            cap *= 2;
        }
        char *b = (char *)realloc(w->b, cap);
        if (b == NULL) {
            w->oom = 1;
            return;
        }
        w->b = b;
        w->cap = cap;
    }
    memcpy(w->b + w->len, p, n);
    w->len += n;
    w->b[w->len] = 0;
}

static inline void wfj_puts(wfj_buf *w, const char *s) { wfj_put(w, s, strlen(s)); }

static inline void wfj_put_uint(wfj_buf *w, uint64_t v) {
    char tmp[20];
    int i = 20;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    wfj_put(w, tmp + i, (size_t)(20 - i));
}

/* Writes s[0:n) (UTF-8) as a JSON string literal, escaping '"', '\\' and
 * control characters. */
static inline void wfj_put_string(wfj_buf *w, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    wfj_put(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        wfj_put(w, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': wfj_put(w, "\\\"", 2); break;
        case '\\': wfj_put(w, "\\\\", 2); break;
        case '\n': wfj_put(w, "\\n", 2); break;
        case '\r': wfj_put(w, "\\r", 2); break;
        case '\t': wfj_put(w, "\\t", 2); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            wfj_put(w, u, 6);
        }
        }
    }
    wfj_put(w, s + run, n - run);
    wfj_put(w, "\"", 1);
}

/* Formats "msg at byte N" for a document error into w. */
static inline void wfj_put_error(wfj_buf *w, const wfj_doc *d) {
    wfj_puts(w, d->err ? d->err : "invalid JSON");
    wfj_puts(w, " at byte ");
    wfj_put_uint(w, d->err_pos);
}

#endif /* WASMFLOW_JSON_H */
