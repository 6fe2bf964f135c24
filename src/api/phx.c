/*
 * phx.c — Phoenix V1 (object) and V2 (array) JSON serializers: decoding a
 * client frame into its five fields, encoding a server frame around a
 * payload rendered elsewhere. Read phx.h for the contract.
 */
#include "api/phx.h"
#include "json/jw.h"

#include <string.h>

int bk_phx_vsn_parse(const char *s, bk_phx_vsn *out)
{
    if (!s || !*s || strcmp(s, "1.0.0") == 0) {
        *out = BK_PHX_V1;
        return 0;
    }
    /* "1." or "2." followed by digits and dots only */
    if ((s[0] == '1' || s[0] == '2') && s[1] == '.' && s[2]) {
        for (const char *p = s + 2; *p; p++)
            if (!((*p >= '0' && *p <= '9') || *p == '.') || strlen(s) > 16)
                return BK_EINVAL;
        *out = s[0] == '1' ? BK_PHX_V1 : BK_PHX_V2;
        return 0;
    }
    return BK_EINVAL;
}

/* A ref: a string without NUL bytes, or null (*out NULL). */
static int get_ref(const bk_jval *v, const char **out)
{
    *out = NULL;
    if (!v || bk_jv_type(v) == BK_JT_NULL)
        return 0;
    size_t n;
    if (bk_jv_str(v, out, &n) != 0 || n != strlen(*out) || n > 64) {
        *out = NULL;
        return BK_EINVAL;
    }
    return 0;
}

static int get_name(const bk_jval *v, const char **out)
{
    size_t n;
    if (bk_jv_str(v, out, &n) != 0 || n == 0 || n != strlen(*out) || n > 512)
        return BK_EINVAL;
    return 0;
}

static int fields(bk_phx_msg *m, bk_phx_vsn vsn, const bk_jval *root, bk_err *err)
{
    const bk_jval *jr, *r, *t, *e, *p;
    if (vsn == BK_PHX_V2) {
        if (bk_jv_type(root) != BK_JT_ARRAY || bk_jv_len(root) != 5)
            return bk_err_set(err, BK_EINVAL, "a vsn 2.0.0 message is an array of 5 elements");
        jr = bk_jv_at(root, 0), r = bk_jv_at(root, 1), t = bk_jv_at(root, 2);
        e = bk_jv_at(root, 3), p = bk_jv_at(root, 4);
    } else {
        if (bk_jv_type(root) != BK_JT_OBJECT)
            return bk_err_set(err, BK_EINVAL, "a vsn 1.0.0 message is a JSON object");
        jr = bk_jv_get(root, "join_ref"), r = bk_jv_get(root, "ref");
        t = bk_jv_get(root, "topic"), e = bk_jv_get(root, "event");
        p = bk_jv_get(root, "payload");
    }
    if (get_ref(jr, &m->join_ref) || get_ref(r, &m->ref))
        return bk_err_set(err, BK_EINVAL, "join_ref and ref must be strings or null");
    if (get_name(t, &m->topic))
        return bk_err_set(err, BK_EINVAL, "topic must be a non-empty string");
    if (get_name(e, &m->event))
        return bk_err_set(err, BK_EINVAL, "event must be a non-empty string");
    if (bk_jv_type(p) != BK_JT_OBJECT)
        return bk_err_set(err, BK_EINVAL, "payload must be an object");
    m->payload = p;
    return 0;
}

int bk_phx_decode(bk_phx_msg *out, bk_phx_vsn vsn, const char *data, size_t len, bk_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = bk_jdoc_parse(&out->doc, data, len, err);
    if (rc)
        return rc;
    rc = fields(out, vsn, bk_jdoc_root(out->doc), err);
    if (rc)
        bk_phx_msg_fini(out);
    return rc;
}

void bk_phx_msg_fini(bk_phx_msg *m)
{
    bk_jdoc_free(m->doc);
    memset(m, 0, sizeof *m);
}

void bk_phx_json_str(bk_buf *out, const char *s)
{
    bk_jw w;
    bk_jw_init(&w, out); /* a fresh writer at depth 0 writes one bare value */
    bk_jw_str(&w, s);
}

void bk_phx_encode_parts(bk_buf *out, bk_phx_vsn vsn, const char *join_ref, const char *ref,
                         const char *topic, const char *event, const char *const *parts, size_t n)
{
    if (vsn == BK_PHX_V2) {
        bk_buf_puts(out, "[");
        bk_phx_json_str(out, join_ref);
        bk_buf_puts(out, ",");
        bk_phx_json_str(out, ref);
        bk_buf_puts(out, ",");
        bk_phx_json_str(out, topic);
        bk_buf_puts(out, ",");
        bk_phx_json_str(out, event);
        bk_buf_puts(out, ",");
        for (size_t i = 0; i < n; i++)
            bk_buf_puts(out, parts[i]);
        bk_buf_puts(out, "]");
        return;
    }
    bk_buf_puts(out, "{\"topic\":");
    bk_phx_json_str(out, topic);
    bk_buf_puts(out, ",\"event\":");
    bk_phx_json_str(out, event);
    bk_buf_puts(out, ",\"payload\":");
    for (size_t i = 0; i < n; i++)
        bk_buf_puts(out, parts[i]);
    bk_buf_puts(out, ",\"ref\":");
    bk_phx_json_str(out, ref);
    bk_buf_puts(out, "}");
}

void bk_phx_encode(bk_buf *out, bk_phx_vsn vsn, const char *join_ref, const char *ref,
                   const char *topic, const char *event, const char *payload)
{
    bk_phx_encode_parts(out, vsn, join_ref, ref, topic, event, &payload, 1);
}
