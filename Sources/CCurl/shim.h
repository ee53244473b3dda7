#include <curl/curl.h>
#include "voiced_http.h"
