/*
 * test_wire.c: unit tests of cmodule/wsgid_wire.c, the uwsgi packet encoder
 * and the response head parser.  Built and run by tests/unit/test_cwire.py:
 *
 *     cc -std=c99 -Wall -Wextra -I cmodule tests/c/test_wire.c \
 *        cmodule/wsgid_wire.c -o test_wire && ./test_wire
 *
 * Prints one line per failed check and exits non-zero when any failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsgid_wire.h"

static int failures;
static int checks;

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)

static void check(int ok, const char *what, const char *file, int line)
{
    checks++;
    if (!ok) {
        failures++;
        printf("FAIL %s:%d: %s\n", file, line, what);
    }
}

static wsgid_wire_var var(const char *key, const char *value)
{
    wsgid_wire_var v;

    v.key = key;
    v.key_len = strlen(key);
    v.value = value;
    v.value_len = strlen(value);
    return v;
}

static void test_encode_golden_bytes(void)
{
    static const unsigned char expected[] = {
        0x00, 0x0c, 0x00, 0x00,
        0x01, 0x00, 'A', 0x01, 0x00, '1',
        0x02, 0x00, 'B', 'C', 0x00, 0x00
    };
    wsgid_wire_var vars[2];
    unsigned char buf[64];
    size_t size = 0;

    vars[0] = var("A", "1");
    vars[1] = var("BC", "");
    CHECK(wsgid_wire_vars_size(vars, 2, &size) == WSGID_WIRE_OK);
    CHECK(size == 12);
    CHECK(wsgid_wire_encode(vars, 2, size, buf) == sizeof(expected));
    CHECK(memcmp(buf, expected, sizeof(expected)) == 0);
}

static void test_encode_empty_packet(void)
{
    unsigned char buf[4] = { 0xff, 0xff, 0xff, 0xff };
    size_t size = 99;

    CHECK(wsgid_wire_vars_size(NULL, 0, &size) == WSGID_WIRE_OK);
    CHECK(size == 0);
    CHECK(wsgid_wire_encode(NULL, 0, size, buf) == 4);
    CHECK(buf[0] == 0 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0);
}

static void test_encode_exactly_65535_accepted(void)
{
    /* 4 bytes of lengths + 1 key byte + 65530 value bytes = 65535 */
    size_t value_len = 65535 - 4 - 1;
    char *value = malloc(value_len);
    unsigned char *buf = malloc(4 + 65535);
    wsgid_wire_var v;
    size_t size = 0;

    memset(value, 'v', value_len);
    v.key = "K";
    v.key_len = 1;
    v.value = value;
    v.value_len = value_len;
    CHECK(wsgid_wire_vars_size(&v, 1, &size) == WSGID_WIRE_OK);
    CHECK(size == 65535);
    CHECK(wsgid_wire_encode(&v, 1, size, buf) == 4 + 65535);
    CHECK(buf[0] == 0x00 && buf[1] == 0xff && buf[2] == 0xff && buf[3] == 0x00);
    CHECK(buf[4] == 0x01 && buf[5] == 0x00 && buf[6] == 'K');
    CHECK(buf[7] == 0xfa && buf[8] == 0xff);   /* 65530 little-endian */
    CHECK(buf[9] == 'v' && buf[4 + 65534] == 'v');
    free(value);
    free(buf);
}

static void test_encode_65536_refused(void)
{
    wsgid_wire_var v;
    size_t size = 0;

    v.key = "K";
    v.key_len = 1;
    v.value = "";            /* never read: the size check comes first */
    v.value_len = 65535 - 4; /* one byte too many */
    CHECK(wsgid_wire_vars_size(&v, 1, &size) == WSGID_WIRE_TOO_LARGE);
    CHECK(size == 65536);
}

static void test_size_never_wraps(void)
{
    wsgid_wire_var vars[2];
    size_t size = 0;

    /* a value whose length mod 65536 is small must not look small */
    vars[0].key = "K";
    vars[0].key_len = 1;
    vars[0].value = "";
    vars[0].value_len = 65536 + 3;
    CHECK(wsgid_wire_vars_size(vars, 1, &size) == WSGID_WIRE_TOO_LARGE);
    CHECK(size == 65536 + 3 + 5);

    /* sizes near SIZE_MAX saturate instead of wrapping to a small total */
    vars[1] = vars[0];
    vars[0].value_len = SIZE_MAX - 2;
    vars[1].key_len = SIZE_MAX;
    CHECK(wsgid_wire_vars_size(vars, 2, &size) == WSGID_WIRE_TOO_LARGE);
    CHECK(size == SIZE_MAX);
}

static void test_too_many_vars_refused(void)
{
    wsgid_wire_var vars[1001];
    size_t i, size = 0;

    for (i = 0; i < 1001; i++) {
        vars[i] = var("K", "");
    }
    CHECK(wsgid_wire_vars_size(vars, 1000, &size) == WSGID_WIRE_OK);
    CHECK(wsgid_wire_vars_size(vars, 1001, &size) == WSGID_WIRE_TOO_MANY_VARS);
}

static void test_empty_key_refused(void)
{
    wsgid_wire_var vars[2];
    size_t size = 0;

    vars[0] = var("A", "1");
    vars[1] = var("", "x");
    CHECK(wsgid_wire_vars_size(vars, 2, &size) == WSGID_WIRE_EMPTY_KEY);
}

/* Collects the headers a parse reports. */
typedef struct {
    int count;
    char lines[8][128];
} header_log;

static int collect_header(void *ctx, const char *name, size_t name_len,
                          const char *value, size_t value_len)
{
    header_log *log = ctx;

    if (log->count < 8) {
        snprintf(log->lines[log->count], sizeof(log->lines[0]), "%.*s=[%.*s]",
                 (int)name_len, name, (int)value_len, value);
    }
    log->count++;
    return 0;
}

static wsgid_head_result parse_all(const char *buf, size_t len,
                                   wsgid_head *head, header_log *log)
{
    memset(head, 0, sizeof(*head));
    memset(log, 0, sizeof(*log));
    return wsgid_wire_parse_head(buf, len, head, collect_header, log);
}

static const char good_head[] =
    "HTTP/1.1 201 Created Here\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Set-Cookie: a=1\r\n"
    "Set-Cookie:  b=2 \t\r\n"
    "X-Empty:\r\n"
    "\r\n"
    "body bytes";

static void test_head_good(void)
{
    wsgid_head head;
    header_log log;

    CHECK(parse_all(good_head, strlen(good_head), &head, &log) == WSGID_HEAD_OK);
    CHECK(head.status == 201);
    CHECK(head.http_minor == 1);
    CHECK(head.reason_len == 12 && memcmp(head.reason, "Created Here", 12) == 0);
    CHECK(log.count == 4);
    CHECK(strcmp(log.lines[0], "Content-Type=[text/plain; charset=utf-8]") == 0);
    CHECK(strcmp(log.lines[1], "Set-Cookie=[a=1]") == 0);
    CHECK(strcmp(log.lines[2], "Set-Cookie=[b=2]") == 0);
    CHECK(strcmp(log.lines[3], "X-Empty=[]") == 0);
    CHECK(strcmp(good_head + head.body_offset, "body bytes") == 0);
}

static void test_head_split_in_pieces(void)
{
    size_t total = strlen(good_head);
    size_t head_len = total - strlen("body bytes");
    size_t len;
    wsgid_head head;
    header_log log;

    /* one byte at a time, with the same state carried between calls */
    memset(&head, 0, sizeof(head));
    memset(&log, 0, sizeof(log));
    for (len = 1; len < head_len; len++) {
        if (wsgid_wire_parse_head(good_head, len, &head, collect_header, &log)
            != WSGID_HEAD_NEED_MORE) {
            break;
        }
    }
    CHECK(len == head_len);
    CHECK(log.count == 0);
    CHECK(wsgid_wire_parse_head(good_head, head_len, &head, collect_header,
                                &log) == WSGID_HEAD_OK);
    CHECK(head.body_offset == head_len);
    CHECK(log.count == 4);

    /* a break between CR and LF of the blank line */
    CHECK(parse_all(good_head, head_len - 1, &head, &log) == WSGID_HEAD_NEED_MORE);
    CHECK(parse_all("HTTP/1.1 200 OK\r\n", 17, &head, &log) == WSGID_HEAD_NEED_MORE);
    CHECK(parse_all("", 0, &head, &log) == WSGID_HEAD_NEED_MORE);
}

static void test_head_status_without_reason(void)
{
    static const char text[] = "HTTP/1.1 204 \r\n\r\n";
    static const char text2[] = "HTTP/1.1 204\r\n\r\n";
    wsgid_head head;
    header_log log;

    CHECK(parse_all(text, strlen(text), &head, &log) == WSGID_HEAD_OK);
    CHECK(head.status == 204 && head.reason_len == 0);
    CHECK(parse_all(text2, strlen(text2), &head, &log) == WSGID_HEAD_OK);
}

/* The daemon's "send the request again" (wsgid_replay.h): status 0. */
static void test_head_send_again(void)
{
    static const char text[] = "HTTP/1.1 000 Script Changed\r\n"
                               "Wsgid-Attempts: 9\r\n\r\n";
    wsgid_head head;
    header_log log;

    CHECK(parse_all(text, strlen(text), &head, &log) == WSGID_HEAD_OK);
    CHECK(head.status == 0);
}

static void expect_head_error(const char *text, size_t len,
                              wsgid_head_result expected, int line)
{
    wsgid_head head;
    header_log log;
    wsgid_head_result rv = parse_all(text, len, &head, &log);

    checks++;
    if (rv != expected) {
        failures++;
        printf("FAIL %s:%d: expected %s, got %s\n", __FILE__, line,
               wsgid_wire_head_result_text(expected),
               wsgid_wire_head_result_text(rv));
    }
    /* nothing of a malformed head is ever reported */
    CHECK(log.count == 0);
}

#define EXPECT_HEAD_ERROR(text, result) \
    expect_head_error((text), sizeof(text) - 1, (result), __LINE__)

static void test_head_bad_status_line(void)
{
    EXPECT_HEAD_ERROR("HTTP/2 200 OK\r\n\r\n", WSGID_HEAD_BAD_STATUS_LINE);
    EXPECT_HEAD_ERROR("HTTP/1.1 20 OK\r\n\r\n", WSGID_HEAD_BAD_STATUS_LINE);
    EXPECT_HEAD_ERROR("HTTP/1.1 200OK\r\n\r\n", WSGID_HEAD_BAD_STATUS_LINE);
    EXPECT_HEAD_ERROR("HTTP/1.1 2x0 OK\r\n\r\n", WSGID_HEAD_BAD_STATUS_LINE);
    EXPECT_HEAD_ERROR("HTTP/1.1 600 Nope\r\n\r\n", WSGID_HEAD_BAD_STATUS_LINE);
    EXPECT_HEAD_ERROR("HTTP/1.1 099 Nope\r\n\r\n", WSGID_HEAD_BAD_STATUS_LINE);
    EXPECT_HEAD_ERROR("HTTP/1.1 001 Nope\r\n\r\n", WSGID_HEAD_BAD_STATUS_LINE);
    EXPECT_HEAD_ERROR("HTTP/1.1 010 Nope\r\n\r\n", WSGID_HEAD_BAD_STATUS_LINE);
    EXPECT_HEAD_ERROR("http/1.1 200 OK\r\n\r\n", WSGID_HEAD_BAD_STATUS_LINE);
    EXPECT_HEAD_ERROR("GET / HTTP/1.1\r\n\r\n", WSGID_HEAD_BAD_STATUS_LINE);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 O\rK\r\n\r\n", WSGID_HEAD_BAD_STATUS_LINE);
    EXPECT_HEAD_ERROR("\r\n\r\n", WSGID_HEAD_BAD_STATUS_LINE);
}

static void test_head_bare_lf_is_refused(void)
{
    /* only CRLF ends a line: with a bare LF, an LF in a value would start
     * a header line of its own */
    EXPECT_HEAD_ERROR("HTTP/1.0 404 Not Found\nA: b\n\nrest",
                      WSGID_HEAD_BARE_LF);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nX: a\nInjected: 1\r\n\r\n",
                      WSGID_HEAD_BARE_LF);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nX: a\r\n\n", WSGID_HEAD_BARE_LF);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 O\nInjected: 1\r\n\r\n",
                      WSGID_HEAD_BARE_LF);
    EXPECT_HEAD_ERROR("\n", WSGID_HEAD_BARE_LF);
}

static void test_head_bad_header_name(void)
{
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
                      WSGID_HEAD_BAD_HEADER_NAME);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nBad(: x\r\n\r\n",
                      WSGID_HEAD_BAD_HEADER_NAME);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\n: x\r\n\r\n",
                      WSGID_HEAD_BAD_HEADER_NAME);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nName : x\r\n\r\n",
                      WSGID_HEAD_BAD_HEADER_NAME);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nA: 1\r\nNo-Colon\r\n\r\n",
                      WSGID_HEAD_BAD_HEADER_LINE);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n",
                      WSGID_HEAD_BAD_HEADER_LINE);
}

static void test_head_control_chars_in_value(void)
{
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
                      WSGID_HEAD_BAD_HEADER_VALUE);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n",
                      WSGID_HEAD_BAD_HEADER_VALUE);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nX: a\x01" "b\r\n\r\n",
                      WSGID_HEAD_BAD_HEADER_VALUE);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n",
                      WSGID_HEAD_BAD_HEADER_VALUE);
    /* an LF inside a value is a bare LF: never a line end */
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nX: a\nInjected\r\n\r\n",
                      WSGID_HEAD_BARE_LF);
    {
        /* a tab and latin-1 bytes are allowed */
        static const char text[] = "HTTP/1.1 200 OK\r\nX: a\tb\xe9\r\n\r\n";
        wsgid_head head;
        header_log log;

        CHECK(parse_all(text, strlen(text), &head, &log) == WSGID_HEAD_OK);
        CHECK(log.count == 1);
    }
}

static void test_head_too_large(void)
{
    static const char start[] = "HTTP/1.1 200 OK\r\nX: ";
    size_t limit = WSGID_WIRE_MAX_HEAD_SIZE;
    char *buf = malloc(limit + 16);
    wsgid_head head;
    header_log log;
    size_t n;

    /* no blank line within 64 KiB */
    memcpy(buf, start, strlen(start));
    memset(buf + strlen(start), 'a', limit + 16 - strlen(start));
    CHECK(parse_all(buf, limit - 1, &head, &log) == WSGID_HEAD_NEED_MORE);
    CHECK(parse_all(buf, limit, &head, &log) == WSGID_HEAD_TOO_LARGE);
    CHECK(parse_all(buf, limit + 16, &head, &log) == WSGID_HEAD_TOO_LARGE);

    /* a complete head of exactly 64 KiB is fine, one byte more is not */
    n = limit - 4;
    memcpy(buf + n, "\r\n\r\n", 4);
    CHECK(parse_all(buf, limit + 16, &head, &log) == WSGID_HEAD_OK);
    CHECK(head.body_offset == limit);
    memset(buf, 'a', limit + 16);
    memcpy(buf, start, strlen(start));
    memcpy(buf + n + 1, "\r\n\r\n", 4);
    CHECK(parse_all(buf, limit + 16, &head, &log) == WSGID_HEAD_TOO_LARGE);
    CHECK(log.count == 0);
    free(buf);
}

static void test_head_content_length_must_be_one_number(void)
{
    static const char good[] =
        "HTTP/1.1 200 OK\r\ncontent-length: 007\r\n\r\n";
    static const char largest[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n";
    wsgid_head head;
    header_log log;

    CHECK(parse_all(good, strlen(good), &head, &log) == WSGID_HEAD_OK);
    CHECK(log.count == 1 && strcmp(log.lines[0], "content-length=[007]") == 0);
    CHECK(parse_all(largest, strlen(largest), &head, &log) == WSGID_HEAD_OK);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                      "Content-Length: 1\r\n\r\n",
                      WSGID_HEAD_BAD_CONTENT_LENGTH);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                      "CONTENT-LENGTH: 20\r\n\r\n",
                      WSGID_HEAD_BAD_CONTENT_LENGTH);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n",
                      WSGID_HEAD_BAD_CONTENT_LENGTH);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                      WSGID_HEAD_BAD_CONTENT_LENGTH);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
                      WSGID_HEAD_BAD_CONTENT_LENGTH);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
                      WSGID_HEAD_BAD_CONTENT_LENGTH);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
                      WSGID_HEAD_BAD_CONTENT_LENGTH);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
                      WSGID_HEAD_BAD_CONTENT_LENGTH);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\n"
                      "Content-Length: 9999999999999999999\r\n\r\n",
                      WSGID_HEAD_BAD_CONTENT_LENGTH);
}

static void test_head_status_header_refused(void)
{
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nStatus: 302 Found\r\n\r\n",
                      WSGID_HEAD_STATUS_HEADER);
    EXPECT_HEAD_ERROR("HTTP/1.1 200 OK\r\nA: 1\r\nstatus: 200\r\n\r\n",
                      WSGID_HEAD_STATUS_HEADER);
    {
        /* only the exact name: X-Status is an ordinary header */
        static const char text[] = "HTTP/1.1 200 OK\r\nX-Status: 1\r\n\r\n";
        wsgid_head head;
        header_log log;

        CHECK(parse_all(text, strlen(text), &head, &log) == WSGID_HEAD_OK);
        CHECK(log.count == 1);
    }
}

static int refuse_second(void *ctx, const char *name, size_t name_len,
                         const char *value, size_t value_len)
{
    int *seen = ctx;

    (void)name; (void)name_len; (void)value; (void)value_len;
    return ++*seen == 2;
}

static void test_head_callback_can_stop(void)
{
    wsgid_head head;
    int seen = 0;

    memset(&head, 0, sizeof(head));
    CHECK(wsgid_wire_parse_head(good_head, strlen(good_head), &head,
                                refuse_second, &seen)
          == WSGID_HEAD_CALLBACK_FAILED);
    CHECK(seen == 2);
}

/* The module checks a head once without a callback, then takes its headers
 * with wsgid_wire_head_each_header: the same headers, in the same order, as
 * one parse with the callback, and the checked head left as it was. */
static void test_head_headers_after_a_check(void)
{
    wsgid_head head, before;
    header_log log;
    int seen = 0;

    memset(&head, 0, sizeof(head));
    memset(&log, 0, sizeof(log));
    CHECK(wsgid_wire_parse_head(good_head, strlen(good_head), &head, NULL,
                                NULL) == WSGID_HEAD_OK);
    before = head;
    CHECK(wsgid_wire_head_each_header(good_head, &head, collect_header, &log)
          == WSGID_HEAD_OK);
    CHECK(log.count == 4);
    CHECK(strcmp(log.lines[0], "Content-Type=[text/plain; charset=utf-8]") == 0);
    CHECK(strcmp(log.lines[2], "Set-Cookie=[b=2]") == 0);
    CHECK(strcmp(log.lines[3], "X-Empty=[]") == 0);
    CHECK(memcmp(&before, &head, sizeof(head)) == 0);
    CHECK(wsgid_wire_head_each_header(good_head, &head, refuse_second, &seen)
          == WSGID_HEAD_CALLBACK_FAILED);
    CHECK(seen == 2);
}

static void test_hop_by_hop(void)
{
    CHECK(wsgid_wire_is_hop_by_hop("Connection", 10));
    CHECK(wsgid_wire_is_hop_by_hop("transfer-encoding", 17));
    CHECK(wsgid_wire_is_hop_by_hop("TE", 2));
    CHECK(!wsgid_wire_is_hop_by_hop("Content-Type", 12));
    CHECK(!wsgid_wire_is_hop_by_hop("Connectio", 9));
}

int main(void)
{
    test_encode_golden_bytes();
    test_encode_empty_packet();
    test_encode_exactly_65535_accepted();
    test_encode_65536_refused();
    test_size_never_wraps();
    test_too_many_vars_refused();
    test_empty_key_refused();
    test_head_good();
    test_head_split_in_pieces();
    test_head_bare_lf_is_refused();
    test_head_status_without_reason();
    test_head_send_again();
    test_head_bad_status_line();
    test_head_bad_header_name();
    test_head_control_chars_in_value();
    test_head_too_large();
    test_head_content_length_must_be_one_number();
    test_head_status_header_refused();
    test_head_callback_can_stop();
    test_head_headers_after_a_check();
    test_hop_by_hop();
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
