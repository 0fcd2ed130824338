/*
 * wsgid_wire.c: uwsgi request packet encoding and response head parsing
 * (docs/protocol.md).  Standard C only: this file is compiled into the
 * Apache module and, on its own, into tests/c/test_wire.c.
 *
 * Rules: every size is computed before anything is written and checked
 * against the limit of the field that will carry it; the head parser
 * validates the whole head before it reports a single header, so that a
 * caller never acts on half of a malformed head.
 */
#include <string.h>

#include "wsgid_wire.h"

/* Each pair costs a u16 key length and a u16 value length. */
#define WSGID_WIRE_PAIR_OVERHEAD 4u

wsgid_wire_size_result wsgid_wire_vars_size(const wsgid_wire_var *vars,
                                            size_t n, size_t *size)
{
    size_t total = 0;
    size_t i;
    wsgid_wire_size_result result = WSGID_WIRE_OK;

    for (i = 0; i < n; i++) {
        size_t pair;

        if (vars[i].key_len == 0 && result == WSGID_WIRE_OK) {
            result = WSGID_WIRE_EMPTY_KEY;
        }
        /* Saturating sum: the caller logs the size even when it is absurd. */
        pair = WSGID_WIRE_PAIR_OVERHEAD;
        if (vars[i].key_len > SIZE_MAX - pair) {
            pair = SIZE_MAX;
        }
        else {
            pair += vars[i].key_len;
            pair = (vars[i].value_len > SIZE_MAX - pair)
                   ? SIZE_MAX : pair + vars[i].value_len;
        }
        total = (pair > SIZE_MAX - total) ? SIZE_MAX : total + pair;
    }
    *size = total;
    if (result != WSGID_WIRE_OK) {
        return result;
    }
    if (n > WSGID_WIRE_MAX_VARS) {
        return WSGID_WIRE_TOO_MANY_VARS;
    }
    /* A pair's own lengths are below the total, so this one check also
     * keeps every u16 key and value length in range. */
    if (total > WSGID_WIRE_MAX_VARS_SIZE) {
        return WSGID_WIRE_TOO_LARGE;
    }
    return WSGID_WIRE_OK;
}

static unsigned char *put_u16le(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)((v >> 8) & 0xff);
    return p + 2;
}

size_t wsgid_wire_encode(const wsgid_wire_var *vars, size_t n,
                         size_t vars_size, unsigned char *buf)
{
    /*
     * offset 0: modifier1 = 0 (WSGI request)
     * offset 1: datasize, u16 little-endian
     * offset 3: modifier2 = 0
     * offset 4: pairs of (u16 LE key length, key, u16 LE value length, value)
     */
    unsigned char *p = buf;
    size_t i;

    *p++ = 0;
    p = put_u16le(p, vars_size);
    *p++ = 0;
    for (i = 0; i < n; i++) {
        p = put_u16le(p, vars[i].key_len);
        memcpy(p, vars[i].key, vars[i].key_len);
        p += vars[i].key_len;
        p = put_u16le(p, vars[i].value_len);
        if (vars[i].value_len) {
            memcpy(p, vars[i].value, vars[i].value_len);
            p += vars[i].value_len;
        }
    }
    return (size_t)(p - buf);
}

/* RFC 7230 tchar */
static int is_token_char(unsigned char c)
{
    if (c >= '0' && c <= '9') return 1;
    if (c >= 'a' && c <= 'z') return 1;
    if (c >= 'A' && c <= 'Z') return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field content: visible ASCII, obs-text (>= 0x80), SP and HTAB. */
static int is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 1 if s[0..len) is name, ignoring ASCII case. */
static int name_is(const char *s, size_t len, const char *name)
{
    size_t i;

    if (strlen(name) != len) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        char a = s[i], b = name[i];

        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
        if (a != b) {
            return 0;
        }
    }
    return 1;
}

/* Content-Length: 1*DIGIT, and at most 18 digits so that any value fits
 * the signed 64-bit apr_off_t that Apache keeps it in. */
static int is_content_length(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > 18) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!is_digit(s[i])) {
            return 0;
        }
    }
    return 1;
}

static int all_field_chars(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (!is_field_char((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Find the end of the head: the first empty line (LF or CRLF alone).
 * Returns 1 and sets *body_offset when found; head->scanned always points
 * at the start of a line not yet known to be terminated. */
static int find_head_end(const char *buf, size_t len, wsgid_head *head,
                         size_t *body_offset)
{
    size_t line = head->scanned;

    while (line < len) {
        const char *nl = memchr(buf + line, '\n', len - line);
        size_t line_len;

        if (nl == NULL) {
            break;
        }
        line_len = (size_t)(nl - (buf + line));
        if (line_len == 0 || (line_len == 1 && buf[line] == '\r')) {
            *body_offset = (size_t)(nl - buf) + 1;
            head->scanned = line;
            return 1;
        }
        line = (size_t)(nl - buf) + 1;
    }
    head->scanned = line;
    return 0;
}

static wsgid_head_result parse_status_line(const char *s, size_t len,
                                           wsgid_head *head)
{
    /* "HTTP/1.x NNN" then SP and a reason phrase (which may be empty) */
    if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !is_digit(s[7])
        || s[8] != ' ' || !is_digit(s[9]) || !is_digit(s[10])
        || !is_digit(s[11])) {
        return WSGID_HEAD_BAD_STATUS_LINE;
    }
    /* 000 is no HTTP status: the daemon's "send the request again"
     * (wsgid_replay.h), which no application can send (the daemon refuses
     * codes below 100) */
    if ((s[9] < '1' || s[9] > '5')
        && !(s[9] == '0' && s[10] == '0' && s[11] == '0')) {
        return WSGID_HEAD_BAD_STATUS_LINE;
    }
    if (len > 12 && s[12] != ' ') {
        return WSGID_HEAD_BAD_STATUS_LINE;
    }
    head->http_minor = s[7] - '0';
    head->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    head->reason = s + (len > 12 ? 13 : 12);
    head->reason_len = len > 12 ? len - 13 : 0;
    if (!all_field_chars(head->reason, head->reason_len)) {
        return WSGID_HEAD_BAD_STATUS_LINE;
    }
    return WSGID_HEAD_OK;
}

/* Split one header line into trimmed name and value and validate both. */
static wsgid_head_result split_header_line(const char *s, size_t len,
                                           const char **value,
                                           size_t *name_len,
                                           size_t *value_len)
{
    const char *colon;
    const char *v;
    const char *end = s + len;
    size_t i;

    if (len == 0 || s[0] == ' ' || s[0] == '\t') {
        return WSGID_HEAD_BAD_HEADER_LINE;   /* obs-fold is not allowed */
    }
    colon = memchr(s, ':', len);
    if (colon == NULL) {
        /* a name that is no token says more than "no colon" */
        for (i = 0; i < len; i++) {
            if (!is_token_char((unsigned char)s[i])) {
                return WSGID_HEAD_BAD_HEADER_NAME;
            }
        }
        return WSGID_HEAD_BAD_HEADER_LINE;
    }
    if (colon == s) {
        return WSGID_HEAD_BAD_HEADER_NAME;
    }
    for (i = 0; s + i < colon; i++) {
        if (!is_token_char((unsigned char)s[i])) {
            return WSGID_HEAD_BAD_HEADER_NAME;
        }
    }
    v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    if (!all_field_chars(v, (size_t)(end - v))) {
        return WSGID_HEAD_BAD_HEADER_VALUE;
    }
    *name_len = (size_t)(colon - s);
    *value = v;
    *value_len = (size_t)(end - v);
    return WSGID_HEAD_OK;
}

/* The headers that must not make a response mean two things (see
 * wsgid_wire_parse_head); content_lengths counts the Content-Length lines
 * seen so far. */
static wsgid_head_result check_framing_header(const char *name,
                                              size_t name_len,
                                              const char *value,
                                              size_t value_len,
                                              int *content_lengths)
{
    if (name_is(name, name_len, "Content-Length")) {
        if (++*content_lengths > 1 || !is_content_length(value, value_len)) {
            return WSGID_HEAD_BAD_CONTENT_LENGTH;
        }
    }
    else if (name_is(name, name_len, "Status")) {
        return WSGID_HEAD_STATUS_HEADER;
    }
    return WSGID_HEAD_OK;
}

/* Walk the lines of a complete head; emit headers only when emit is set. */
static wsgid_head_result walk_head(const char *buf, size_t head_end,
                                   wsgid_head *head, int emit,
                                   wsgid_head_header_fn on_header, void *ctx)
{
    size_t pos = 0;
    int first = 1;
    int content_lengths = 0;

    while (pos < head_end) {
        const char *nl = memchr(buf + pos, '\n', head_end - pos);
        size_t len = (size_t)(nl - (buf + pos));
        wsgid_head_result rv;

        if (len == 0 || buf[pos + len - 1] != '\r') {
            head->error_offset = pos;
            return WSGID_HEAD_BARE_LF;
        }
        len--;
        if (len == 0) {
            if (first) {
                head->error_offset = pos;
                return WSGID_HEAD_BAD_STATUS_LINE;
            }
            return WSGID_HEAD_OK;   /* the blank line ending the head */
        }
        if (first) {
            rv = parse_status_line(buf + pos, len, head);
            first = 0;
        }
        else {
            const char *value;
            size_t name_len, value_len;

            rv = split_header_line(buf + pos, len, &value, &name_len,
                                   &value_len);
            if (rv == WSGID_HEAD_OK) {
                rv = check_framing_header(buf + pos, name_len, value,
                                          value_len, &content_lengths);
            }
            if (rv == WSGID_HEAD_OK && emit && on_header != NULL
                && on_header(ctx, buf + pos, name_len, value, value_len)) {
                rv = WSGID_HEAD_CALLBACK_FAILED;
            }
        }
        if (rv != WSGID_HEAD_OK) {
            head->error_offset = pos;
            return rv;
        }
        pos = (size_t)(nl - buf) + 1;
    }
    return WSGID_HEAD_OK;
}

wsgid_head_result wsgid_wire_parse_head(const char *buf, size_t len,
                                        wsgid_head *head,
                                        wsgid_head_header_fn on_header,
                                        void *ctx)
{
    size_t body_offset = 0;
    size_t limit = head->max_size ? head->max_size : WSGID_WIRE_MAX_HEAD_SIZE;
    wsgid_head_result rv;

    if (!find_head_end(buf, len, head, &body_offset)) {
        /* Without a blank line within the limit the head is too large. */
        if (len >= limit) {
            head->error_offset = 0;
            return WSGID_HEAD_TOO_LARGE;
        }
        return WSGID_HEAD_NEED_MORE;
    }
    if (body_offset > limit) {
        head->error_offset = 0;
        return WSGID_HEAD_TOO_LARGE;
    }
    rv = walk_head(buf, body_offset, head, 0, NULL, NULL);
    if (rv == WSGID_HEAD_OK && on_header != NULL) {
        rv = walk_head(buf, body_offset, head, 1, on_header, ctx);
    }
    if (rv == WSGID_HEAD_OK) {
        head->body_offset = body_offset;
    }
    return rv;
}

wsgid_head_result wsgid_wire_head_each_header(const char *buf,
                                              const wsgid_head *checked,
                                              wsgid_head_header_fn on_header,
                                              void *ctx)
{
    /* One walk: the checks of the first parse pass again on the same bytes,
     * so only the callback can stop it.  The walk writes the status fields,
     * to a copy. */
    wsgid_head again = *checked;

    return walk_head(buf, checked->body_offset, &again, 1, on_header, ctx);
}

const char *wsgid_wire_head_result_text(wsgid_head_result result)
{
    switch (result) {
    case WSGID_HEAD_OK:
        return "complete head";
    case WSGID_HEAD_NEED_MORE:
        return "incomplete head";
    case WSGID_HEAD_TOO_LARGE:
        return "response head larger than its limit";
    case WSGID_HEAD_BAD_STATUS_LINE:
        return "malformed status line (expected 'HTTP/1.x NNN reason')";
    case WSGID_HEAD_BAD_HEADER_LINE:
        return "malformed header line (no colon, or a folded line)";
    case WSGID_HEAD_BAD_HEADER_NAME:
        return "header name is not an HTTP token";
    case WSGID_HEAD_BAD_HEADER_VALUE:
        return "header value contains CR, LF or another control character";
    case WSGID_HEAD_CALLBACK_FAILED:
        return "header refused";
    case WSGID_HEAD_BAD_CONTENT_LENGTH:
        return "Content-Length is not 1 to 18 digits, or is repeated";
    case WSGID_HEAD_STATUS_HEADER:
        return "a Status header beside the status line";
    case WSGID_HEAD_BARE_LF:
        return "a line ends in a bare LF instead of CRLF";
    }
    return "unknown result";
}

int wsgid_wire_is_hop_by_hop(const char *name, size_t name_len)
{
    static const char *const hop_by_hop[] = {
        "Connection", "Keep-Alive", "Proxy-Authenticate",
        "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding",
        "Upgrade", NULL
    };
    size_t i;

    for (i = 0; hop_by_hop[i] != NULL; i++) {
        if (name_is(name, name_len, hop_by_hop[i])) {
            return 1;
        }
    }
    return 0;
}
