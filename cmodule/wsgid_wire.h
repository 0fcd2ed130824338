/*
 * wsgid_wire.h: the byte formats of the daemon socket (docs/protocol.md),
 * with no Apache or APR types so that it can be compiled and tested alone.
 *
 * - Encoding of a uwsgi request packet (4-byte header + vars block).  The
 *   size is computed and checked first (wsgid_wire_vars_size); encoding
 *   never wraps or truncates a size.
 * - Parsing and validation of the HTTP/1.x response head the daemon sends
 *   back.  The parser is incremental only in the sense that it can be called
 *   again with more bytes; it keeps a scan offset so that a head arriving a
 *   byte at a time costs linear time.
 */
#ifndef WSGID_WIRE_H
#define WSGID_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* The u16 datasize of the packet header cannot say more. */
#define WSGID_WIRE_MAX_VARS_SIZE 65535u
/* The daemon refuses more variables than this in one packet. */
#define WSGID_WIRE_MAX_VARS 1000u
/* modifier1, u16 datasize, modifier2 */
#define WSGID_WIRE_HEADER_SIZE 4u
/* A response head (status line, headers, blank line) may not be larger,
 * unless the caller allows more (wsgid_head.max_size). */
#define WSGID_WIRE_MAX_HEAD_SIZE 65536u

typedef struct {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
} wsgid_wire_var;

typedef enum {
    WSGID_WIRE_OK = 0,
    WSGID_WIRE_TOO_LARGE,       /* vars block over 65535 bytes */
    WSGID_WIRE_TOO_MANY_VARS,   /* more than WSGID_WIRE_MAX_VARS pairs */
    WSGID_WIRE_EMPTY_KEY        /* a key of length 0 (the daemon refuses it) */
} wsgid_wire_size_result;

/*
 * Compute the size of the vars block for n pairs.  *size receives the true
 * size, saturated at SIZE_MAX, even when the result is WSGID_WIRE_TOO_LARGE,
 * so that the caller can log it.
 */
wsgid_wire_size_result wsgid_wire_vars_size(const wsgid_wire_var *vars,
                                            size_t n, size_t *size);

/*
 * Write the packet header and the vars block into buf, which must hold
 * WSGID_WIRE_HEADER_SIZE + vars_size bytes, where vars_size is what
 * wsgid_wire_vars_size returned with WSGID_WIRE_OK for the same pairs.
 * Returns the number of bytes written.
 */
size_t wsgid_wire_encode(const wsgid_wire_var *vars, size_t n,
                         size_t vars_size, unsigned char *buf);

typedef enum {
    WSGID_HEAD_OK = 0,
    WSGID_HEAD_NEED_MORE,         /* no blank line yet: read more and call again */
    WSGID_HEAD_TOO_LARGE,         /* over WSGID_WIRE_MAX_HEAD_SIZE */
    WSGID_HEAD_BAD_STATUS_LINE,   /* not "HTTP/1.x NNN reason" */
    WSGID_HEAD_BAD_HEADER_LINE,   /* no colon, or a folded (continuation) line */
    WSGID_HEAD_BAD_HEADER_NAME,   /* name is not an RFC 7230 token */
    WSGID_HEAD_BAD_HEADER_VALUE,  /* CR, LF, NUL or another control char */
    WSGID_HEAD_CALLBACK_FAILED,   /* the header callback returned non-zero */
    WSGID_HEAD_BAD_CONTENT_LENGTH, /* not 1 to 18 digits, or a second one */
    WSGID_HEAD_STATUS_HEADER,     /* a Status header: a second status */
    WSGID_HEAD_BARE_LF            /* a line ends in LF without CR */
} wsgid_head_result;

/* Called once per header line, in order, only after the whole head has
 * been validated.  Name and value are not NUL-terminated; the value has
 * its surrounding spaces and tabs removed.  Non-zero stops the parse. */
typedef int (*wsgid_head_header_fn)(void *ctx,
                                    const char *name, size_t name_len,
                                    const char *value, size_t value_len);

typedef struct {
    /* in: the largest head accepted; 0 means WSGID_WIRE_MAX_HEAD_SIZE */
    size_t max_size;
    /* in/out: where the search for the blank line continues; start at 0 */
    size_t scanned;
    /* out, with WSGID_HEAD_OK; 0 for the status line "000", the daemon's
     * "send the request again" (wsgid_replay.h) */
    int status;
    int http_minor;
    const char *reason;     /* points into the buffer */
    size_t reason_len;
    size_t body_offset;     /* first byte after the blank line */
    /* out, with an error: offset of the offending line in the buffer */
    size_t error_offset;
} wsgid_head;

/*
 * Parse the response head at the start of buf[0..len).  Every line ends in
 * CRLF: a bare LF is an error, not a line end, because a daemon that let an
 * application's LF through would otherwise inject a header line.  Call
 * again with the same buf (grown) and the same head after
 * WSGID_HEAD_NEED_MORE.
 *
 * Besides the syntax, two headers that would make the response mean two
 * things are refused: a Content-Length that is not plain digits or comes
 * twice (a client and a cache could frame the body differently), and a
 * Status header (CGI-style front ends take it for the status; the status
 * line already gave one).
 */
wsgid_head_result wsgid_wire_parse_head(const char *buf, size_t len,
                                        wsgid_head *head,
                                        wsgid_head_header_fn on_header,
                                        void *ctx);

/* The headers of a head that wsgid_wire_parse_head found valid (OK) in the
 * same, unchanged buf, to on_header in order: what a second parse with a
 * callback gives, for half its cost.  OK, or WSGID_HEAD_CALLBACK_FAILED. */
wsgid_head_result wsgid_wire_head_each_header(const char *buf,
                                              const wsgid_head *checked,
                                              wsgid_head_header_fn on_header,
                                              void *ctx);

/* A short English phrase for a result, for log lines. */
const char *wsgid_wire_head_result_text(wsgid_head_result result);

/* 1 if name (case-insensitive) is an HTTP/1.1 hop-by-hop header that a
 * proxy must not forward. */
int wsgid_wire_is_hop_by_hop(const char *name, size_t name_len);

#endif /* WSGID_WIRE_H */
