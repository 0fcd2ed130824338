/*
 * wsgid_frames.h: reading a framed response body (docs/protocol.md, "Framed
 * response bodies").  mod_wsgid asks for frames (wsgid.framed_response=1);
 * a daemon then sends a body whose head has no Content-Length as frames: a
 * 4-byte big-endian length N >= 1 and N bytes, ended by a frame of length
 * 0.  A connection that closes before the end frame is a cut-off response,
 * which the close alone could not tell from an end.
 *
 * Pure C with no Apache types, so that it is unit-tested and fuzzed alone.
 */
#ifndef WSGID_FRAMES_H
#define WSGID_FRAMES_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    unsigned char header[4];
    unsigned header_have;      /* bytes of the next frame header read */
    uint32_t left;             /* bytes of the current frame still to come */
    int ended;                 /* the end frame was read */
} wsgid_frames;

/* Called with each run of body bytes; non-zero stops the reading. */
typedef int (*wsgid_frames_body_fn)(void *ctx, const char *data, size_t len);

typedef enum {
    WSGID_FRAMES_MORE = 0,     /* all bytes used; the body goes on */
    WSGID_FRAMES_ENDED,        /* the end frame was read */
    WSGID_FRAMES_STOPPED       /* fn asked to stop */
} wsgid_frames_result;

void wsgid_frames_init(wsgid_frames *f);

/* Read len bytes of the framed stream.  *used is set to how many were
 * taken; after ENDED, any bytes past *used are not part of the body. */
wsgid_frames_result wsgid_frames_feed(wsgid_frames *f, const char *data,
                                      size_t len, wsgid_frames_body_fn fn,
                                      void *ctx, size_t *used);

#endif
