/*
 * wsgid_frames.c: reading a framed response body (see wsgid_frames.h).
 */
#include <string.h>

#include "wsgid_frames.h"

void wsgid_frames_init(wsgid_frames *f)
{
    memset(f, 0, sizeof(*f));
}

wsgid_frames_result wsgid_frames_feed(wsgid_frames *f, const char *data,
                                      size_t len, wsgid_frames_body_fn fn,
                                      void *ctx, size_t *used)
{
    size_t pos = 0;

    while (pos < len && !f->ended) {
        if (f->left == 0) {
            /* a frame header, maybe split across reads */
            size_t take = sizeof(f->header) - f->header_have;

            if (take > len - pos) {
                take = len - pos;
            }
            memcpy(f->header + f->header_have, data + pos, take);
            f->header_have += take;
            pos += take;
            if (f->header_have < sizeof(f->header)) {
                break;
            }
            f->header_have = 0;
            f->left = ((uint32_t)f->header[0] << 24)
                      | ((uint32_t)f->header[1] << 16)
                      | ((uint32_t)f->header[2] << 8) | f->header[3];
            if (f->left == 0) {
                f->ended = 1;
            }
        }
        else {
            size_t take = f->left < len - pos ? f->left : len - pos;

            f->left -= (uint32_t)take;
            pos += take;
            if (fn(ctx, data + pos - take, take)) {
                *used = pos;
                return WSGID_FRAMES_STOPPED;
            }
        }
    }
    *used = pos;
    return f->ended ? WSGID_FRAMES_ENDED : WSGID_FRAMES_MORE;
}
