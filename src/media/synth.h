/*
 * synth.h: short clips made from libavfilter's sources, for the demo
 * library that `make run` seeds and for anyone who needs media without a
 * camera. Each clip is an MP4 with H.264 video (libx264, fast) and an AAC
 * tone, written to a temporary name and renamed when complete.
 */
#ifndef SV_SYNTH_H
#define SV_SYNTH_H

#include <stddef.h>

typedef struct {
    const char *video; /* a libavfilter source, e.g. "testsrc2", "smptehdbars", "mandelbrot" */
    int width, height, fps;
    int seconds;
    int tone_hz; /* the sine's frequency; 0: no audio */
} synth_clip_t;

/* SV_OK, or SV_UNSUPPORTED (a filter or encoder missing from this build),
 * SV_IO, SV_NO_MEMORY with err filled. */
int synth_make_clip(const char *path, const synth_clip_t *c, char *err, size_t errlen);

#endif
