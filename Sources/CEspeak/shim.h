#include <dlfcn.h>
#include <stddef.h>
#include <espeak-ng/speak_lib.h>

// libespeak-ng is loaded on first use (dlopen), not linked: the daemon then maps it, and the
// ~20 libraries it needs (PulseAudio, X11, libsndfile and its codecs), only once the fallback
// voice speaks. The calls go through this table, filled by voiced_espeak_load.
typedef struct {
    int (*initialize)(espeak_AUDIO_OUTPUT, int, const char *, int);
    void (*set_synth_callback)(t_espeak_callback *);
    espeak_ERROR (*set_voice_by_name)(const char *);
    espeak_ERROR (*set_parameter)(espeak_PARAMETER, int, int);
    espeak_ERROR (*synth)(const void *, size_t, unsigned int, espeak_POSITION_TYPE, unsigned int, unsigned int,
                          unsigned int *, void *);
} voiced_espeak_api;

// The library's soname (Debian's libespeak-ng1).
#define VOICED_ESPEAK_LIBRARY "libespeak-ng.so.1"

// Loads libespeak-ng and fills `api`. Returns NULL, or why it failed (dlerror's message).
static inline const char *voiced_espeak_load(voiced_espeak_api *api) {
    void *handle = dlopen(VOICED_ESPEAK_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) return dlerror();
    api->initialize = (int (*)(espeak_AUDIO_OUTPUT, int, const char *, int))dlsym(handle, "espeak_Initialize");
    api->set_synth_callback = (void (*)(t_espeak_callback *))dlsym(handle, "espeak_SetSynthCallback");
    api->set_voice_by_name = (espeak_ERROR (*)(const char *))dlsym(handle, "espeak_SetVoiceByName");
    api->set_parameter = (espeak_ERROR (*)(espeak_PARAMETER, int, int))dlsym(handle, "espeak_SetParameter");
    api->synth = (espeak_ERROR (*)(const void *, size_t, unsigned int, espeak_POSITION_TYPE, unsigned int, unsigned int,
                                   unsigned int *, void *))dlsym(handle, "espeak_Synth");
    if (!api->initialize || !api->set_synth_callback || !api->set_voice_by_name || !api->set_parameter || !api->synth) {
        return VOICED_ESPEAK_LIBRARY " lacks an espeak_ function voiced calls (an incompatible version)";
    }
    return NULL;
}

static inline int voiced_espeak_initialize(const voiced_espeak_api *api, espeak_AUDIO_OUTPUT output, int buflength,
                                           const char *path, int options) {
    return api->initialize(output, buflength, path, options);
}

static inline void voiced_espeak_set_synth_callback(const voiced_espeak_api *api, t_espeak_callback *callback) {
    api->set_synth_callback(callback);
}

static inline espeak_ERROR voiced_espeak_set_voice_by_name(const voiced_espeak_api *api, const char *name) {
    return api->set_voice_by_name(name);
}

static inline espeak_ERROR voiced_espeak_set_parameter(const voiced_espeak_api *api, espeak_PARAMETER parameter,
                                                       int value, int relative) {
    return api->set_parameter(parameter, value, relative);
}

static inline espeak_ERROR voiced_espeak_synth(const voiced_espeak_api *api, const void *text, size_t size,
                                               unsigned int position, espeak_POSITION_TYPE position_type,
                                               unsigned int end_position, unsigned int flags) {
    return api->synth(text, size, position, position_type, end_position, flags, NULL, NULL);
}
