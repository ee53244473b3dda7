// Records what voiced plays, from the other end of the snd-aloop cable, and ties samples to
// wall-clock time: the system test's measurement of edge-to-silence (check 2). arecord cannot
// do this: under an emulated CPU it loses periods to overruns, and a file's length then no
// longer says when a sample was played.
//   record DEVICE OUT.raw ANCHORS.log SECONDS
// OUT.raw: 16 kHz mono S16_LE. ANCHORS.log: "REALTIME FRAMES" lines: the sample with index
// FRAMES (counted in OUT.raw) was captured at REALTIME (seconds), from snd_pcm_delay after each
// read. Overruns are recovered and logged ("overrun REALTIME FRAMES"); the anchors stay exact.
// Built on the host by scripts/system-test.sh (links the image's libasound2).
#include <alsa/asoundlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: record DEVICE OUT.raw ANCHORS.log SECONDS\n");
        return 64;
    }
    snd_pcm_t *pcm;
    int err = snd_pcm_open(&pcm, argv[1], SND_PCM_STREAM_CAPTURE, 0);
    if (err < 0) { fprintf(stderr, "record: %s: %s\n", argv[1], snd_strerror(err)); return 1; }
    err = snd_pcm_set_params(pcm, SND_PCM_FORMAT_S16_LE, SND_PCM_ACCESS_RW_INTERLEAVED, 1, 16000, 1, 500000);
    if (err < 0) { fprintf(stderr, "record: set_params: %s\n", snd_strerror(err)); return 1; }
    FILE *out = fopen(argv[2], "wb"), *anchors = fopen(argv[3], "w");
    if (!out || !anchors) { perror("record: fopen"); return 1; }
    setvbuf(anchors, NULL, _IOLBF, 0);
    double end = now() + atof(argv[4]);
    short buf[800];                                  // 50 ms
    long long frames = 0;
    while (now() < end) {
        snd_pcm_sframes_t n = snd_pcm_readi(pcm, buf, 800);
        if (n == -EPIPE || n == -ESTRPIPE) {
            fprintf(anchors, "overrun %.6f %lld\n", now(), frames);
            snd_pcm_prepare(pcm);
            continue;
        }
        if (n == -EIO || n == -EBADFD) {
            // snd-aloop stops the capture end (or lets a read time out) while nothing plays
            // into the cable with the same format: start again; the anchors keep the timing.
            fprintf(anchors, "restart %.6f %lld %s\n", now(), frames, snd_strerror((int)n));
            snd_pcm_drop(pcm);
            snd_pcm_prepare(pcm);
            struct timespec pause = {0, 20 * 1000 * 1000};
            nanosleep(&pause, NULL);
            continue;
        }
        if (n < 0) { fprintf(stderr, "record: read: %s\n", snd_strerror((int)n)); return 1; }
        double t = now();
        snd_pcm_sframes_t delay = 0;
        if (snd_pcm_delay(pcm, &delay) < 0) delay = 0;
        fwrite(buf, 2, (size_t)n, out);
        frames += n;
        // The last sample read was captured `delay` frames before the newest one, which is now.
        fprintf(anchors, "%.6f %lld\n", t - delay / 16000.0, frames - 1);
        fflush(out);
    }
    fclose(out);
    fclose(anchors);
    snd_pcm_close(pcm);
    return 0;
}
