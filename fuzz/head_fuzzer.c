/*
 * head_fuzzer.c: libFuzzer target for the module's response head parser,
 * wsgid_wire_parse_head (cmodule/wsgid_wire.c).  fuzz/run builds it with
 *
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined -I cmodule \
 *           fuzz/head_fuzzer.c cmodule/wsgid_wire.c cmodule/wsgid_frames.c
 *
 * and runs it on the seed corpus in fuzz/corpus/head/.  An input is the
 * bytes a daemon (or something pretending to be one) sends back.
 *
 * Besides the sanitizers' own findings, every result must be consistent
 * (a violation aborts, which libFuzzer reports with the input):
 * - a header the callback sees has a token name and a value of field
 *   characters without CR, LF or NUL, no surrounding blanks, and lies
 *   inside the head; nothing is reported for a malformed head;
 * - a complete head has a status of 100-599, or 0 for the status line
 *   "000" (the daemon's "send it again", wsgid_replay.h), ends with its blank line
 *   within the input and within 64 KiB, has only CRLF line ends, and
 *   reported one header per line;
 *   it has at most one Content-Length, of digits only, and no Status;
 * - the same bytes arriving in pieces (the parser called again with a
 *   longer buffer and the same state, as the module does) give the same
 *   result and the same headers as all at once;
 * - a callback that refuses a header stops the parse there;
 * - the bytes after a complete head (else the whole input), read as a framed
 *   body (cmodule/wsgid_frames.c), give the same body bytes and the same end
 *   whole or split at any point, never more bytes than went in.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsgid_frames.h"
#include "wsgid_wire.h"

#define REQUIRE(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "head_fuzzer: %s:%d: property failed: %s\n", \
                    __FILE__, __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

/* What the callback saw: the count and a checksum of every byte and
 * boundary, so that two parses can be compared without storing headers. */
typedef struct {
    const char *buf;
    size_t head_limit;      /* headers must lie in buf[0..head_limit) */
    size_t count;
    size_t refuse_at;       /* refuse the header with this index (0 = never) */
    uint64_t digest;
    size_t content_lengths;
} seen_headers;

static int is_token_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z')
           || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int same_name(const char *s, size_t len, const char *name)
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

static uint64_t mix(uint64_t digest, const char *s, size_t len)
{
    size_t i;

    digest ^= len + 0x9e3779b97f4a7c15u;
    for (i = 0; i < len; i++) {
        digest = (digest ^ (unsigned char)s[i]) * 0x100000001b3u;
    }
    return digest;
}

static int check_header(void *ctx, const char *name, size_t name_len,
                        const char *value, size_t value_len)
{
    seen_headers *seen = ctx;
    size_t i;

    REQUIRE(name_len > 0);
    REQUIRE(name >= seen->buf && value >= name + name_len);
    REQUIRE(value + value_len <= seen->buf + seen->head_limit);
    for (i = 0; i < name_len; i++) {
        REQUIRE(is_token_char((unsigned char)name[i]));
    }
    for (i = 0; i < value_len; i++) {
        REQUIRE(is_field_char((unsigned char)value[i]));
        REQUIRE(value[i] != '\r' && value[i] != '\n' && value[i] != '\0');
    }
    if (value_len > 0) {
        REQUIRE(value[0] != ' ' && value[0] != '\t');
        REQUIRE(value[value_len - 1] != ' ' && value[value_len - 1] != '\t');
    }
    REQUIRE(!same_name(name, name_len, "Status"));
    if (same_name(name, name_len, "Content-Length")) {
        REQUIRE(++seen->content_lengths == 1);
        REQUIRE(value_len >= 1 && value_len <= 18);
        for (i = 0; i < value_len; i++) {
            REQUIRE(value[i] >= '0' && value[i] <= '9');
        }
    }
    seen->count++;
    seen->digest = mix(mix(seen->digest, name, name_len), value, value_len);
    return seen->count == seen->refuse_at;
}

static size_t count_lines(const char *buf, size_t len)
{
    size_t lines = 0, i;

    for (i = 0; i < len; i++) {
        lines += buf[i] == '\n';
    }
    return lines;
}

/* One parse of buf[0..len) from a fresh state. */
static wsgid_head_result parse_once(const char *buf, size_t len,
                                    wsgid_head *head, seen_headers *seen,
                                    size_t refuse_at)
{
    memset(head, 0, sizeof(*head));
    memset(seen, 0, sizeof(*seen));
    seen->buf = buf;
    seen->head_limit = len;
    seen->refuse_at = refuse_at;
    return wsgid_wire_parse_head(buf, len, head, check_header, seen);
}

static void check_complete(const uint8_t *data, size_t size,
                           const wsgid_head *head, const seen_headers *seen)
{
    REQUIRE((head->status >= 100 && head->status <= 599)
            || (head->status == 0 && memcmp(data + 9, "000", 3) == 0));
    REQUIRE(head->http_minor >= 0 && head->http_minor <= 9);
    REQUIRE(head->body_offset >= 2 && head->body_offset <= size);
    REQUIRE(head->body_offset <= WSGID_WIRE_MAX_HEAD_SIZE);
    REQUIRE(data[head->body_offset - 1] == '\n');
    REQUIRE(head->reason >= (const char *)data
            && head->reason + head->reason_len
               <= (const char *)data + head->body_offset);
    /* every line ends in CRLF: no bare LF could have split a value */
    {
        size_t i;

        for (i = 0; i < head->body_offset; i++) {
            REQUIRE(data[i] != '\n' || (i > 0 && data[i - 1] == '\r'));
        }
    }
    /* the status line, one line per header, the blank line */
    REQUIRE(count_lines((const char *)data, head->body_offset)
            == seen->count + 2);
}

/* Feed the input as the module reads it: a buffer that grows by pieces of
 * a size the input's last byte picks, the state kept between calls.  Each
 * call gets a copy of exactly the bytes so far, so that the sanitizer sees
 * any read past them. */
static wsgid_head_result parse_in_pieces(const uint8_t *data, size_t size,
                                         wsgid_head *head, seen_headers *seen)
{
    size_t step = size ? 1 + data[size - 1] % 61 : 1;
    size_t len = 0;
    wsgid_head_result rv = WSGID_HEAD_NEED_MORE;

    if (size / step > 512) {
        step = size / 512 + 1;      /* bounded work for large inputs */
    }
    memset(head, 0, sizeof(*head));
    while (rv == WSGID_HEAD_NEED_MORE && len < size) {
        char *copy;

        len = len + step < size ? len + step : size;
        copy = malloc(len);
        REQUIRE(copy != NULL);
        memcpy(copy, data, len);
        memset(seen, 0, sizeof(*seen));
        seen->buf = copy;
        seen->head_limit = len;
        rv = wsgid_wire_parse_head(copy, len, head, check_header, seen);
        if (rv == WSGID_HEAD_OK) {
            REQUIRE(head->body_offset <= len);
        }
        free(copy);
    }
    return rv;
}

/* The framed body that follows a head (wsgid_frames.c): what comes out is the same whole or
 * split at any point, never more than went in, and an end frame stops the reading. */
typedef struct {
    size_t length;
    uint64_t digest;
} frames_out;

static int collect_frames(void *ctx, const char *data, size_t len)
{
    frames_out *out = ctx;

    size_t i;

    REQUIRE(len > 0);
    out->length += len;
    for (i = 0; i < len; i++) {   /* byte by byte: the same however the runs are cut */
        out->digest = (out->digest ^ (unsigned char)data[i]) * 1099511628211ULL;
    }
    return 0;
}

static void check_frames(const uint8_t *data, size_t size)
{
    wsgid_frames whole, split;
    frames_out whole_out = { 0, 0 }, split_out = { 0, 0 };
    size_t used = 0, used_first = 0, used_second = 0;
    size_t cut = size ? (data[0] * 257u + size) % (size + 1) : 0;
    wsgid_frames_result whole_rv, split_rv;

    wsgid_frames_init(&whole);
    whole_rv = wsgid_frames_feed(&whole, (const char *)data, size, collect_frames,
                                 &whole_out, &used);
    REQUIRE(whole_rv != WSGID_FRAMES_STOPPED);
    REQUIRE(used <= size);
    REQUIRE(whole_out.length <= size);
    REQUIRE(whole_rv == WSGID_FRAMES_ENDED || used == size);

    wsgid_frames_init(&split);
    split_rv = wsgid_frames_feed(&split, (const char *)data, cut, collect_frames,
                                 &split_out, &used_first);
    if (split_rv != WSGID_FRAMES_ENDED) {
        split_rv = wsgid_frames_feed(&split, (const char *)data + cut, size - cut,
                                     collect_frames, &split_out, &used_second);
    }
    REQUIRE(split_rv == whole_rv);
    REQUIRE(used_first + used_second == used);
    REQUIRE(split_out.length == whole_out.length);
    REQUIRE(split_out.digest == whole_out.digest);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    wsgid_head head, pieces_head, refused_head;
    seen_headers seen, pieces_seen, refused_seen;
    wsgid_head_result rv, pieces_rv, refused_rv;

    rv = parse_once(buf, size, &head, &seen, 0);
    REQUIRE(wsgid_wire_head_result_text(rv) != NULL);
    if (rv == WSGID_HEAD_OK) {
        check_complete(data, size, &head, &seen);
    }
    else {
        REQUIRE(seen.count == 0);   /* nothing of a bad head is reported */
        REQUIRE(rv != WSGID_HEAD_CALLBACK_FAILED);
    }
    if (rv == WSGID_HEAD_NEED_MORE) {
        REQUIRE(size < WSGID_WIRE_MAX_HEAD_SIZE);
    }
    else if (rv != WSGID_HEAD_OK && rv != WSGID_HEAD_TOO_LARGE) {
        REQUIRE(head.error_offset < size);
    }

    pieces_rv = parse_in_pieces(data, size, &pieces_head, &pieces_seen);
    REQUIRE(pieces_rv == rv);
    if (rv == WSGID_HEAD_OK) {
        REQUIRE(pieces_head.status == head.status);
        REQUIRE(pieces_head.body_offset == head.body_offset);
        REQUIRE(pieces_head.reason_len == head.reason_len);
        REQUIRE(pieces_seen.count == seen.count);
        REQUIRE(pieces_seen.digest == seen.digest);
    }

    if (rv == WSGID_HEAD_OK && seen.count > 0) {
        size_t refuse_at = 1 + (size % seen.count);

        refused_rv = parse_once(buf, size, &refused_head, &refused_seen,
                                refuse_at);
        REQUIRE(refused_rv == WSGID_HEAD_CALLBACK_FAILED);
        REQUIRE(refused_seen.count == refuse_at);
    }
    if (rv == WSGID_HEAD_OK) {
        check_frames(data + head.body_offset, size - head.body_offset);
    }
    else {
        check_frames(data, size);
    }
    return 0;
}
