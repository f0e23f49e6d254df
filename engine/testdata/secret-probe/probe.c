/*
 * secret-probe: a test node that reads the secrets its params name and
 * misuses them the way careless nodes do, so that tests can check what the
 * host refuses, records and redacts.
 *
 * Params: "read": ["token", ...] the declared names to read, in order;
 * "fail": true makes the run fail with an error message holding the values.
 * Every value read is logged, and output as an item {"name", "value"}.
 *
 * Rebuild (clang, wasi-libc; see plugins-examples/Makefile):
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-debug \
 *     -I../../../plugins-examples/sdk/c -o secret-probe.wasm probe.c
 */
#include "json.h"
#include "wasmflow.h"

WF_EXPORT("run") int32_t run(void) {
    size_t n = 0;
    char *in = wf_input(&n);
    if (in == NULL) return wf_fail("no input");
    wfj_doc d = wfj_init(in, n);
    wfj_member params, read;
    if (wfj_object_get(&d, 0, "params", 6, &params) != 1 || params.type != WFJ_OBJECT)
        return wf_fail("params is missing");
    int fail = 0;
    wfj_member f;
    if (wfj_object_get(&d, params.start, "fail", 4, &f) == 1 && f.type == WFJ_TRUE) fail = 1;

    wfj_buf out = {0}, msg = {0};
    wfj_puts(&out, "{\"items\":[");
    wfj_puts(&msg, "failing with");
    if (wfj_object_get(&d, params.start, "read", 4, &read) == 1 && read.type == WFJ_ARRAY) {
        size_t pos = read.start;
        int count = 0, r;
        wfj_member el;
        if (wfj_array_begin(&d, &pos) < 0) return wf_fail("read is not a list");
        while ((r = wfj_array_next(&d, &pos, &count, &el)) > 0) {
            if (el.type != WFJ_STRING) return wf_fail("read holds a non-string");
            size_t name_len = 0, value_len = 0;
            char *name = wfj_string_decode(&d, el.start, el.end, &name_len);
            if (name == NULL) return wf_fail("bad name");
            char *value = wf_secret_get(name, &value_len);
            if (value == NULL) return wf_fail("no value");
            wfj_buf line = {0};
            wfj_puts(&line, "read ");
            wfj_puts(&line, name);
            wfj_puts(&line, ": ");
            wfj_put(&line, value, value_len);
            wf_log_info(line.b);
            if (count > 1) wfj_puts(&out, ",");
            wfj_puts(&out, "{\"name\":");
            wfj_put_string(&out, name, name_len);
            wfj_puts(&out, ",\"value\":");
            wfj_put_string(&out, value, value_len);
            wfj_puts(&out, "}");
            wfj_puts(&msg, " ");
            wfj_put(&msg, value, value_len);
        }
        if (r < 0) return wf_fail("read is not a valid list");
    }
    wfj_puts(&out, "]}");
    if (out.oom || msg.oom) return wf_fail("out of memory");
    if (fail) return wf_fail(msg.b);
    wf_output(out.b, out.len);
    return 0;
}
