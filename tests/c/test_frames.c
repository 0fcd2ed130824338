/*
 * test_frames.c: unit tests of cmodule/wsgid_frames.c, the reader of framed
 * response bodies.  Built and run by tests/unit/test_cwire.py.
 *
 * Prints one line per failed check and exits non-zero when any failed.
 */
#include <stdio.h>
#include <string.h>

#include "wsgid_frames.h"

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

typedef struct {
    char body[256];
    size_t len;
    size_t stop_after;   /* 0: never ask to stop */
} collected;

static int collect(void *ctx, const char *data, size_t len)
{
    collected *c = ctx;

    memcpy(c->body + c->len, data, len);
    c->len += len;
    return c->stop_after && c->len >= c->stop_after;
}

/* "abc" and "de" in two frames, then the end frame */
static const char STREAM[] = "\0\0\0\3abc\0\0\0\2de\0\0\0\0";
#define STREAM_LEN (sizeof(STREAM) - 1)

static void test_whole_stream(void)
{
    wsgid_frames f;
    collected c = { {0}, 0, 0 };
    size_t used = 0;

    wsgid_frames_init(&f);
    CHECK(wsgid_frames_feed(&f, STREAM, STREAM_LEN, collect, &c, &used)
          == WSGID_FRAMES_ENDED);
    CHECK(used == STREAM_LEN);
    CHECK(c.len == 5 && memcmp(c.body, "abcde", 5) == 0);
}

static void test_every_split_gives_the_same_body(void)
{
    size_t split;

    for (split = 0; split <= STREAM_LEN; split++) {
        wsgid_frames f;
        collected c = { {0}, 0, 0 };
        size_t used = 0;

        wsgid_frames_init(&f);
        CHECK(wsgid_frames_feed(&f, STREAM, split, collect, &c, &used)
              == (split == STREAM_LEN ? WSGID_FRAMES_ENDED : WSGID_FRAMES_MORE));
        CHECK(used == split);
        if (split < STREAM_LEN) {
            CHECK(wsgid_frames_feed(&f, STREAM + split, STREAM_LEN - split,
                                    collect, &c, &used) == WSGID_FRAMES_ENDED);
        }
        CHECK(c.len == 5 && memcmp(c.body, "abcde", 5) == 0);
    }
}

static void test_one_byte_at_a_time(void)
{
    wsgid_frames f;
    collected c = { {0}, 0, 0 };
    size_t i, used;
    wsgid_frames_result last = WSGID_FRAMES_MORE;

    wsgid_frames_init(&f);
    for (i = 0; i < STREAM_LEN; i++) {
        last = wsgid_frames_feed(&f, STREAM + i, 1, collect, &c, &used);
        CHECK(used == 1);
        CHECK(last == (i == STREAM_LEN - 1 ? WSGID_FRAMES_ENDED
                                             : WSGID_FRAMES_MORE));
    }
    CHECK(c.len == 5 && memcmp(c.body, "abcde", 5) == 0);
}

static void test_a_close_before_the_end_frame_is_not_an_end(void)
{
    wsgid_frames f;
    collected c = { {0}, 0, 0 };
    size_t used;

    wsgid_frames_init(&f);
    /* the second frame announces 2 bytes, 1 comes */
    CHECK(wsgid_frames_feed(&f, STREAM, 12, collect, &c, &used)
          == WSGID_FRAMES_MORE);
    CHECK(!f.ended && f.left == 1);
    CHECK(c.len == 4);
}

static void test_bytes_after_the_end_frame_are_not_used(void)
{
    char stream[STREAM_LEN + 3];
    wsgid_frames f;
    collected c = { {0}, 0, 0 };
    size_t used;

    memcpy(stream, STREAM, STREAM_LEN);
    memcpy(stream + STREAM_LEN, "XYZ", 3);
    wsgid_frames_init(&f);
    CHECK(wsgid_frames_feed(&f, stream, sizeof(stream), collect, &c, &used)
          == WSGID_FRAMES_ENDED);
    CHECK(used == STREAM_LEN);
    CHECK(c.len == 5);
}

static void test_the_callback_can_stop_the_reading(void)
{
    wsgid_frames f;
    collected c = { {0}, 0, 3 };
    size_t used;

    wsgid_frames_init(&f);
    CHECK(wsgid_frames_feed(&f, STREAM, STREAM_LEN, collect, &c, &used)
          == WSGID_FRAMES_STOPPED);
    CHECK(used == 7);
}

static void test_the_largest_frame_length_is_read_whole(void)
{
    static const char big[] = "\xff\xff\xff\xffxy";
    wsgid_frames f;
    collected c = { {0}, 0, 0 };
    size_t used;

    wsgid_frames_init(&f);
    CHECK(wsgid_frames_feed(&f, big, 6, collect, &c, &used)
          == WSGID_FRAMES_MORE);
    CHECK(f.left == 0xFFFFFFFFu - 2);
    CHECK(c.len == 2);
}

int main(void)
{
    test_whole_stream();
    test_every_split_gives_the_same_body();
    test_one_byte_at_a_time();
    test_a_close_before_the_end_frame_is_not_an_end();
    test_bytes_after_the_end_frame_are_not_used();
    test_the_callback_can_stop_the_reading();
    test_the_largest_frame_length_is_read_whole();
    printf("%d checks, %d failed\n", checks, failures);
    return failures != 0;
}
