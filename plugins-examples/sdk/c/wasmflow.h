/*
 * wasmflow.h: a header-only C SDK for wasmflow nodes built as Extism plugins
 * (clang --target=wasm32-wasi -mexec-model=reactor, wasi-libc).
 *
 * The Extism guest ABI in brief. Extism keeps its own "kernel" memory beside
 * the module's linear memory; every buffer the host and the guest exchange
 * (input, output, error message, log line, config value, host-function
 * argument and result) lives there, named by a handle: an i64 offset into the
 * kernel memory. The guest copies bytes in and out with load_* and store_* (the
 * u64 variants move 8 bytes at a time), allocates with alloc, learns a block's
 * size with length and releases it with free. The input has its own
 * input_length and input_load_* functions. An export is `int32_t f(void)`:
 * 0 for success; for failure set an error message with error_set and return
 * non-zero.
 *
 * Everything here is `static inline`: a function the program never calls is
 * not compiled, so its import does not appear in the module. That matters,
 * because wasmflow refuses a module that imports a host function its manifest
 * does not declare (wasmflow_http_fetch needs the "http" capability,
 * wasmflow_secret_get needs "secrets").
 *
 * Memory returned by wf_* functions comes from malloc and is NUL-terminated
 * (one byte beyond the reported length), so text can be used as a C string.
 * Every function that allocates returns NULL when memory runs out.
 */
#ifndef WASMFLOW_H
#define WASMFLOW_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WF_EXTISM(name) __attribute__((import_module("extism:host/env"), import_name(name)))
#define WF_USER(name) __attribute__((import_module("extism:host/user"), import_name(name)))
/* Marks a function as an export of the module, e.g. WF_EXPORT("run") int32_t run(void). */
#define WF_EXPORT(name) __attribute__((export_name(name)))

typedef uint64_t wf_handle; /* offset of a block in Extism kernel memory; 0 = none */

/* ---- raw Extism imports ("extism:host/env") ---- */
WF_EXTISM("input_length") extern uint64_t extism_input_length(void);
WF_EXTISM("input_load_u8") extern uint32_t extism_input_load_u8(uint64_t offset);
WF_EXTISM("input_load_u64") extern uint64_t extism_input_load_u64(uint64_t offset);
WF_EXTISM("alloc") extern wf_handle extism_alloc(uint64_t length);
WF_EXTISM("free") extern void extism_free(wf_handle h);
WF_EXTISM("length") extern uint64_t extism_length(wf_handle h);
WF_EXTISM("load_u8") extern uint32_t extism_load_u8(uint64_t offset);
WF_EXTISM("load_u64") extern uint64_t extism_load_u64(uint64_t offset);
WF_EXTISM("store_u8") extern void extism_store_u8(uint64_t offset, uint32_t v);
WF_EXTISM("store_u64") extern void extism_store_u64(uint64_t offset, uint64_t v);
WF_EXTISM("output_set") extern void extism_output_set(wf_handle h, uint64_t length);
WF_EXTISM("error_set") extern void extism_error_set(wf_handle h);
WF_EXTISM("config_get") extern wf_handle extism_config_get(wf_handle key);
WF_EXTISM("var_get") extern wf_handle extism_var_get(wf_handle key);
WF_EXTISM("var_set") extern void extism_var_set(wf_handle key, wf_handle value);
WF_EXTISM("log_trace") extern void extism_log_trace(wf_handle h);
WF_EXTISM("log_debug") extern void extism_log_debug(wf_handle h);
WF_EXTISM("log_info") extern void extism_log_info(wf_handle h);
WF_EXTISM("log_warn") extern void extism_log_warn(wf_handle h);
WF_EXTISM("log_error") extern void extism_log_error(wf_handle h);

/* ---- wasmflow host functions ("extism:host/user"), linked only when granted ---- */
WF_USER("wasmflow_http_fetch") extern wf_handle wasmflow_http_fetch(wf_handle request);
WF_USER("wasmflow_secret_get") extern wf_handle wasmflow_secret_get(wf_handle name);

/* ---- copying ---- */

static inline uint64_t wf__le64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8); /* wasm is little-endian */
    return v;
}

/* Copies len bytes into a new kernel block; the caller passes it on or frees it. */
static inline wf_handle wf_alloc_bytes(const void *data, size_t len) {
    const unsigned char *p = (const unsigned char *)data;
    wf_handle h = extism_alloc((uint64_t)len);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) extism_store_u64(h + i, wf__le64(p + i));
    for (; i < len; i++) extism_store_u8(h + i, p[i]);
    return h;
}

/* Copies the kernel block h into malloc'd memory (NUL-terminated). */
static inline char *wf_read_handle(wf_handle h, size_t *len) {
    uint64_t n = extism_length(h);
    if (n >= SIZE_MAX) return NULL;
    unsigned char *b = (unsigned char *)malloc((size_t)n + 1);
    if (b == NULL) return NULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = extism_load_u64(h + i);
        memcpy(b + i, &v, 8);
    }
    for (; i < n; i++) b[i] = (unsigned char)extism_load_u8(h + i);
    b[n] = 0;
    if (len) *len = (size_t)n;
    return (char *)b;
}

/* The input of the current call (the input document), NUL-terminated. */
static inline char *wf_input(size_t *len) {
    uint64_t n = extism_input_length();
    if (n >= SIZE_MAX) return NULL;
    unsigned char *b = (unsigned char *)malloc((size_t)n + 1);
    if (b == NULL) return NULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = extism_input_load_u64(i);
        memcpy(b + i, &v, 8);
    }
    for (; i < n; i++) b[i] = (unsigned char)extism_input_load_u8(i);
    b[n] = 0;
    if (len) *len = (size_t)n;
    return (char *)b;
}

/* Sets the output of the current call (a node must output an output document). */
static inline void wf_output(const void *data, size_t len) {
    extism_output_set(wf_alloc_bytes(data, len), (uint64_t)len);
}

/* Sets the error message; the export must then return non-zero (see wf_fail). */
static inline void wf_error(const char *msg) {
    if (msg == NULL || *msg == 0) msg = "error";
    extism_error_set(wf_alloc_bytes(msg, strlen(msg)));
}

/* Sets the error message and returns 1, for `return wf_fail("...");`. */
static inline int32_t wf_fail(const char *msg) {
    wf_error(msg);
    return 1;
}

/* ---- logging: one function per level, each importing only its own log_* ---- */
#define WF__LOG(level)                                                   \
    static inline void wf_log_##level(const char *msg) {                 \
        wf_handle h = wf_alloc_bytes(msg, strlen(msg));                  \
        extism_log_##level(h);                                           \
        extism_free(h);                                                  \
    }
WF__LOG(trace)
WF__LOG(debug)
WF__LOG(info)
WF__LOG(warn)
WF__LOG(error)
#undef WF__LOG

/* ---- config and vars ---- */

/* The Extism config value of key, or NULL when unset. */
static inline char *wf_config_get(const char *key, size_t *len) {
    wf_handle k = wf_alloc_bytes(key, strlen(key));
    wf_handle v = extism_config_get(k);
    extism_free(k);
    if (v == 0) return NULL;
    char *out = wf_read_handle(v, len);
    extism_free(v);
    return out;
}

/* The Extism variable key, or NULL (a wasmflow run gets a fresh instance, so
 * variables last for one run). */
static inline char *wf_var_get(const char *key, size_t *len) {
    wf_handle k = wf_alloc_bytes(key, strlen(key));
    wf_handle v = extism_var_get(k);
    extism_free(k);
    if (v == 0) return NULL;
    return wf_read_handle(v, len);
}

/* Sets the Extism variable key; value NULL removes it. */
static inline void wf_var_set(const char *key, const void *value, size_t len) {
    wf_handle k = wf_alloc_bytes(key, strlen(key));
    wf_handle v = value ? wf_alloc_bytes(value, len) : 0;
    extism_var_set(k, v);
    extism_free(k);
    if (v) extism_free(v);
}

/* ---- wasmflow host functions ---- */

/* Sends an HTTP request through the host (capability "http"). request is the
 * JSON {"method", "url", "headers": {"k": "v"}, "body": "<base64>"}; the reply
 * is {"status", "headers", "body": "<base64>"} or {"error": {"code",
 * "message"}}. Returns the malloc'd reply, or NULL when the host gave none. */
static inline char *wf_http_fetch(const char *request, size_t request_len, size_t *reply_len) {
    wf_handle in = wf_alloc_bytes(request, request_len);
    wf_handle out = wasmflow_http_fetch(in);
    extism_free(in);
    if (out == 0) return NULL;
    char *reply = wf_read_handle(out, reply_len);
    extism_free(out);
    return reply;
}

/* Returns the value of the declared secret name (capability "secrets"), or
 * NULL. The host fails the run on a name the manifest does not declare. */
static inline char *wf_secret_get(const char *name, size_t *value_len) {
    wf_handle in = wf_alloc_bytes(name, strlen(name));
    wf_handle out = wasmflow_secret_get(in);
    extism_free(in);
    if (out == 0) return NULL;
    char *value = wf_read_handle(out, value_len);
    extism_free(out);
    return value;
}

#endif /* WASMFLOW_H */
